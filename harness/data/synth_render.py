"""Drawing for the synthetic dataset: textured backgrounds and textured moving blobs (numpy only).

Everything is a pure function of its arguments (no global random state), so generation is
reproducible byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Sprite:
    """A textured blob and its trajectory.

    ``obj_id`` 0 marks an untracked object (a distractor or occluder): it is drawn and hides what is
    behind it, but the ground truth shows background there. Trajectory arrays are ``(T,)``:
    centre ``cx, cy`` (pixels), ``scale``, rotation ``angle`` (radians), ``present`` (drawn at all).
    """

    obj_id: int
    rx: float
    ry: float
    lobes: int
    lobe_amp: float
    lobe_phase: float
    color_a: np.ndarray  # (3,) float32 0..255
    color_b: np.ndarray  # (3,) float32
    stripe_freq: float  # radians per pixel (object frame, unscaled)
    stripe_angle: float
    checker: bool
    cx: np.ndarray
    cy: np.ndarray
    scale: np.ndarray
    angle: np.ndarray
    present: np.ndarray
    z: int = 0

    def radius(self, t: int) -> float:
        return max(self.rx, self.ry) * (1.0 + self.lobe_amp) * float(self.scale[t]) + 1.0


def _upsample(small: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear upsampling of ``(h0, w0, C)`` to ``(h, w, C)`` with numpy only."""
    h0, w0 = small.shape[:2]
    ys = np.linspace(0, h0 - 1, h, dtype=np.float32)
    xs = np.linspace(0, w0 - 1, w, dtype=np.float32)
    y0 = np.minimum(ys.astype(np.int64), h0 - 2)
    x0 = np.minimum(xs.astype(np.int64), w0 - 2)
    fy = (ys - y0)[:, None, None]
    fx = (xs - x0)[None, :, None]
    a = small[y0][:, x0]
    b = small[y0][:, x0 + 1]
    c = small[y0 + 1][:, x0]
    d = small[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured ``(h, w, 3) float32`` background: base colour, gratings and smooth clutter."""
    base = rng.uniform(40, 200, size=3).astype(np.float32)
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    img = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    for _ in range(3):
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(6, 40)
        amp = rng.uniform(8, 30)
        weights = rng.uniform(-1, 1, size=3).astype(np.float32)
        wave = np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * (2 * np.pi / period) + rng.uniform(0, 6.3))
        img += amp * wave[:, :, None].astype(np.float32) * weights
    cells = rng.uniform(-45, 45, size=(max(2, h // 12), max(2, w // 12), 3)).astype(np.float32)
    img += _upsample(cells, h, w)
    return img


def draw_sprite(frame: np.ndarray, labels: np.ndarray, s: Sprite, t: int) -> tuple[int, int, int]:
    """Draw sprite ``s`` at time ``t`` onto ``frame`` ``(H, W, 3) float32`` and ``labels`` ``(H, W)``.

    Returns ``(in_frame_area, bbox_area, touches_border)`` of the sprite's own (unoccluded) mask,
    clipped to the frame.
    """
    if not s.present[t]:
        return 0, 0, 0
    h, w = labels.shape
    cx, cy, sc = float(s.cx[t]), float(s.cy[t]), float(s.scale[t])
    r = s.radius(t)
    x0, x1 = max(0, int(np.floor(cx - r))), min(w, int(np.ceil(cx + r)) + 1)
    y0, y1 = max(0, int(np.floor(cy - r))), min(h, int(np.ceil(cy + r)) + 1)
    if x0 >= x1 or y0 >= y1:
        return 0, 0, 0
    dy = (np.arange(y0, y1, dtype=np.float32) - cy)[:, None]
    dx = (np.arange(x0, x1, dtype=np.float32) - cx)[None, :]
    ca, sa = np.cos(s.angle[t]), np.sin(s.angle[t])
    u = (dx * ca + dy * sa) / sc
    v = (-dx * sa + dy * ca) / sc
    un, vn = u / s.rx, v / s.ry
    rho = np.sqrt(un * un + vn * vn)
    phi = np.arctan2(vn, un)
    mask = rho < 1.0 + s.lobe_amp * np.sin(s.lobes * phi + s.lobe_phase)
    area = int(mask.sum())
    if area == 0:
        return 0, 0, 0
    along = u * np.cos(s.stripe_angle) + v * np.sin(s.stripe_angle)
    pattern = np.sin(along * s.stripe_freq) > 0
    if s.checker:
        across = -u * np.sin(s.stripe_angle) + v * np.cos(s.stripe_angle)
        pattern ^= np.sin(across * s.stripe_freq) > 0
    shade = (1.1 - 0.35 * np.minimum(rho, 1.0) ** 2)[:, :, None]
    color = np.where(pattern[:, :, None], s.color_a, s.color_b) * shade
    region = frame[y0:y1, x0:x1]
    region[mask] = color[mask]
    labels[y0:y1, x0:x1][mask] = s.obj_id
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    bbox = int((rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1))
    touches = int(y0 + rows[0] == 0 or x0 + cols[0] == 0 or y0 + rows[-1] == h - 1 or x0 + cols[-1] == w - 1)
    return area, bbox, touches


def bounce(p0: float, v: float, t: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Positions ``p0 + v t`` reflected into ``[lo, hi]`` (an object bouncing off the frame walls)."""
    span = max(hi - lo, 1e-6)
    x = np.mod(p0 - lo + v * t, 2 * span)
    return lo + np.where(x > span, 2 * span - x, x)


def low_light(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Night / underwater look: dark, blue-green tint, sensor noise."""
    out = frame * np.float32(0.32) + np.array([0, 6, 16], np.float32)
    out += rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(7.0)
    return out

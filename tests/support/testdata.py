"""Deterministic GT + corrupted-prediction sets for checking scorers (tests and benchmarks).

Test support, not part of the installed package.

Masks only (no JPEGs): ``out/Annotations/<video>/<frame>.png``, ``out/pred/<video>/<frame>.png`` and
``out/meta.json`` (MOSE form). Objects are moving ellipses or boxes of very different sizes
(a 2x2-pixel object up to large ones), with absence intervals (also at the start), and the
predictions are corrupted per object: shifted, grown / shrunk, dropped frames, false positives while
the object is absent, salt noise. Everything derives from ``seed`` (numpy PCG64), so a test can
regenerate exactly the set an official tool was run on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.data.masks import write_label_png


@dataclass(frozen=True)
class CaseSpec:
    """One generated set. ``sizes``: ``(H, W)`` per video; ``frames``: number of frames per video."""

    sizes: tuple[tuple[int, int], ...]
    frames: tuple[int, ...]
    seed: int
    max_objects: int = 3

    def to_json(self) -> dict:
        return {"sizes": [list(s) for s in self.sizes], "frames": list(self.frames), "seed": self.seed,
                "max_objects": self.max_objects}

    @classmethod
    def from_json(cls, d: dict) -> CaseSpec:
        return cls(tuple(tuple(s) for s in d["sizes"]), tuple(d["frames"]), d["seed"], d["max_objects"])


def _shape(h: int, w: int, cy: float, cx: float, ry: float, rx: float, ellipse: bool) -> np.ndarray:
    y0, y1 = max(int(cy - ry), 0), min(int(cy + ry) + 1, h)
    x0, x1 = max(int(cx - rx), 0), min(int(cx + rx) + 1, w)
    m = np.zeros((h, w), dtype=bool)
    if y0 >= y1 or x0 >= x1:
        return m
    if ellipse:
        yy, xx = np.ogrid[y0:y1, x0:x1]
        m[y0:y1, x0:x1] = ((yy - cy) / max(ry, 0.5)) ** 2 + ((xx - cx) / max(rx, 0.5)) ** 2 <= 1.0
    else:
        m[y0:y1, x0:x1] = True
    return m


def _absence(rng: np.random.Generator, t: int) -> np.ndarray:
    absent = np.zeros(t, dtype=bool)
    kind = rng.integers(0, 4)
    if kind == 1 and t > 4:                        # absent at the start of the scored frames
        absent[1: rng.integers(2, max(3, t // 2))] = True
    elif kind == 2 and t > 6:                      # repeated disappearance
        for _ in range(rng.integers(2, 4)):
            a = rng.integers(1, t - 1)
            absent[a: a + rng.integers(1, max(2, t // 5))] = True
    elif kind == 3 and t > 4:                      # gone until the end
        absent[rng.integers(t // 2, t - 1):] = True
    return absent


def generate_case(out: str | Path, spec: CaseSpec) -> Path:
    """Write the set described by ``spec`` under ``out`` and return ``out``."""
    out = Path(out)
    rng = np.random.default_rng(spec.seed)
    videos: dict[str, dict] = {}
    for vi, ((h, w), t) in enumerate(zip(spec.sizes, spec.frames)):
        name = f"v{vi:03d}"
        n_obj = int(rng.integers(1, spec.max_objects + 1))
        objs = []
        for _ in range(n_obj):
            kind = rng.integers(0, 4)              # 0 tiny, 1 small, 2 medium, 3 large
            if kind == 0:
                ry = rx = 0.5 if rng.random() < 0.5 else float(rng.uniform(1, 3))
            elif kind == 1:
                ry, rx = rng.uniform(3, 10, 2)
            elif kind == 2:
                ry, rx = rng.uniform(0.05, 0.15, 2) * (h, w)
            else:
                ry, rx = rng.uniform(0.2, 0.45, 2) * (h, w)
            objs.append({
                "c": rng.uniform(0, 1, 2) * (h, w), "v": rng.normal(0, 0.02, 2) * (h, w), "r": (ry, rx),
                "ellipse": bool(rng.random() < 0.7), "absent": _absence(rng, t),
                "shift": rng.integers(-4, 5, 2) * (rng.random() < 0.7), "scale": float(rng.uniform(0.7, 1.3))
                if rng.random() < 0.6 else float(rng.uniform(0.95, 1.05)),
                "drop": rng.random(t) < rng.uniform(0, 0.3), "fp": bool(rng.random() < 0.5),
                "noise": float(rng.uniform(0, 0.002)) if rng.random() < 0.3 else 0.0,
            })
        for f in range(t):
            gt = np.zeros((h, w), dtype=np.uint8)
            pred = np.zeros((h, w), dtype=np.uint8)
            for oid, o in enumerate(objs, start=1):
                cy, cx = (o["c"] + f * o["v"]) % (h, w)
                ry, rx = o["r"]
                if not o["absent"][f]:
                    gt[_shape(h, w, cy, cx, ry, rx, o["ellipse"])] = oid
                    if not o["drop"][f]:
                        s = o["scale"]
                        pred[_shape(h, w, cy + o["shift"][0], cx + o["shift"][1], ry * s, rx * s, o["ellipse"])] = oid
                elif o["fp"]:                       # false positive while the object is absent
                    pred[_shape(h, w, cy, cx, ry * 0.8, rx * 0.8, o["ellipse"])] = oid
                if o["noise"]:
                    pred[rng.random((h, w)) < o["noise"]] = oid
            write_label_png(out / "Annotations" / name / f"{f:05d}.png", gt)
            write_label_png(out / "pred" / name / f"{f:05d}.png", pred)
        videos[name] = {"length": t, "height": h, "width": w,
                        "objects": {str(i): {"category": "synthetic"} for i in range(1, n_obj + 1)}}
    (out / "meta.json").write_text(json.dumps({"videos": videos}, indent=1))
    return out


@dataclass(frozen=True)
class HeavySpec:
    """A boundary-heavy set: few, large objects with notched outlines and noisy predictions.

    ``sizes``: ``(H, W)`` per video; ``frames``: frames per video; objects have a radius of
    ``max_radius * min(H, W)`` at most (a quarter of the frame by default).
    """

    sizes: tuple[tuple[int, int], ...]
    frames: tuple[int, ...]
    seed: int
    max_objects: int = 3
    max_radius: float = 0.25

    def to_json(self) -> dict:
        return {"sizes": [list(s) for s in self.sizes], "frames": list(self.frames), "seed": self.seed,
                "max_objects": self.max_objects, "max_radius": self.max_radius}

    @classmethod
    def from_json(cls, d: dict) -> HeavySpec:
        return cls(tuple(tuple(s) for s in d["sizes"]), tuple(d["frames"]), d["seed"], d["max_objects"],
                   d["max_radius"])


_VERTICES = 720


def _outline(angles: np.ndarray, radius: float, notches: np.ndarray, turn: float) -> np.ndarray:
    """Radius per angle ``(V,)``: a circle with rectangular notches (rows ``(angle, half width, depth)``)."""
    r = np.full(angles.shape, radius)
    for a, half, depth in notches:
        d = np.abs((angles - a - turn + np.pi) % (2 * np.pi) - np.pi)
        r[d < half] -= depth * radius
    return r


def _polygon(h: int, w: int, cy: float, cx: float, r: np.ndarray, angles: np.ndarray) -> np.ndarray:
    import cv2

    pts = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)
    m = np.zeros((h, w), dtype=np.uint8)
    cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
    return m.astype(bool)


def generate_heavy(out: str | Path, spec: HeavySpec) -> Path:
    """Write a boundary-heavy set (same layout as :func:`generate_case`) under ``out``; returns ``out``.

    Each object is a disk of radius up to ``spec.max_radius * min(H, W)`` with 6-16 rectangular notches
    that turn from frame to frame; the prediction is the same outline shifted and scaled, with
    per-vertex radial noise of a few pixels (a jagged outline), salt noise inside its box on some
    objects, dropped frames and absences. Boundary matching, not counting, dominates scoring it.
    """
    out = Path(out)
    rng = np.random.default_rng(spec.seed)
    angles = np.linspace(0, 2 * np.pi, _VERTICES, endpoint=False)
    videos: dict[str, dict] = {}
    for vi, ((h, w), t) in enumerate(zip(spec.sizes, spec.frames)):
        name = f"h{vi:03d}"
        n_obj = int(rng.integers(1, spec.max_objects + 1))
        objs = []
        for _ in range(n_obj):
            n_notch = int(rng.integers(6, 17))
            objs.append({
                # a back-and-forth path that keeps the object in the frame however long the video
                "c": rng.uniform(0.3, 0.7, 2) * (h, w), "amp": rng.uniform(0, 0.1, 2) * (h, w),
                "omega": rng.uniform(0.03, 0.15, 2), "phase": rng.uniform(0, 2 * np.pi, 2),
                "r": float(rng.uniform(0.4, 1.0) * spec.max_radius * min(h, w)),
                "notches": np.stack([rng.uniform(0, 2 * np.pi, n_notch), rng.uniform(0.02, 0.12, n_notch),
                                     rng.uniform(0.08, 0.35, n_notch)], axis=1),
                "spin": float(rng.normal(0, 0.03)), "absent": _absence(rng, t),
                "shift": rng.integers(-3, 4, 2), "scale": float(rng.uniform(0.96, 1.04)),
                "jitter": float(rng.uniform(0.5, 3.0)), "drop": rng.random(t) < 0.05,
                "salt": float(rng.uniform(0.0005, 0.003)) if rng.random() < 0.5 else 0.0,
            })
        for f in range(t):
            gt = np.zeros((h, w), dtype=np.uint8)
            pred = np.zeros((h, w), dtype=np.uint8)
            for oid, o in enumerate(objs, start=1):
                if o["absent"][f]:
                    continue
                cy, cx = o["c"] + o["amp"] * np.sin(o["omega"] * f + o["phase"])
                r = _outline(angles, o["r"], o["notches"], f * o["spin"])
                gt[_polygon(h, w, cy, cx, r, angles)] = oid
                if o["drop"][f]:
                    continue
                noisy = r * o["scale"] + rng.uniform(-o["jitter"], o["jitter"], r.shape)
                pm = _polygon(h, w, cy + o["shift"][0], cx + o["shift"][1], noisy, angles)
                if o["salt"]:
                    y0, y1 = (int(np.clip(v, 0, h)) for v in (cy - o["r"], cy + o["r"]))
                    x0, x1 = (int(np.clip(v, 0, w)) for v in (cx - o["r"], cx + o["r"]))
                    pm[y0:y1, x0:x1] ^= rng.random((y1 - y0, x1 - x0)) < o["salt"]
                pred[pm] = oid
            write_label_png(out / "Annotations" / name / f"{f:05d}.png", gt)
            write_label_png(out / "pred" / name / f"{f:05d}.png", pred)
        videos[name] = {"length": t, "height": h, "width": w,
                        "objects": {str(i): {"category": "synthetic"} for i in range(1, n_obj + 1)}}
    (out / "meta.json").write_text(json.dumps({"videos": videos}, indent=1))
    return out


def add_void_band(root: str | Path) -> None:
    """Mark a 4-row band of every GT frame under ``root/Annotations`` as void (255), as DAVIS does."""
    from harness.data.masks import read_label_png

    for png in sorted(Path(root, "Annotations").glob("*/*.png")):
        a = read_label_png(png).copy()
        a[a.shape[0] // 3: a.shape[0] // 3 + 4, :] = 255
        write_label_png(png, a)


def sparsify(root: str | Path, every: int) -> None:
    """Keep every ``every``-th GT frame of a generated case (predictions stay dense) and fix the meta
    lengths, as MOSEv2's sparsely annotated videos are. Used by the golden maker and its test alike,
    so both score the very same inputs."""
    root = Path(root)
    meta = json.loads((root / "meta.json").read_text())
    for vid, entry in meta["videos"].items():
        for png in sorted((root / "Annotations" / vid).glob("*.png")):
            if int(png.stem) % every:
                png.unlink()
        entry["length"] = len(list((root / "Annotations" / vid).glob("*.png")))
    (root / "meta.json").write_text(json.dumps(meta, indent=1))

"""A synthetic MOSE-like dataset that exercises the paper's TABLE 3 attributes.

``generate(out, videos=N, frames=T, size=(H, W), seed=S)`` writes the MOSE layout::

    OUT/JPEGImages/<video>/<frame>.jpg    every frame (JPEG quality 90, 4:2:0)
    OUT/Annotations/<video>/<frame>.png   palette PNGs on annotated frames (every K-th + the last)
    OUT/meta.json                         {"videos": {v: {"length": #GT frames, "height", "width", "objects"}}}
    OUT/attributes.json                   {"videos": {v: {obj_id: [codes]}}, "definitions", "generator"}

Each video has a textured, slowly panning background and textured blobs. Besides one plain
object (which grows: SV), every video gets five of six object *roles* in rotation, so any three
consecutive videos cover all of them: ``fast`` (FM), ``leaver`` (slides out of view and back: OV,
DR), ``hidden`` (a big untracked occluder passes in front: OCC, DR), ``crowd`` (three same-looking
untracked clones close by: CRO), ``small`` (low-contrast and tiny: DV), ``late`` (first appears
mid-video). Video ``i % 3 == 1`` has a shot cut (MS: new background, positions mirrored through the
frame centre), video ``i % 3 == 2`` is dark and noisy (CE). An object that happens to be hidden on
every annotated frame is left out of the meta. ``long_frames=L`` adds one more video of ``L`` frames (LD
when ``L > 300``). The codes in attributes.json are *measured* on the rendered ground truth with the
TABLE 3 definitions (e.g. FM: mean centroid motion > 20 px), except CRO/MS/CE, which are by design.

Reproducible byte for byte per seed: one ``numpy`` generator per video seeded ``(seed, index)``,
single-threaded rendering, fixed JPEG/PNG encoder settings, sorted-key JSON. The output folder
appears atomically (built under a temp name and renamed); rerunning with the same parameters on an
existing output returns it untouched.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np

from harness.data.masks import encode_label_png
from harness.data.meta import dump_meta_json
from harness.data.synth_render import Sprite, background, bounce, draw_sprite, low_light
from harness.errors import DataError

DEFINITIONS = {
    "CE": "Complex Environment: low light with sensor noise (night / underwater look)",
    "CRO": "Crowding: several same-looking objects in close proximity",
    "DR": "Disappearance-Reappearance: visible, then absent on annotated frames, then visible again",
    "DV": "Diverse Visibility: small (median visible area < 1% of the frame) and low-contrast",
    "FM": "Fast Motion: mean per-frame centroid motion > 20 pixels",
    "LD": "Long Duration: more than 300 frames",
    "MS": "Multi-Shots: a shot cut with a new background and a jump in every object's position",
    "OCC": "Occlusion: at least 10% of the object hidden by another object on some frame",
    "OV": "Out-of-view: the object leaves the frame completely",
    "SV": "Scale Variation: bounding-box areas of two frames differ by more than 2x",
}
ROLES = ("fast", "leaver", "hidden", "crowd", "small", "late")
JPEG_QUALITY = 90
GENERATOR_VERSION = 1


def _palette_colors(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    a = rng.uniform(30, 255, size=3).astype(np.float32)
    b = (255 - a) * rng.uniform(0.5, 1.0)
    return a, b.astype(np.float32)


def _sprite(rng: np.random.Generator, obj_id: int, r: float, cx: np.ndarray, cy: np.ndarray, T: int, *,
            scale: np.ndarray | None = None, present: np.ndarray | None = None, colors=None, z: int = 0,
            like: Sprite | None = None) -> Sprite:
    t = np.arange(T, dtype=np.float32)
    if like is not None:  # a same-looking clone (crowd distractor)
        return Sprite(obj_id, like.rx, like.ry, like.lobes, like.lobe_amp, like.lobe_phase, like.color_a,
                      like.color_b, like.stripe_freq, like.stripe_angle, like.checker, cx, cy, like.scale,
                      like.angle + rng.uniform(-0.3, 0.3), np.ones(T, bool) if present is None else present, z)
    ca, cb = colors if colors is not None else _palette_colors(rng)
    spin = rng.uniform(-0.08, 0.08)
    return Sprite(
        obj_id=obj_id, rx=r * rng.uniform(0.8, 1.2), ry=r * rng.uniform(0.6, 1.0), lobes=int(rng.integers(2, 6)),
        lobe_amp=float(rng.uniform(0.0, 0.25)), lobe_phase=float(rng.uniform(0, 6.3)), color_a=ca, color_b=cb,
        stripe_freq=float(rng.uniform(0.6, 1.4)) * 6.0 / max(r, 3.0) * 2, stripe_angle=float(rng.uniform(0, 3.1)),
        checker=bool(rng.integers(0, 2)), cx=cx.astype(np.float32), cy=cy.astype(np.float32),
        scale=np.ones(T, np.float32) if scale is None else scale.astype(np.float32),
        angle=(rng.uniform(0, 6.3) + spin * t).astype(np.float32),
        present=np.ones(T, bool) if present is None else present, z=z,
    )


def _plan(rng: np.random.Generator, index: int, T: int, H: int, W: int, K: int) -> tuple[list[Sprite], int | None, bool]:
    """Sprites (draw order = list order sorted by z) of one video, its cut frame (MS) and CE flag."""
    m = float(min(H, W))
    t = np.arange(T, dtype=np.float32)
    r0 = m * 0.11
    roles = [ROLES[(index + j) % len(ROLES)] for j in range(5)]
    cut = T // 2 if index % 3 == 1 and T >= 4 else None
    dark = index % 3 == 2

    def walk(r: float, speed: float) -> tuple[np.ndarray, np.ndarray]:
        ang = rng.uniform(0, 2 * np.pi)
        cx = bounce(rng.uniform(r, W - r), speed * np.cos(ang), t, r, W - r)
        cy = bounce(rng.uniform(r, H - r), speed * np.sin(ang), t, r, H - r)
        return cx, cy

    sprites: list[Sprite] = []
    # Plain object that grows 0.7x -> 1.7x (SV), visible on frame 0 so the first frame is never empty.
    scale = np.exp(np.linspace(np.log(0.7), np.log(1.7), T)).astype(np.float32)
    sprites.append(_sprite(rng, 1, r0, *walk(r0 * 2.6, m * 0.01), T, scale=scale, z=5))
    next_id = 2
    for role in roles:
        oid = next_id
        next_id += 1
        if role == "fast":
            speed = max(28.0, m * 0.25)
            cx, cy = walk(r0 * 0.8, speed)
            sprites.append(_sprite(rng, oid, r0 * 0.8, cx, cy, T, z=3))
        elif role == "leaver":
            # Slides out over the right edge at ~30% of the video, is gone, comes back at ~70%.
            y = rng.uniform(r0, H - r0)
            inside, outside = W * rng.uniform(0.5, 0.7), W + 2.5 * r0
            keys_t = [0, 0.25 * T, 0.35 * T, 0.6 * T, 0.72 * T, T]
            keys_x = [inside, inside + 0.1 * W, outside, outside, inside, inside - 0.1 * W]
            cx = np.interp(t, keys_t, keys_x)
            cy = y + 0.05 * m * np.sin(t * 0.3)
            sprites.append(_sprite(rng, oid, r0 * 0.9, cx, cy, T, z=2))
        elif role == "hidden":
            # A slow target, and a big untracked occluder crossing in front of it mid-video.
            tx, ty = rng.uniform(1.5 * r0, W - 1.5 * r0), rng.uniform(1.5 * r0, H - 1.5 * r0)
            cx = tx + 0.03 * m * np.sin(t * 0.2)
            cy = ty + 0.03 * m * np.cos(t * 0.2)
            sprites.append(_sprite(rng, oid, r0 * 0.7, cx, cy, T, z=2))
            big = r0 * 2.4
            ox = np.interp(t, [0, 0.3 * T, 0.45 * T, 0.55 * T, 0.7 * T, T],
                           [tx - 2.2 * W, tx - 2 * big, tx, tx, tx + 2 * big, tx + 2.2 * W])
            occ = _sprite(rng, 0, big, ox, cy, T, z=9)
            sprites.append(dataclasses.replace(occ, lobe_amp=0.0, rx=big, ry=big))  # a plain disc
        elif role == "crowd":
            r = r0 * 0.75
            cx, cy = walk(r * 3.5, m * 0.015)
            target = _sprite(rng, oid, r, cx, cy, T, z=2)
            sprites.append(target)
            for k in range(3):
                a = 2 * np.pi * k / 3 + rng.uniform(0, 1)
                d = r * rng.uniform(2.3, 3.0)
                ccx = cx + d * np.cos(a + 0.05 * t)
                ccy = cy + d * np.sin(a + 0.05 * t)
                sprites.append(_sprite(rng, 0, r, ccx, ccy, T, like=target, z=2))
        elif role == "small":
            r = max(2.0, np.sqrt(0.004 * H * W / np.pi))
            cx, cy = walk(r * 2, m * 0.01)
            bg_like = rng.uniform(60, 180, size=3).astype(np.float32)
            sprites.append(_sprite(rng, oid, r, cx, cy, T, colors=(bg_like, bg_like * 0.8), z=1))
        elif role == "late":
            # Appears on an annotated frame mid-video (objects added after the first frame).
            t_in = max(K, int(round(0.35 * T / K)) * K)
            present = t >= min(t_in, T - 1)
            sprites.append(_sprite(rng, oid, r0 * 0.8, *walk(r0, m * 0.02), T, present=present, z=4))
    if cut is not None:
        # New shot from the opposite side: positions mirror through the frame centre, so every
        # off-centre object jumps while in-view / out-of-view and occluder geometry are kept.
        for s in sprites:
            s.cx[cut:] = (W - 1) - s.cx[cut:]
            s.cy[cut:] = (H - 1) - s.cy[cut:]
    return sorted(sprites, key=lambda s: s.z), cut, dark


def _annotated(T: int, K: int) -> list[int]:
    idx = list(range(0, T, K))
    if idx[-1] != T - 1:
        idx.append(T - 1)
    return idx


def _measure(stats: dict[int, np.ndarray], annotated: list[int], H: int, W: int, T: int,
             cut: int | None, dark: bool, crowd_ids: set[int]) -> dict[int, list[str]]:
    """TABLE 3 codes per object from the rendered masks (see the module docstring)."""
    out: dict[int, list[str]] = {}
    for oid, st in stats.items():
        vis, frame_area, bbox, touch, sy, sx = st
        codes: set[str] = set()
        on = vis[annotated] > 0
        seen = np.flatnonzero(on)
        if seen.size and not on[seen[0]:seen[-1] + 1].all():
            codes.add("DR")
        moving = (vis[:-1] > 0) & (vis[1:] > 0)
        if moving.any():
            cy, cx = sy / np.maximum(vis, 1), sx / np.maximum(vis, 1)
            d = np.hypot(np.diff(cy), np.diff(cx))
            if cut is not None:
                moving[cut - 1] = False  # a shot cut is not motion
            if moving.any() and d[moving].mean() > 20.0:
                codes.add("FM")
        inside = (frame_area > 0) & (touch == 0)
        if inside.sum() >= 2 and bbox[inside].max() > 2.0 * bbox[inside].min():
            codes.add("SV")
        if np.any((frame_area > 0) & (vis < 0.9 * frame_area)):
            codes.add("OCC")
        first = np.flatnonzero(frame_area > 0)
        # Tracked sprites stay present once they appeared, so no pixel in the frame = out of view.
        if first.size and np.any(frame_area[first[0]:] == 0):
            codes.add("OV")
        if vis[vis > 0].size and np.median(vis[vis > 0]) < 0.01 * H * W:
            codes.add("DV")
        if oid in crowd_ids:
            codes.add("CRO")
        if cut is not None:
            codes.add("MS")
        if dark:
            codes.add("CE")
        if T > 300:
            codes.add("LD")
        out[oid] = sorted(codes)
    return out


def _render_video(root: Path, name: str, rng: np.random.Generator, index: int, T: int, H: int, W: int,
                  K: int) -> tuple[dict, dict[int, list[str]]]:
    from PIL import Image

    sprites, cut, dark = _plan(rng, index, T, H, W, K)
    tracked = sorted({s.obj_id for s in sprites if s.obj_id})
    crowd_ids = {s.obj_id for s in sprites if s.obj_id and any(o.obj_id == 0 and o.color_a is s.color_a
                                                               for o in sprites)}
    pad = int(0.1 * min(H, W)) + 1
    shots = [background(rng, H + 2 * pad, W + 2 * pad)]
    if cut is not None:
        shots.append(background(rng, H + 2 * pad, W + 2 * pad))
    pan = rng.uniform(-1, 1, size=2)
    annotated = _annotated(T, K)
    is_ann = np.zeros(T, bool)
    is_ann[annotated] = True
    stats = {oid: np.zeros((6, T), np.float64) for oid in tracked}
    yy, xx = np.mgrid[0:H, 0:W]
    yy, xx = yy.ravel().astype(np.float64), xx.ravel().astype(np.float64)
    (root / "JPEGImages" / name).mkdir(parents=True)
    (root / "Annotations" / name).mkdir(parents=True)
    for t in range(T):
        shot = 1 if cut is not None and t >= cut else 0
        frac = t / max(T - 1, 1)
        oy = int(round(pad + pad * pan[0] * (frac - 0.5) * 1.8))
        ox = int(round(pad + pad * pan[1] * (frac - 0.5) * 1.8))
        frame = shots[shot][oy:oy + H, ox:ox + W].copy()
        labels = np.zeros((H, W), np.uint8)
        for s in sprites:
            area, bbox, touch = draw_sprite(frame, labels, s, t)
            if s.obj_id:
                stats[s.obj_id][1:4, t] = (area, bbox, touch)
        counts = np.bincount(labels.ravel(), minlength=256)
        sy = np.bincount(labels.ravel(), weights=yy, minlength=256)
        sx = np.bincount(labels.ravel(), weights=xx, minlength=256)
        for oid in tracked:
            stats[oid][0, t], stats[oid][4, t], stats[oid][5, t] = counts[oid], sy[oid], sx[oid]
        if dark:
            frame = low_light(frame, rng)
        rgb = np.clip(frame, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=2, optimize=False)
        (root / "JPEGImages" / name / f"{t:05d}.jpg").write_bytes(buf.getvalue())
        if is_ann[t]:
            (root / "Annotations" / name / f"{t:05d}.png").write_bytes(encode_label_png(labels))
    # An object hidden on every annotated frame (e.g. a small one behind others) has no ground truth:
    # it is left out of the meta (its pixels are background in every PNG anyway).
    tracked = [oid for oid in tracked if (stats[oid][0, annotated] > 0).any()]
    attrs = _measure({oid: stats[oid] for oid in tracked}, annotated, H, W, T, cut, dark, crowd_ids)
    shapes = {s.obj_id: ("star" if s.lobe_amp > 0.12 else "blob") for s in sprites if s.obj_id}
    meta = {"length": len(annotated), "height": H, "width": W,
            "objects": {str(oid): {"category": shapes[oid]} for oid in tracked}}
    return meta, attrs


def _params(videos: int, frames: int, size: tuple[int, int], seed: int, annotate_every: int,
            long_frames: int | None) -> dict:
    return {"version": GENERATOR_VERSION, "videos": videos, "frames": frames, "size": list(size),
            "seed": seed, "annotate_every": annotate_every, "long_frames": long_frames}


def generate(out: str | os.PathLike, *, videos: int, frames: int, size: tuple[int, int] = (240, 320),
             seed: int = 0, annotate_every: int = 1, long_frames: int | None = None) -> Path:
    """Write a synthetic MOSE-layout dataset to ``out`` and return its path.

    Args:
        videos: number of regular videos (``synth000`` ...), each ``frames`` long.
        size: ``(height, width)``.
        annotate_every: ground truth on frames ``0, K, 2K, ...`` and the last frame.
        long_frames: also write ``synthlong`` with this many frames (LD when > 300).

    Raises:
        DataError: bad parameters, or ``out`` exists and is not this very synthetic set.
    """
    H, W = (int(v) for v in size)
    if videos < 0 or frames < 2 or H < 32 or W < 32 or annotate_every < 1:
        raise DataError(f"synth needs videos >= 0, frames >= 2, size >= 32x32, annotate_every >= 1 "
                        f"(got videos={videos}, frames={frames}, size={H}x{W}, annotate_every={annotate_every})")
    if seed < 0:
        raise DataError(f"synth seed must be >= 0 (numpy seeds are non-negative), got {seed}")
    if long_frames is not None and long_frames < 2:
        raise DataError(f"synth long_frames must be >= 2, got {long_frames}")
    if videos == 0 and long_frames is None:
        raise DataError("synth: nothing to generate (videos=0 and no long_frames)")
    out = Path(out)
    params = _params(videos, frames, (H, W), seed, annotate_every, long_frames)
    if out.exists() and not out.is_dir():
        raise DataError(f"synth output {out} is a file; choose a folder path that does not exist yet")
    if out.exists() and any(out.iterdir()):
        try:
            existing = json.loads((out / "attributes.json").read_text())["generator"]
        except (OSError, ValueError, KeyError, TypeError):
            existing = None
        if existing == params:
            return out
        raise DataError(f"{out} already exists and is not a synthetic set with these parameters; "
                        "remove it or choose another output folder")
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    except OSError as exc:
        base = out.parent
        while not base.exists() and base != base.parent:
            base = base.parent
        why = f"{base} is a file, not a folder" if base.exists() and not base.is_dir() else (
            f"{exc.strerror or exc}: {exc.filename or tmp}")
        raise DataError(f"cannot write the synthetic set to {out} ({why}); choose a writable output folder") from None
    try:
        jobs = [(f"synth{i:03d}", i, frames) for i in range(videos)]
        if long_frames is not None:
            jobs.append(("synthlong", 10**6, long_frames))
        meta, attrs = {}, {}
        for name, index, T in jobs:
            rng = np.random.default_rng([seed, index])
            meta[name], a = _render_video(tmp, name, rng, index, T, H, W, annotate_every)
            attrs[name] = {str(k): v for k, v in a.items()}
        (tmp / "meta.json").write_bytes(dump_meta_json({"videos": meta}))
        (tmp / "attributes.json").write_bytes(dump_meta_json(
            {"videos": attrs, "definitions": DEFINITIONS, "generator": params}))
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out

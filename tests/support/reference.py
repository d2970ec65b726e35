"""A plain, literal full-frame MOSE scorer: the yardstick for tests and ``benchmarks/bench_scoring.py``.

It follows the official algorithm step by step: every (video, object) re-reads its GT and
prediction PNGs, builds full-frame binary masks, computes full-frame boundary maps and dilates them
with ``cv2.dilate``. It shares no per-frame code with :mod:`harness.metrics.frame` (only the disk),
so agreement between the two is a real check. Slow by design; do not use it for scoring.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from harness.metrics.boundary import disk


def _bmap(seg: np.ndarray) -> np.ndarray:
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def _f(fg: np.ndarray, gt: np.ndarray, radius: float) -> float:
    import cv2

    fb, gb = _bmap(fg), _bmap(gt)
    k = disk(radius)
    fg_match = np.sum(fb * cv2.dilate(gb, k))
    gt_match = np.sum(gb * cv2.dilate(fb, k))
    n_fg, n_gt = np.sum(fb), np.sum(gb)
    if n_fg == 0 and n_gt == 0:
        return 1.0
    if n_fg == 0 or n_gt == 0:
        return 0.0
    p, r = fg_match / float(n_fg), gt_match / float(n_gt)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _read(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("P"))


def reference_object(gt_dir: str, pred_dir: str, frames: list[str], obj: int) -> tuple[float, ...] | None:
    """``(J, F_hat, F, J_d, F_hat_d, J_r, F_hat_r)`` of one object (fractions; None = no clip)."""
    j_l, f_l, fh_l, empty = [], [], [], []
    for name in frames:
        g = (_read(os.path.join(gt_dir, name + ".png")) == obj).astype(np.uint8)
        p = (_read(os.path.join(pred_dir, name + ".png")) == obj).astype(np.uint8)
        inter, union = np.sum(g & p), np.sum(g | p)
        j_l.append(1.0 if union == 0 else min(1.0, (inter + 1) / (union + 1)))
        d = math.sqrt(g.shape[0] ** 2 + g.shape[1] ** 2)
        a = np.sum(g)
        w = math.ceil(0.1 * math.sqrt(a)) if a > 0 else math.ceil(0.1 * d)
        w = min(0.008 * d, w)
        if w < 0.008 * d:
            f_l.append(_f(p, g, math.ceil(0.008 * d)))
            fh_l.append(_f(p, g, w))
        else:
            f_l.append(_f(p, g, 0.008 * d))
            fh_l.append(f_l[-1])
        empty.append(a == 0)
    if not j_l:
        return (0.0, 0.0, 0.0, None, None, None, None)
    j, fh, e = np.array(j_l), np.array(fh_l), np.array(empty)
    dis = list(np.where(~e[:-1] & e[1:])[0] + 1)
    rep = list(np.where(e[:-1] & ~e[1:])[0] + 1)
    d_clips = [(s, next((r for r in rep if r > s), len(e))) for s in dis]
    r_clips = [(s, next((x for x in dis if x > s), len(e))) for s in rep]

    def clip(v: np.ndarray, clips: list) -> float | None:
        return float(np.mean([v[a:b].mean() for a, b in clips])) if clips else None

    return (float(j.mean()), float(fh.mean()), float(np.mean(f_l)), clip(j, d_clips), clip(fh, d_clips),
            clip(j, r_clips), clip(fh, r_clips))


def _task(args: tuple[str, str, list[str], int]) -> tuple[float, ...]:
    return reference_object(*args)


def reference_score(meta: dict, gt_root: str | Path, pred_root: str | Path, jobs: int = 1) -> dict[str, tuple]:
    """Per-object reference values ``{"<video>_<obj>": (J, F_hat, F, J_d, F_hat_d, J_r, F_hat_r)}``.

    ``meta``: the parsed ``meta.json`` dict (MOSE form); frames = GT frames 1..L-2 by sorted name.
    """
    tasks, keys = [], []
    for vid in sorted(meta["videos"]):
        names = sorted(n[:-4] for n in os.listdir(os.path.join(gt_root, vid)) if n.endswith(".png"))
        for obj in meta["videos"][vid]["objects"]:
            tasks.append((os.path.join(gt_root, vid), os.path.join(pred_root, vid), names[1:-1], int(obj)))
            keys.append(f"{vid}_{obj}")
    if jobs == 1:
        results = [_task(t) for t in tasks]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=jobs or os.cpu_count()) as ex:
            results = list(ex.map(_task, tasks))
    return dict(zip(keys, results))

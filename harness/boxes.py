"""Boxes and masks: the one conversion every part of mosebench uses.

Boxes are ``(x, y, w, h)`` in pixels, pixel-inclusive for boxes of masks (``w = x1 - x0 + 1``), as in
:mod:`harness.api`.
"""

from __future__ import annotations

import numpy as np

from harness.api import Box


def box_of_mask(mask: np.ndarray) -> Box | None:
    """Tightest pixel-inclusive ``(x, y, w, h)`` of an ``(H, W)`` mask, or ``None`` if it is empty."""
    m = np.asarray(mask).astype(bool, copy=False)
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(m[rows[0]: rows[-1] + 1].any(axis=0))
    return (float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1))


def mask_of_box(box: Box | None, shape: tuple[int, int]) -> np.ndarray:
    """The filled box as an ``(H, W) bool`` mask (empty for ``None``), rounded and clipped to the frame."""
    out = np.zeros(shape, dtype=bool)
    if box is None:
        return out
    x, y, w, h = box
    x0, y0 = max(int(round(x)), 0), max(int(round(y)), 0)
    x1, y1 = min(int(round(x + w)), shape[1]), min(int(round(y + h)), shape[0])
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = True
    return out

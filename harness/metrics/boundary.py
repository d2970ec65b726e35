"""Boundary maps, disk structuring elements and the boundary F-measure (DAVIS / MOSE conventions).

Facts carried over from the official tools (davis2017-evaluation ``metrics.py``, MOSE-api
``metricsv2.py``):

* ``seg2bmap``: a pixel is boundary where it differs from its east, south or south-east
  neighbour; in the last row only the east neighbour counts, in the last column only the south
  one, and the bottom-right pixel is never boundary.
* Precision / recall: boundary pixels of one mask that fall inside the other boundary dilated by a
  disk of radius ``r`` (no bipartite matching). Both boundaries empty -> F = 1; exactly one empty ->
  F = 0.
* The disk is ``skimage.morphology.disk(r)``: ``L = arange(-r, r + 1)``, ``X**2 + Y**2 <= r**2``.
  For a non-integer ``r`` the grid is *not* centred on 0, and OpenCV anchors the kernel at
  ``(k // 2, k // 2)``, so the effective neighbourhood is slightly shifted. We reproduce this.

Everything here works on a crop around the object (``window_bmaps``) and gives exactly the
full-frame result: masks are zero outside their boxes, so the only thing a crop can change is the
special last-row / last-column rule, which :func:`window_bmaps` applies only at the real frame edge.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def _disk_cached(radius: float) -> np.ndarray:
    grid = np.arange(-radius, radius + 1)  # the same float grid skimage builds, shift included
    x, y = np.meshgrid(grid, grid)
    out = ((x**2 + y**2) <= radius**2).astype(np.uint8)
    out.setflags(write=False)
    return out


def disk(radius: float) -> np.ndarray:
    """Disk structuring element, ``(k, k) uint8`` with ``k = len(arange(-r, r + 1))``.

    Identical to ``skimage.morphology.disk(radius)`` (default ``strict_radius=True``), including
    non-integer radii such as ``0.008 * diagonal``.
    """
    return _disk_cached(float(radius))


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """One-pixel boundary map of a binary mask, ``(H, W) bool`` -> ``(H, W) bool``.

    A pixel is boundary where it differs from its E, S or SE neighbour (last row: E only; last
    column: S only; bottom-right corner: never).
    """
    seg = np.asarray(seg, dtype=bool)
    h, w = seg.shape
    b = np.zeros((h, w), dtype=bool)
    if h == 0 or w == 0:
        return b
    core = seg[:-1, :-1]
    b[:-1, :-1] = (core ^ seg[:-1, 1:]) | (core ^ seg[1:, :-1]) | (core ^ seg[1:, 1:])
    b[-1, :-1] = seg[-1, :-1] ^ seg[-1, 1:]
    b[:-1, -1] = seg[:-1, -1] ^ seg[1:, -1]
    b[-1, -1] = False
    return b


def window_bmaps(masks: tuple[np.ndarray, ...], at_bottom: bool, at_right: bool) -> tuple[np.ndarray, ...]:
    """Boundary maps of crops of masks that are zero outside the crop (except at the frame edge).

    Args:
        masks: ``(h, w) bool`` crops taken from full frames; every pixel of the full masks outside
            the crop must be 0 *below and right of it* unless the crop touches that frame edge.
        at_bottom / at_right: whether the crop's last row / column is the frame's last row / column.

    Returns:
        the boundary maps the full-frame :func:`seg2bmap` gives inside the crop.
    """
    out = []
    for m in masks:
        if at_bottom and at_right:
            out.append(seg2bmap(m))
            continue
        # pad with the zero neighbours the full frame has; the padded row/col itself is trimmed
        pad = np.zeros((m.shape[0] + (not at_bottom), m.shape[1] + (not at_right)), dtype=bool)
        pad[: m.shape[0], : m.shape[1]] = m
        out.append(seg2bmap(pad)[: m.shape[0], : m.shape[1]])
    return tuple(out)


def dilate(bmap: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``cv2.dilate(bmap, kernel)`` (anchor at the kernel centre ``k // 2``, outside = 0) as bool."""
    import cv2

    return cv2.dilate(bmap.view(np.uint8), kernel).view(bool)


def f_from_bmaps(pred_b: np.ndarray, gt_b: np.ndarray, radius: float) -> float:
    """Boundary F-measure of two boundary maps of the same shape with a disk of ``radius``."""
    n_fg = int(np.count_nonzero(pred_b))
    n_gt = int(np.count_nonzero(gt_b))
    if n_fg == 0 and n_gt == 0:
        return 1.0
    if n_fg == 0 or n_gt == 0:
        return 0.0
    kernel = disk(radius)
    fg_match = int(np.count_nonzero(pred_b & dilate(gt_b, kernel)))
    gt_match = int(np.count_nonzero(gt_b & dilate(pred_b, kernel)))
    precision = fg_match / float(n_fg)
    recall = gt_match / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def boundary_f(pred: np.ndarray, gt: np.ndarray, radius: float) -> float:
    """Full-frame boundary F of binary masks ``(H, W)`` with a disk of ``radius`` pixels."""
    return f_from_bmaps(seg2bmap(pred), seg2bmap(gt), radius)

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

Callers work on a crop around the object and get exactly the full-frame result: masks are zero
outside their boxes, so a crop that keeps one extra (zero) row and column wherever the frame
continues sees the same neighbours, and the last-row / last-column rule fires only at the real
frame edge. Boundary matching never dilates: for each boundary pixel of one mask it asks, with box
sums of the other boundary's integral image, whether the disk (as a few rectangles) shifted to that
pixel contains a boundary pixel, which is exactly what ``cv2.dilate(other, disk)`` would say there.
"""

from __future__ import annotations

from dataclasses import dataclass
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


_K2 = np.ones((2, 2), dtype=np.uint8)


def seg2bmap_fast(seg: np.ndarray) -> np.ndarray:
    """:func:`seg2bmap` via OpenCV as ``(H, W) uint8`` 0/1: max - min over the 2x2 block
    {p, E, S, SE} (anchor top-left).

    OpenCV's morphology ignores pixels outside the image, which gives exactly the last-row (E only),
    last-column (S only) and corner (never) rules.
    """
    import cv2

    u8 = np.ascontiguousarray(seg, dtype=bool).view(np.uint8)
    return cv2.subtract(cv2.dilate(u8, _K2, anchor=(0, 0)), cv2.erode(u8, _K2, anchor=(0, 0)))


def dilate(bmap: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``cv2.dilate(bmap, kernel)`` (anchor at the kernel centre ``k // 2``, outside = 0) as bool."""
    import cv2

    return cv2.dilate(np.ascontiguousarray(bmap).view(np.uint8), kernel).view(bool)


@lru_cache(maxsize=64)
def disk_rects(radius: float) -> np.ndarray:
    """The disk's kernel offsets as rectangles ``(n, 4) int64`` rows ``(dy0, dy1, dx0, dx1)`` (inclusive).

    Offsets are relative to OpenCV's anchor ``k // 2``: ``cv2.dilate(src, disk(r))`` is 1 at ``p`` iff
    ``src`` has a 1 inside one of these rectangles shifted to ``p``. Each kernel row is one run; equal
    consecutive runs are merged.
    """
    k = disk(radius)
    a = k.shape[0] // 2
    rects: list[list[int]] = []
    for i in range(k.shape[0]):
        nz = np.flatnonzero(k[i])
        if nz.size == 0:
            continue
        dx0, dx1 = int(nz[0]) - a, int(nz[-1]) - a
        if rects and rects[-1][1] == i - a - 1 and rects[-1][2:] == [dx0, dx1]:
            rects[-1][1] = i - a
        else:
            rects.append([i - a, i - a, dx0, dx1])
    if not rects:
        # a radius so small that no grid point falls inside (e.g. r = 0.51 on a 40x50 frame): OpenCV then
        # uses the kernel's top-left element alone (preprocess2DKernel forces one point at (0, 0))
        rects.append([-a, -a, -a, -a])
    out = np.array(rects, dtype=np.int64).reshape(-1, 4)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class _Plan:
    """A disk as rectangle queries: ``first`` = (bounding box, largest rectangle), then the rest."""

    first: np.ndarray
    rest: np.ndarray


@lru_cache(maxsize=64)
def _plan(radius: float) -> _Plan:
    rects = disk_rects(radius)
    outer = np.array([[rects[:, 0].min(), rects[:, 1].max(), rects[:, 2].min(), rects[:, 3].max()]])
    areas = (rects[:, 1] - rects[:, 0] + 1) * (rects[:, 3] - rects[:, 2] + 1)
    big = int(np.argmax(areas))
    return _Plan(np.concatenate([outer, rects[big: big + 1]]), np.delete(rects, big, axis=0))


@dataclass(frozen=True)
class _Bmap:
    """A boundary map prepared for coverage queries: its pixel coordinates and integral image."""

    ys: np.ndarray
    xs: np.ndarray
    integral: np.ndarray  # of the map cropped to its points' box, whose top-left is (oy, ox)
    oy: int = 0
    ox: int = 0

    @property
    def n(self) -> int:
        return int(self.ys.size)


def _prepare(bmap: np.ndarray) -> _Bmap:
    import cv2

    # OpenCV must see a contiguous buffer: a strided view would be read as if it were contiguous
    u8 = np.ascontiguousarray(bmap)
    u8 = u8.view(np.uint8) if u8.dtype == bool else u8
    pts = cv2.findNonZero(u8)
    if pts is None:
        empty = np.empty(0, dtype=np.int64)
        return _Bmap(empty, empty, np.empty((0, 0), dtype=np.int32))
    pts = pts.reshape(-1, 2).astype(np.int64)
    ys, xs = pts[:, 1], pts[:, 0]
    oy, ox = int(ys[0]), int(xs.min())  # findNonZero returns row-major order
    box = np.ascontiguousarray(u8[oy: int(ys[-1]) + 1, ox: int(xs.max()) + 1])
    return _Bmap(ys, xs, cv2.integral(box), oy, ox)


def _box_sums(src: _Bmap, ys: np.ndarray, xs: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """``(m, n)``: number of ``src`` pixels in each of the ``n`` rectangles shifted to each point."""
    integ = src.integral
    h, w = integ.shape[0] - 1, integ.shape[1] - 1
    ys, xs = (ys - src.oy)[:, None], (xs - src.ox)[:, None]

    def clip(a: np.ndarray, hi: int) -> np.ndarray:
        return np.minimum(np.maximum(a, 0, out=a), hi, out=a)

    y0 = clip(ys + rects[:, 0], h)
    y1 = clip(ys + (rects[:, 1] + 1), h)
    x0 = clip(xs + rects[:, 2], w)
    x1 = clip(xs + (rects[:, 3] + 1), w)
    return integ[y1, x1] - integ[y0, x1] - integ[y1, x0] + integ[y0, x0]


def _covered(src: _Bmap, tgt: _Bmap, plan: _Plan) -> int:
    """Number of ``tgt`` pixels where ``cv2.dilate(src, disk)`` is 1 (the disk given as a plan).

    Exact. Cheap tests first: nothing in the disk's bounding box -> miss; a pixel in the disk's
    largest rectangle -> hit; only the points left are tested against every rectangle.
    """
    sums = _box_sums(src, tgt.ys, tgt.xs, plan.first)
    hit = sums[:, 1] > 0
    n = int(np.count_nonzero(hit))
    if plan.rest.size:
        open_ = (sums[:, 0] > 0) & ~hit
        if open_.any():
            rest = _box_sums(src, tgt.ys[open_], tgt.xs[open_], plan.rest)
            n += int(np.count_nonzero((rest > 0).any(axis=1)))
    return n


def f_measures(pred_b: np.ndarray, gt_b: np.ndarray, radii: tuple[float, ...]) -> tuple[float, ...]:
    """Boundary F-measure of two boundary maps (same shape; bool or 0/1 uint8) for each radius.

    Equal to matching with ``cv2.dilate(·, disk(r))`` but evaluated only at boundary pixels.
    """
    pb, gb = _prepare(pred_b), _prepare(gt_b)
    n_fg, n_gt = pb.n, gb.n
    if n_fg == 0 and n_gt == 0:
        return (1.0,) * len(radii)
    if n_fg == 0 or n_gt == 0:
        return (0.0,) * len(radii)
    out = []
    for r in radii:
        plan = _plan(float(r))
        precision = _covered(gb, pb, plan) / float(n_fg)
        recall = _covered(pb, gb, plan) / float(n_gt)
        out.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return tuple(out)


def f_from_bmaps(pred_b: np.ndarray, gt_b: np.ndarray, radius: float) -> float:
    """Boundary F-measure of two boundary maps of the same shape with a disk of ``radius``."""
    return f_measures(pred_b, gt_b, (radius,))[0]


def boundary_f(pred: np.ndarray, gt: np.ndarray, radius: float) -> float:
    """Full-frame boundary F of binary masks ``(H, W)`` with a disk of ``radius`` pixels."""
    return f_from_bmaps(seg2bmap(pred), seg2bmap(gt), radius)

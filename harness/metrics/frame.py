"""Per-frame scores of every object of one frame: pure functions of label arrays.

Each label map is decoded once per frame for all objects, and all pixel work of an object (counts,
boundaries, boundary matching) happens inside the union box of its GT and predicted masks (plus one
pixel around it), which gives exactly the full-frame numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.metrics.boundary import f_measures, seg2bmap_fast
from harness.metrics.region import diagonal, jaccard_davis, jaccard_mose

PROTOCOLS = ("mose", "davis")


@dataclass(frozen=True)
class FrameScore:
    """One object in one frame. ``F_hat`` is ``None`` under ``protocol="davis"``."""

    J: float
    F: float
    F_hat: float | None


@dataclass(frozen=True)
class FrameMeasures:
    """All objects of one frame, arrays of shape ``(K,)`` in ``obj_ids`` order (boxes ``(K, 4)``).

    ``gt_box`` / ``pred_box``: pixel-inclusive ``x, y, w, h``, NaN where the mask is empty.
    ``gt_cx`` / ``gt_cy``: GT mask centroid, NaN where empty.
    """

    J: np.ndarray
    F: np.ndarray
    F_hat: np.ndarray
    gt_area: np.ndarray
    pred_area: np.ndarray
    gt_box: np.ndarray
    pred_box: np.ndarray
    gt_cx: np.ndarray
    gt_cy: np.ndarray


def check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        from harness.errors import ConfigError

        raise ConfigError(f"unknown scoring protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")


def boundary_radii(gt_area: int, height: int, width: int) -> tuple[float, float]:
    """MOSE-api disk radii ``(r_F, r_F_hat)`` for an object of ``gt_area`` pixels.

    ``w = ceil(0.1 * sqrt(A))`` (``ceil(0.1 * D)`` if ``A == 0``), ``w = min(0.008 * D, w)``; if
    ``w < 0.008 * D``: F uses ``ceil(0.008 * D)`` and F̂ uses ``w``; otherwise both use the
    *unrounded* ``0.008 * D``.
    """
    d = diagonal(height, width)
    base = 0.008 * d
    w = math.ceil(0.1 * math.sqrt(gt_area)) if gt_area > 0 else math.ceil(0.1 * d)
    w = min(base, float(w))
    if w < base:
        return float(math.ceil(base)), w
    return base, base


def _bbox(m: np.ndarray) -> tuple[slice, slice] | None:
    """Bounding box of a mask (bool or uint8, nonzero = in) as slices, or None when it is empty.

    Row sums by OpenCV, then a column max over the rows in between only: about half the cost of
    numpy's ``any`` along both axes on a 720p frame.
    """
    import cv2

    u8 = m.view(np.uint8) if m.dtype == bool else m
    rows = np.flatnonzero(cv2.reduce(u8, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(u8[rows[0]: rows[-1] + 1].max(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _shift(sl: tuple[slice, slice] | None, y0: int, x0: int) -> tuple[slice, slice] | None:
    if sl is None:
        return None
    return slice(sl[0].start + y0, sl[0].stop + y0), slice(sl[1].start + x0, sl[1].stop + x0)


def _profile(m: np.ndarray, y0: int, x0: int) -> tuple[int, tuple[float, ...], np.ndarray, np.ndarray]:
    """``(area, box x/y/w/h in the frame or NaNs, (w,) column counts, (h,) row counts)`` of a window mask
    ``(h, w) bool`` whose top-left is frame pixel ``(y0, x0)``."""
    import cv2

    u8 = m.view(np.uint8)
    rows = cv2.reduce(u8, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    cols = cv2.reduce(u8, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
    ry = np.flatnonzero(rows)
    if ry.size == 0:
        return 0, (math.nan,) * 4, cols, rows
    rx = np.flatnonzero(cols)
    box = (float(x0 + rx[0]), float(y0 + ry[0]), float(rx[-1] - rx[0] + 1), float(ry[-1] - ry[0] + 1))
    return int(rows.sum()), box, cols, rows


def measure_frame(pred: np.ndarray, gt: np.ndarray, obj_ids: tuple[int, ...] | list[int],
                  protocol: str = "mose") -> FrameMeasures:
    """Score every object of one frame.

    Args:
        pred, gt: ``(H, W) uint8`` label maps (pixel value = object id).
        obj_ids: object ids to score (1..255).
        protocol: ``"mose"`` (J with +1 smoothing, F and adaptive F̂) or ``"davis"`` (plain IoU,
            F with ``r = ceil(0.008 * D)``; ``F_hat`` is NaN).
    """
    import cv2

    check_protocol(protocol)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    # decoded PNGs are views that skip each row's filter byte: one copy makes every full-frame
    # pass below run on contiguous rows (about twice as fast)
    gt, pred = np.ascontiguousarray(gt), np.ascontiguousarray(pred)
    h, w = gt.shape
    k = len(obj_ids)
    out = {name: np.empty(k) for name in ("J", "F", "F_hat", "gt_area", "pred_area", "gt_cx", "gt_cy")}
    gt_box = np.empty((k, 4))
    pred_box = np.empty((k, 4))
    davis_r = float(math.ceil(0.008 * diagonal(h, w)))
    # Every object lies inside the box of all labelled pixels (GT or prediction): compare ids inside
    # that box only. Objects are usually small, so this saves most of the per-object full-frame
    # passes; offsets below translate crop coordinates back to the frame.
    cb = _bbox(np.bitwise_or(gt, pred))  # uint8 ids: nonzero where either map labels a pixel
    cy, cx = (cb[0].start, cb[1].start) if cb is not None else (0, 0)
    gt_c = gt[cb] if cb is not None else gt[:0, :0]
    pred_c = pred[cb] if cb is not None else pred[:0, :0]
    for i, oid in enumerate(obj_ids):
        g_full = gt_c == oid
        p_full = pred_c == oid
        # in place: a chained temporary of this size would make numpy look for temporaries to reuse,
        # which costs more than the OR itself
        ub = _shift(_bbox(np.bitwise_or(g_full, p_full, out=g_full)), cy, cx)  # one scan per object
        if ub is None:
            gt_box[i] = pred_box[i] = math.nan
            out["J"][i] = out["F"][i] = 1.0
            out["F_hat"][i] = 1.0 if protocol == "mose" else math.nan
            out["gt_area"][i] = out["pred_area"][i] = 0
            out["gt_cx"][i] = out["gt_cy"][i] = math.nan
            continue
        # window: the union box plus one pixel up/left (background pixels there can be boundary) and
        # one down/right where the frame continues (zeros, so seg2bmap's edge rule never fires inside)
        y0 = max(ub[0].start - 1, 0)
        x0 = max(ub[1].start - 1, 0)
        y1 = min(ub[0].stop + 1, h)
        x1 = min(ub[1].stop + 1, w)
        g = np.equal(gt[y0:y1, x0:x1], oid)
        p = np.equal(pred[y0:y1, x0:x1], oid)
        # row and column pixel counts give areas, boxes and the centroid (exact integer sums, so the
        # same doubles as cv2.moments) at a fraction of the cost of separate passes
        ga, gt_box[i], g_cols, g_rows = _profile(g, y0, x0)
        pa, pred_box[i], _, _ = _profile(p, y0, x0)
        inter = cv2.countNonZero(cv2.bitwise_and(g.view(np.uint8), p.view(np.uint8)))
        union = ga + pa - inter
        out["gt_area"][i], out["pred_area"][i] = ga, pa
        if ga:
            out["gt_cx"][i] = x0 + int(g_cols @ np.arange(g_cols.size)) / ga
            out["gt_cy"][i] = y0 + int(g_rows @ np.arange(g_rows.size)) / ga
        else:
            out["gt_cx"][i] = out["gt_cy"][i] = math.nan
        pb, gb = seg2bmap_fast(p), seg2bmap_fast(g)
        if protocol == "mose":
            out["J"][i] = jaccard_mose(inter, union)
            r_f, r_hat = boundary_radii(ga, h, w)
            if r_hat == r_f:
                out["F"][i] = out["F_hat"][i] = f_measures(pb, gb, (r_f,))[0]
            else:
                out["F"][i], out["F_hat"][i] = f_measures(pb, gb, (r_f, r_hat))
        else:
            out["J"][i] = jaccard_davis(inter, union)
            out["F"][i] = f_measures(pb, gb, (davis_r,))[0]
            out["F_hat"][i] = math.nan
    return FrameMeasures(gt_box=gt_box, pred_box=pred_box, **out)


def score_frame(pred_labels: np.ndarray, gt_labels: np.ndarray, obj_ids: tuple[int, ...] | list[int],
                protocol: str = "mose") -> dict[int, FrameScore]:
    """Per-object ``(J, F, F_hat)`` of one frame; ``F_hat`` is ``None`` under ``protocol="davis"``.

    Args:
        pred_labels, gt_labels: ``(H, W)`` integer label maps (values 0..255, 0 = background).
        obj_ids: the object ids to score.
    """
    check_protocol(protocol)
    pred = np.asarray(pred_labels).astype(np.uint8, copy=False)
    gt = np.asarray(gt_labels).astype(np.uint8, copy=False)
    ids = [int(o) for o in obj_ids]
    m = measure_frame(pred, gt, ids, protocol)
    return {oid: FrameScore(float(m.J[i]), float(m.F[i]),
                            float(m.F_hat[i]) if protocol == "mose" else None)
            for i, oid in enumerate(ids)}

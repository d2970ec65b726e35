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


def _bbox(labels: np.ndarray, oid: int) -> tuple[slice, slice] | None:
    """Bounding box of ``labels == oid`` as slices, or None (cheaper than ``find_objects`` for a few ids)."""
    m = labels == oid
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        return None
    band = m[rows[0]: rows[-1] + 1]
    cols = np.flatnonzero(band.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _slices_box(sl: tuple[slice, slice] | None) -> tuple[float, float, float, float]:
    if sl is None:
        return (math.nan,) * 4
    return (float(sl[1].start), float(sl[0].start), float(sl[1].stop - sl[1].start),
            float(sl[0].stop - sl[0].start))


def measure_frame(pred: np.ndarray, gt: np.ndarray, obj_ids: tuple[int, ...] | list[int],
                  protocol: str = "mose") -> FrameMeasures:
    """Score every object of one frame.

    Args:
        pred, gt: ``(H, W) uint8`` label maps (pixel value = object id).
        obj_ids: object ids to score (1..255).
        protocol: ``"mose"`` (J with +1 smoothing, F and adaptive F̂) or ``"davis"`` (plain IoU,
            F with ``r = ceil(0.008 * D)``; ``F_hat`` is NaN).
    """
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    h, w = gt.shape
    k = len(obj_ids)
    out = {name: np.empty(k) for name in ("J", "F", "F_hat", "gt_area", "pred_area", "gt_cx", "gt_cy")}
    gt_box = np.empty((k, 4))
    pred_box = np.empty((k, 4))
    davis_r = float(math.ceil(0.008 * diagonal(h, w)))
    for i, oid in enumerate(obj_ids):
        gs, ps = _bbox(gt, oid), _bbox(pred, oid)
        gt_box[i] = _slices_box(gs)
        pred_box[i] = _slices_box(ps)
        if gs is None and ps is None:
            out["J"][i] = out["F"][i] = 1.0
            out["F_hat"][i] = 1.0 if protocol == "mose" else math.nan
            out["gt_area"][i] = out["pred_area"][i] = 0
            out["gt_cx"][i] = out["gt_cy"][i] = math.nan
            continue
        both = [s for s in (gs, ps) if s is not None]
        # window: the union box plus one pixel up/left (background pixels there can be boundary) and
        # one down/right where the frame continues (zeros, so seg2bmap's edge rule never fires inside)
        y0 = max(min(s[0].start for s in both) - 1, 0)
        x0 = max(min(s[1].start for s in both) - 1, 0)
        y1 = min(max(s[0].stop for s in both) + 1, h)
        x1 = min(max(s[1].stop for s in both) + 1, w)
        g = gt[y0:y1, x0:x1] == oid
        p = pred[y0:y1, x0:x1] == oid
        ga = int(np.count_nonzero(g))
        pa = int(np.count_nonzero(p))
        inter = int(np.count_nonzero(g & p))
        union = ga + pa - inter
        out["gt_area"][i], out["pred_area"][i] = ga, pa
        if ga:
            rows = np.count_nonzero(g, axis=1)
            cols = np.count_nonzero(g, axis=0)
            out["gt_cy"][i] = y0 + float(rows @ np.arange(rows.size)) / ga
            out["gt_cx"][i] = x0 + float(cols @ np.arange(cols.size)) / ga
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

"""Tracking (VOT) metrics from boxes: success AUC, precision P@20px, normalised precision P_norm@0.20.

Conventions (LaSOT / pytracking, with two deliberate choices):

* Boxes are ``(x, y, w, h)`` pixel-inclusive: a mask's box spans columns ``x .. x + w - 1``.
  IoU treats a box as the area ``[x, x + w) x [y, y + h)``; centres are ``x + (w - 1) / 2``.
* Success curve: fraction of frames with IoU **strictly greater** than each of the 21 thresholds
  0, 0.05, ..., 1; AUC = mean of the curve. Precision: centre error <= 0..50 px, P = value at
  20 px. Normalised precision: centre error divided by the GT width/height, <= 0, 0.01, ..., 0.5,
  P_norm = value at 0.20.
* Frames whose GT is empty count as failures (IoU -1, infinite centre errors) and stay in the
  denominator. Frames where the tracker reports nothing (NaN row) while the target is visible are
  failures too. Unlike pytracking we do not count invalid frames as normalised-precision successes.
* A dataset value averages the per-sequence curves (one sequence = one object of one video).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

IOU_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PIXEL_THRESHOLDS = np.arange(0, 51, dtype=float)
NORM_THRESHOLDS = np.arange(0, 51, dtype=float) / 100.0


@dataclass(frozen=True)
class VOTResult:
    """x100 scalars and curves (curves at :data:`IOU_THRESHOLDS`, :data:`PIXEL_THRESHOLDS`,
    :data:`NORM_THRESHOLDS`). ``n_frames``: frames evaluated (summed over sequences for a dataset)."""

    auc: float
    precision: float
    norm_precision: float
    success_curve: tuple[float, ...]
    precision_curve: tuple[float, ...]
    norm_precision_curve: tuple[float, ...]
    n_frames: int
    n_sequences: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {"auc": self.auc, "precision": self.precision, "norm_precision": self.norm_precision,
                "success_curve": list(self.success_curve), "precision_curve": list(self.precision_curve),
                "norm_precision_curve": list(self.norm_precision_curve), "n_frames": self.n_frames,
                "n_sequences": self.n_sequences}


def box_from_mask(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Tightest enclosing box ``(x, y, w, h)`` (pixel-inclusive) of a ``(H, W)`` mask; None if empty."""
    from harness.boxes import box_of_mask

    box = box_of_mask(mask)
    return None if box is None else tuple(int(v) for v in box)


def _per_frame(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU, centre error, normalised centre error per frame (failures: -1 / inf / inf)."""
    gt_ok = ~np.isnan(gt).any(axis=1) & (np.nan_to_num(gt[:, 2]) > 0) & (np.nan_to_num(gt[:, 3]) > 0)
    pred_ok = ~np.isnan(pred).any(axis=1)
    both = gt_ok & pred_ok
    n = gt.shape[0]
    iou = np.where(gt_ok, 0.0, -1.0)
    err = np.full(n, np.inf)
    nerr = np.full(n, np.inf)
    if both.any():
        p, g = pred[both], gt[both]
        iw = np.clip(np.minimum(p[:, 0] + p[:, 2], g[:, 0] + g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0, None)
        ih = np.clip(np.minimum(p[:, 1] + p[:, 3], g[:, 1] + g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0, None)
        inter = iw * ih
        union = p[:, 2] * p[:, 3] + g[:, 2] * g[:, 3] - inter
        iou[both] = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        pc = p[:, :2] + (p[:, 2:] - 1) / 2
        gc = g[:, :2] + (g[:, 2:] - 1) / 2
        err[both] = np.sqrt(((pc - gc) ** 2).sum(axis=1))
        nerr[both] = np.sqrt((((pc - gc) / g[:, 2:]) ** 2).sum(axis=1))
    return iou, err, nerr


def _result(success: np.ndarray, prec: np.ndarray, nprec: np.ndarray, n_frames: int, n_seq: int) -> VOTResult:
    return VOTResult(auc=float(success.mean() * 100), precision=float(prec[20] * 100),
                     norm_precision=float(nprec[20] * 100),
                     success_curve=tuple(float(v) for v in success * 100),
                     precision_curve=tuple(float(v) for v in prec * 100),
                     norm_precision_curve=tuple(float(v) for v in nprec * 100), n_frames=n_frames,
                     n_sequences=n_seq)


def vot_metrics(pred_boxes: np.ndarray, gt_boxes: np.ndarray) -> VOTResult:
    """Metrics of one sequence. ``pred_boxes``, ``gt_boxes``: ``(T, 4)`` float ``x, y, w, h``; a NaN row
    means "no box" (target absent in GT / tracker reports nothing)."""
    pred = np.asarray(pred_boxes, dtype=float).reshape(-1, 4)
    gt = np.asarray(gt_boxes, dtype=float).reshape(-1, 4)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction boxes {pred.shape} and GT boxes {gt.shape} differ in length")
    t = gt.shape[0]
    if t == 0:
        raise ValueError("vot_metrics needs at least one frame")
    iou, err, nerr = _per_frame(pred, gt)
    success = (iou[:, None] > IOU_THRESHOLDS[None, :]).mean(axis=0)
    prec = (err[:, None] <= PIXEL_THRESHOLDS[None, :]).mean(axis=0)
    nprec = (nerr[:, None] <= NORM_THRESHOLDS[None, :]).mean(axis=0)
    return _result(success, prec, nprec, t, 1)


def vot_dataset(results: Sequence[VOTResult]) -> VOTResult:
    """Dataset value: mean of the per-sequence curves (LaSOT averaging), AUC = mean of that curve."""
    if not results:
        raise ValueError("vot_dataset needs at least one sequence")
    s = np.mean([r.success_curve for r in results], axis=0) / 100
    p = np.mean([r.precision_curve for r in results], axis=0) / 100
    n = np.mean([r.norm_precision_curve for r in results], axis=0) / 100
    return _result(s, p, n, sum(r.n_frames for r in results), len(results))


def vot_from_table(per_frame: Any) -> tuple[dict[tuple[str, int], VOTResult], VOTResult | None]:
    """Per-(video, object) and dataset VOT metrics from the per-frame score table's boxes."""
    out: dict[tuple[str, int], VOTResult] = {}
    df = per_frame.sort_values(["video", "object", "t"], kind="stable")
    for (vid, oid), g in df.groupby(["video", "object"], sort=True):
        out[(str(vid), int(oid))] = vot_metrics(g[["pred_x", "pred_y", "pred_w", "pred_h"]].to_numpy(float),
                                                g[["gt_x", "gt_y", "gt_w", "gt_h"]].to_numpy(float))
    return out, (vot_dataset(list(out.values())) if out else None)


def plot_curves(results: Mapping[str, VOTResult], path: str | Path) -> Path:
    """Success and precision plots (PNG) of one or more named results; matplotlib if installed, else PIL."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _plot_pil(results, path)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for name, r in results.items():
        axes[0].plot(IOU_THRESHOLDS, r.success_curve, label=f"{name} [{r.auc:.1f}]")
        axes[1].plot(PIXEL_THRESHOLDS, r.precision_curve, label=f"{name} [{r.precision:.1f}]")
        axes[2].plot(NORM_THRESHOLDS, r.norm_precision_curve, label=f"{name} [{r.norm_precision:.1f}]")
    for ax, title, xl in zip(axes, ("Success (AUC)", "Precision (20 px)", "Normalised precision (0.20)"),
                             ("IoU threshold", "centre error (px)", "normalised centre error")):
        ax.set_title(title)
        ax.set_xlabel(xl)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot_pil(results: Mapping[str, VOTResult], path: Path) -> Path:
    from PIL import Image, ImageDraw

    w, h, pad = 300, 220, 30
    img = Image.new("RGB", (3 * w, h), "white")
    draw = ImageDraw.Draw(img)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
    panels = [(IOU_THRESHOLDS, "success_curve"), (PIXEL_THRESHOLDS, "precision_curve"),
              (NORM_THRESHOLDS, "norm_precision_curve")]
    for k, (xs, attr) in enumerate(panels):
        x0 = k * w
        draw.rectangle([x0 + pad, 10, x0 + w - 10, h - pad], outline="black")
        for c, (name, r) in enumerate(results.items()):
            ys = getattr(r, attr)
            pts = [(x0 + pad + (x - xs[0]) / (xs[-1] - xs[0]) * (w - pad - 10),
                    h - pad - y / 100 * (h - pad - 10)) for x, y in zip(xs, ys)]
            draw.line(pts, fill=colours[c % len(colours)], width=2)
            draw.text((x0 + pad + 5, 12 + 12 * c), name, fill=colours[c % len(colours)])
    img.save(path)
    return path

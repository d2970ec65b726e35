"""Tracking (VOT) metrics from boxes: success AUC, precision P@20px, normalised precision P_norm@0.20.

Conventions: those of pytracking's analysis code (``pytracking/analysis/extract_results.py``), which
the LaSOT-style tables of the OSTrack/SeqTrack family that TABLE 10 compares with are computed by;
checked against that code's own outputs on constructed sequences (``tests/golden/conventions``):

* Boxes are ``(x, y, w, h)`` pixel-inclusive: a mask's box spans columns ``x .. x + w - 1``.
  IoU treats a box as the area ``[x, x + w) x [y, y + h)``; centres are ``x + (w - 1) / 2``.
* Frame 0 of a sequence (the object's initialisation frame) is given: its prediction is replaced by
  the GT box, and it stays in the denominator (pytracking sets ``pred[0] = anno[0]``).
* A prediction of zero width or height, or none at all (a NaN row, e.g. an empty mask; a result
  file's ``0,0,0,0``), is replaced by the previous frame's prediction (pytracking's rule).
* Success curve: fraction of frames with IoU **strictly greater** than each of the 21 thresholds
  0, 0.05, ..., 1; AUC = mean of the curve. Precision: centre error <= 0..50 px, P = value at
  20 px. Normalised precision: centre error divided by the GT width/height, <= 0, 0.01, ..., 0.5,
  P_norm = value at 0.20.
* Frames whose GT is empty (target absent) stay in the denominator; they are failures for AUC and
  P. For P_norm the ``convention`` decides: ``"lasot"`` (default; pytracking's LaSOT evaluation,
  with visibility flags: an absent target fails) or ``"pytracking"`` (pytracking on a dataset
  without visibility flags: its normalised error of an invalid frame is -1, a success at every
  threshold).
* A dataset value averages the per-sequence curves (one sequence = one object of one video).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

IOU_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PIXEL_THRESHOLDS = np.arange(0, 51, dtype=float)
NORM_THRESHOLDS = np.arange(0, 51, dtype=float) / 100.0
CONVENTIONS = ("lasot", "pytracking")
# a missing prediction as a 1-based result file writes it ("0,0,0,0"), in our 0-based coordinates
_NO_BOX = np.array([-1.0, -1.0, 0.0, 0.0])


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


def check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        from harness.errors import ConfigError

        raise ConfigError(f"unknown VOT convention '{convention}' (key: setting.vot.convention); "
                          f"use one of {', '.join(CONVENTIONS)}")


def toolkit_predictions(pred: np.ndarray, gt: np.ndarray, first_frame_given: bool = True) -> np.ndarray:
    """``pred`` ``(T, 4)`` as the toolkit evaluates it: missing / zero-size boxes replaced by the
    previous frame's box, then frame 0 replaced by the GT (initialisation) box."""
    p = np.where(np.isnan(pred).any(axis=1, keepdims=True), _NO_BOX, pred)
    for i in range(1, p.shape[0]):
        if p[i, 2] == 0 or p[i, 3] == 0:
            p[i] = p[i - 1]
    if first_frame_given:
        p[0] = gt[0]
    return p


def _per_frame(pred: np.ndarray, gt: np.ndarray, convention: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU, centre error, normalised centre error per frame (invalid GT: -1 / inf / inf or -1)."""
    gt_ok = ~np.isnan(gt).any(axis=1) & (np.nan_to_num(gt[:, 2]) > 0) & (np.nan_to_num(gt[:, 3]) > 0)
    n = gt.shape[0]
    iou = np.full(n, -1.0)
    err = np.full(n, np.inf)
    nerr = np.full(n, np.inf if convention == "lasot" else -1.0)
    if gt_ok.any():
        p, g = pred[gt_ok], gt[gt_ok]
        iw = np.clip(np.minimum(p[:, 0] + p[:, 2], g[:, 0] + g[:, 2]) - np.maximum(p[:, 0], g[:, 0]), 0, None)
        ih = np.clip(np.minimum(p[:, 1] + p[:, 3], g[:, 1] + g[:, 3]) - np.maximum(p[:, 1], g[:, 1]), 0, None)
        inter = iw * ih
        union = p[:, 2] * p[:, 3] + g[:, 2] * g[:, 3] - inter
        iou[gt_ok] = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        pc = p[:, :2] + (p[:, 2:] - 1) / 2
        gc = g[:, :2] + (g[:, 2:] - 1) / 2
        err[gt_ok] = np.sqrt(((pc - gc) ** 2).sum(axis=1))
        nerr[gt_ok] = np.sqrt((((pc - gc) / g[:, 2:]) ** 2).sum(axis=1))
    return iou, err, nerr


def _result(success: np.ndarray, prec: np.ndarray, nprec: np.ndarray, n_frames: int, n_seq: int) -> VOTResult:
    return VOTResult(auc=float(success.mean() * 100), precision=float(prec[20] * 100),
                     norm_precision=float(nprec[20] * 100),
                     success_curve=tuple(float(v) for v in success * 100),
                     precision_curve=tuple(float(v) for v in prec * 100),
                     norm_precision_curve=tuple(float(v) for v in nprec * 100), n_frames=n_frames,
                     n_sequences=n_seq)


def vot_metrics(pred_boxes: np.ndarray, gt_boxes: np.ndarray, *, convention: str = "lasot",
                first_frame_given: bool = True) -> VOTResult:
    """Metrics of one sequence. ``pred_boxes``, ``gt_boxes``: ``(T, 4)`` float ``x, y, w, h``, row 0 the
    initialisation frame (given: scored as the GT box); a NaN row means "no box" (target absent in
    GT / tracker reports nothing). ``convention``: see the module docstring. ``first_frame_given=False``
    for rows that do not start at the initialisation frame (the VOS scorer's boxes skip it)."""
    check_convention(convention)
    pred = np.asarray(pred_boxes, dtype=float).reshape(-1, 4)
    gt = np.asarray(gt_boxes, dtype=float).reshape(-1, 4)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction boxes {pred.shape} and GT boxes {gt.shape} differ in length")
    t = gt.shape[0]
    if t == 0:
        raise ValueError("vot_metrics needs at least one frame")
    if first_frame_given and np.isnan(gt[0]).any():
        raise ValueError("a VOT sequence starts on its initialisation frame, where the GT box is given")
    iou, err, nerr = _per_frame(toolkit_predictions(pred, gt, first_frame_given), gt, convention)
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
    """Per-(video, object) and dataset VOT metrics from the per-frame score table's boxes (the VOS
    scorer's evaluated frames, which skip the initialisation frame: nothing is taken as given)."""
    out: dict[tuple[str, int], VOTResult] = {}
    df = per_frame.sort_values(["video", "object", "t"], kind="stable")
    for (vid, oid), g in df.groupby(["video", "object"], sort=True):
        out[(str(vid), int(oid))] = vot_metrics(g[["pred_x", "pred_y", "pred_w", "pred_h"]].to_numpy(float),
                                                g[["gt_x", "gt_y", "gt_w", "gt_h"]].to_numpy(float),
                                                first_frame_given=False)
    return out, (vot_dataset(list(out.values())) if out else None)


def _box(v: Any, where: str) -> tuple[float, float, float, float] | None:
    if v is None:
        return None
    if not isinstance(v, (list, tuple)) or len(v) != 4:
        from harness.errors import DataError

        raise DataError(f"{where}: a box must be [x, y, w, h] or null, got {v!r}")
    return tuple(float(x) for x in v)  # type: ignore[return-value]


@dataclass(frozen=True)
class VOTSequence:
    """One object's track on its evaluated frames: ``frames[0]`` is its initialisation frame.

    ``gt`` / ``pred``: one ``(x, y, w, h)`` or ``None`` (absent / no box) per entry of ``frames``."""

    obj_id: int
    frames: tuple[int, ...]
    gt: tuple[tuple[float, float, float, float] | None, ...]
    pred: tuple[tuple[float, float, float, float] | None, ...]

    def to_json(self) -> dict[str, Any]:
        return {"obj_id": self.obj_id, "frames": list(self.frames), "gt": [None if b is None else list(b) for b in self.gt],
                "pred": [None if b is None else list(b) for b in self.pred]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str) -> VOTSequence:
        from harness.errors import DataError

        try:
            frames = tuple(int(f) for f in d["frames"])
            gt = tuple(_box(b, where) for b in d["gt"])
            pred = tuple(_box(b, where) for b in d["pred"])
            seq = cls(int(d["obj_id"]), frames, gt, pred)
        except KeyError as e:
            raise DataError(f"{where}: VOT sequence without key {e}; rerun the video (--force)") from None
        if not len(seq.frames) == len(seq.gt) == len(seq.pred):
            raise DataError(f"{where}: object {seq.obj_id} has {len(seq.frames)} frames, {len(seq.gt)} GT "
                            f"and {len(seq.pred)} predicted boxes; rerun the video (--force)")
        return seq


@dataclass(frozen=True)
class VOTVideo:
    """The VOT setting's per-video result for scoring: one sequence per object."""

    sequences: tuple[VOTSequence, ...]
    kind: ClassVar[str] = "vot"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "sequences": [s.to_json() for s in self.sequences]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str) -> VOTVideo:
        from harness.errors import DataError

        if "sequences" not in d:
            raise DataError(f"{where}: VOT details without key 'sequences'; rerun the video (--force)")
        return cls(tuple(VOTSequence.from_json(s, f"{where}, sequence {i}") for i, s in enumerate(d["sequences"])))


@dataclass(frozen=True)
class VOTScores:
    """Dataset tracking scores (x100) from the mean of the per-sequence curves, with those curves
    (``dataset``, ``None`` without any sequence) and one row per sequence (video, object, AUC, P,
    P_norm, n_frames)."""

    AUC: float
    P: float
    P_norm: float
    n_sequences: int
    convention: str
    dataset: VOTResult | None
    per_sequence: tuple[Mapping[str, Any], ...]

    def summary(self) -> dict[str, Any]:
        return {"AUC": self.AUC, "P": self.P, "P_norm": self.P_norm, "n_sequences": self.n_sequences,
                "convention": self.convention}


def _array(rows: Sequence[Any]) -> np.ndarray:
    return np.array([[np.nan] * 4 if b is None else b for b in rows], dtype=float).reshape(-1, 4)


def score_vot(videos: Mapping[str, VOTVideo], *, convention: str = "lasot") -> VOTScores:
    """Score the VOT setting: :func:`vot_metrics` per sequence, :func:`vot_dataset` over all."""
    check_convention(convention)
    per_seq: list[dict[str, Any]] = []
    results = []
    for vid in sorted(videos):
        for seq in sorted(videos[vid].sequences, key=lambda s: s.obj_id):
            if not seq.frames:
                continue
            r = vot_metrics(_array(seq.pred), _array(seq.gt), convention=convention)
            results.append(r)
            per_seq.append({"video": vid, "object": seq.obj_id, "AUC": r.auc, "P": r.precision,
                            "P_norm": r.norm_precision, "n_frames": r.n_frames})
    if not results:
        nan = float("nan")
        return VOTScores(nan, nan, nan, 0, convention, None, ())
    d = vot_dataset(results)
    return VOTScores(d.auc, d.precision, d.norm_precision, len(results), convention, d, tuple(per_seq))


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

"""Video object tracking on MOSEv2 (TABLE 10): box in, one box per frame out; LaSOT-style metrics.

* Ground-truth boxes are the tightest pixel-inclusive boxes of the GT masks (the paper's "minimal
  enclosing rectangle"); an empty mask means the target is absent on that frame.
* Each object is one tracking sequence. The tracker gets the object's GT box on the first frame
  the object is annotated in (the box setting's prompt) and returns a box per frame; a VOS method
  (mask output) runs exactly like the box setting and its masks become tight boxes (its own
  ``FrameResult.boxes`` when it fills them). Box-output methods need ``multi_object`` or get one
  session per object, as everywhere.
* Evaluated frames: the annotated frames from the object's first annotated frame on. The setting
  records predicted and GT boxes there in ``SettingOutcome.extra``; :func:`score_vot` turns the
  records of all videos into success AUC, precision P (20 px centre error) and normalised precision
  P_norm with :func:`harness.metrics.vot.vot_metrics`, averaged over sequences, and saves the
  success and precision plots as PNGs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from harness.api import FrameResult, OutputKind, PromptKind
from harness.settings.base import Emit, Requirements, SettingOutcome
from harness.settings.semi import BoxSetting, box_of_mask

if TYPE_CHECKING:
    from harness.api import Method
    from harness.data.video import Video


def _round_box(b: Any) -> list[float] | None:
    if b is None:
        return None
    vals = [float(v) for v in b]
    if any(math.isnan(v) for v in vals):
        return None
    return [round(v, 2) for v in vals]


class VOTSetting(BoxSetting):
    name = "vot"
    requirements = Requirements(prompt_kinds=frozenset({PromptKind.BOX}),
                                output=frozenset({OutputKind.MASK, OutputKind.BOX}))
    metrics: ClassVar[tuple[str, ...]] = ("AUC", "P", "P_norm")
    scoring: ClassVar[str] = "vot"

    def run(self, method: Method, video: Video, emit: Emit) -> SettingOutcome:
        objects = sorted(int(o) for o in video.objects)
        annotated = set(video.annotated)
        box_out = method.capabilities.output == OutputKind.BOX
        pred: dict[int, dict[int, list[float] | None]] = {o: {} for o in objects}

        def on_frame(fr: FrameResult) -> None:
            if fr.frame not in annotated:
                return
            for o in objects:
                if box_out or o in fr.boxes:
                    b = fr.boxes.get(o)
                else:
                    m = fr.masks.get(o)
                    b = None if m is None else box_of_mask(m)
                pred[o][fr.frame] = _round_box(b)

        if not objects:
            for t in range(len(video)):
                emit(FrameResult(t))
            return SettingOutcome(extra={"objects": [], "sequences": {}})
        outcome = self._run(method, video, emit, on_frame=on_frame)
        starts = {int(o): int(f) for o, f in video.objects.items()}
        sequences: dict[str, Any] = {}
        frames_by_obj = {o: [t for t in video.annotated if t >= starts[o]] for o in objects}
        gt_boxes: dict[int, list] = {o: [] for o in objects}
        for t in sorted({t for fs in frames_by_obj.values() for t in fs}):
            gt = video.gt(t)
            for o in objects:
                if t >= starts[o]:
                    gt_boxes[o].append(_round_box(box_of_mask(gt == o)))
        for o in objects:
            fs = frames_by_obj[o]
            sequences[str(o)] = {"init_frame": starts[o], "frames": fs, "gt": gt_boxes[o],
                                 "pred": [pred[o].get(t) for t in fs]}
        extra = dict(outcome.extra)
        extra.update({"objects": objects, "sequences": sequences})
        return SettingOutcome(prompts=outcome.prompts, extra=extra)


@dataclass(frozen=True)
class VOTSummary:
    """Dataset tracking scores (x100), mean over sequences (one per object)."""

    AUC: float
    P: float
    P_norm: float
    n_sequences: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _boxes_array(rows: list) -> np.ndarray:
    return np.array([[np.nan] * 4 if b is None else b for b in rows], dtype=float).reshape(-1, 4)


def score_vot(records: Mapping[str, Mapping[str, Any]], out_dir: str | Path | None = None) -> VOTSummary:
    """Score the VOT setting from the videos' ``SettingOutcome.extra`` (``video -> extra``).

    Writes ``vot.json`` (summary + per-sequence values), ``success.png`` and ``precision.png``
    into ``out_dir`` when given (atomically).
    """
    from harness.metrics.vot import vot_metrics

    per_seq = []
    results = []
    for vid in sorted(records):
        for oid, seq in sorted(records[vid].get("sequences", {}).items(), key=lambda kv: int(kv[0])):
            r = vot_metrics(_boxes_array(seq["pred"]), _boxes_array(seq["gt"]))
            results.append(r)
            per_seq.append({"video": vid, "object": int(oid), "AUC": 100 * float(r.auc),
                            "P": 100 * float(r.precision), "P_norm": 100 * float(r.norm_precision)})
    if not results:
        summary = VOTSummary(AUC=math.nan, P=math.nan, P_norm=math.nan, n_sequences=0)
    else:
        summary = VOTSummary(
            AUC=float(np.mean([s["AUC"] for s in per_seq])), P=float(np.mean([s["P"] for s in per_seq])),
            P_norm=float(np.mean([s["P_norm"] for s in per_seq])), n_sequences=len(per_seq))
    if out_dir is not None:
        from harness.data.masks import atomic_write_bytes

        out = Path(out_dir)
        payload = {"summary": summary.as_dict(), "sequences": per_seq}
        atomic_write_bytes(out / "vot.json", json.dumps(payload, indent=1).encode())
        if results:
            write_plots(results, out, summary)
    return summary


def write_plots(results: list, out: Path, summary: VOTSummary) -> None:
    """Mean success and precision curves over sequences as ``success.png`` / ``precision.png``."""
    import io

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from harness.data.masks import atomic_write_bytes

    specs = (
        ("success", "overlap threshold", "success rate", f"AUC {summary.AUC:.1f}"),
        ("precision", "location error threshold (px)", "precision", f"P@20px {summary.P:.1f}"),
        ("norm_precision", "normalised location error threshold", "normalised precision",
         f"P_norm {summary.P_norm:.1f}"),
    )
    for key, xlabel, ylabel, label in specs:
        curves = [r.curves[key] for r in results if key in r.curves]
        if not curves:
            continue
        x = np.asarray(curves[0][0], float)
        y = np.mean([np.asarray(c[1], float) for c in curves], axis=0)
        fig, ax = plt.subplots(figsize=(4.5, 3.5), dpi=100)
        ax.plot(x, y, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        atomic_write_bytes(out / f"{key}.png", buf.getvalue())

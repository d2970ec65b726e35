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
  P_norm with :mod:`harness.metrics.vot` (curves averaged over sequences, LaSOT style; frames with an
  empty GT box stay in the denominator as failures, as LaSOT/pytracking count them) and saves the
  success / precision / normalised-precision plots as one PNG.
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
    """Dataset tracking scores (x100) from the mean of the per-sequence curves (one per object)."""

    AUC: float
    P: float
    P_norm: float
    n_sequences: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _boxes_array(rows: list) -> np.ndarray:
    return np.array([[np.nan] * 4 if b is None else b for b in rows], dtype=float).reshape(-1, 4)


def score_vot(records: Mapping[str, Mapping[str, Any]], out_dir: str | Path | None = None, *,
              label: str = "prediction") -> VOTSummary:
    """Score the VOT setting from the videos' ``SettingOutcome.extra`` (``video -> extra``).

    Per sequence :func:`harness.metrics.vot.vot_metrics`; the dataset value averages the
    per-sequence curves (:func:`harness.metrics.vot.vot_dataset`, LaSOT averaging). With ``out_dir``,
    writes ``vot.json`` (summary, dataset curves, per-sequence values) and ``vot_curves.png``
    (success, precision and normalised-precision plots, curve named ``label``) atomically.
    """
    from harness.metrics.vot import vot_dataset, vot_metrics

    per_seq: list[dict[str, Any]] = []
    results = []
    for vid in sorted(records):
        for oid, seq in sorted(records[vid].get("sequences", {}).items(), key=lambda kv: int(kv[0])):
            if not seq["frames"]:
                continue
            r = vot_metrics(_boxes_array(seq["pred"]), _boxes_array(seq["gt"]))
            results.append(r)
            per_seq.append({"video": vid, "object": int(oid), "AUC": r.auc, "P": r.precision,
                            "P_norm": r.norm_precision, "n_frames": r.n_frames})
    if not results:
        summary = VOTSummary(AUC=math.nan, P=math.nan, P_norm=math.nan, n_sequences=0)
        dataset = None
    else:
        dataset = vot_dataset(results)
        summary = VOTSummary(AUC=dataset.auc, P=dataset.precision, P_norm=dataset.norm_precision,
                             n_sequences=len(results))
    if out_dir is not None:
        write_outputs(Path(out_dir), summary, dataset, per_seq, label)
    return summary


def write_outputs(out: Path, summary: VOTSummary, dataset: Any, per_seq: list[dict[str, Any]],
                  label: str) -> None:
    import os
    import tempfile

    from harness.atomic import atomic_write_bytes

    out.mkdir(parents=True, exist_ok=True)
    payload = {"summary": summary.as_dict(), "dataset": None if dataset is None else dataset.as_dict(),
               "sequences": per_seq}
    atomic_write_bytes(out / "vot.json", json.dumps(payload, indent=1).encode())
    if dataset is None:
        return
    from harness.metrics.vot import plot_curves

    fd, tmp = tempfile.mkstemp(prefix=".vot_curves.", suffix=".png", dir=out)
    os.close(fd)
    try:
        plot_curves({label: dataset}, tmp)
        os.replace(tmp, out / "vot_curves.png")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

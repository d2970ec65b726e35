"""Video object tracking on MOSEv2 (TABLE 10): box in, one box per frame out; LaSOT-style metrics.

* Ground-truth boxes are the tightest pixel-inclusive boxes of the GT masks (the paper's "minimal
  enclosing rectangle"); an empty mask means the target is absent on that frame.
* Each object is one tracking sequence. The tracker gets the object's GT box on the first frame
  the object is annotated in (the box setting's prompt) and returns a box per frame; a VOS method
  (mask output) runs exactly like the box setting and its masks become tight boxes (its own
  ``FrameResult.boxes`` when it fills them). Box-output methods need ``multi_object`` or get one
  session per object, as everywhere.
* Evaluated frames: the annotated frames from the object's first annotated frame on; that first
  frame is the sequence's frame 0, given (scored as its GT box, as pytracking and the LaSOT toolkit
  do). The setting records predicted and GT boxes there in a :class:`harness.metrics.vot.VOTVideo`;
  scoring (:func:`harness.metrics.vot.score_vot`, run by the runner) turns them into success AUC,
  precision P and normalised precision P_norm under the ``convention`` option (``lasot`` by
  default, or ``pytracking``: docs/metrics.md, "VOT"). The setting writes no file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from harness.api import FrameResult, OutputKind, PromptKind
from harness.boxes import box_of_mask
from harness.metrics.vot import VOTSequence, VOTVideo
from harness.settings.base import Emit, Requirements, SettingOutcome
from harness.settings.semi import BoxSetting

if TYPE_CHECKING:
    from harness.api import Method
    from harness.data.video import Video


@dataclass(frozen=True)
class VOTConfig:
    """Options of the VOT setting. ``convention``: how absent-target frames count for P_norm
    (``lasot``: failures, pytracking's LaSOT evaluation; ``pytracking``: successes, pytracking on a
    dataset without visibility flags)."""

    convention: str = "lasot"

    def __post_init__(self) -> None:
        from harness.metrics.vot import check_convention

        check_convention(self.convention)


def _round_box(b: Any) -> tuple[float, float, float, float] | None:
    if b is None:
        return None
    vals = [float(v) for v in b]
    if any(math.isnan(v) for v in vals):
        return None
    return tuple(round(v, 2) for v in vals)  # type: ignore[return-value]


class VOTSetting(BoxSetting):
    name = "vot"
    requirements = Requirements(prompt_kinds=frozenset({PromptKind.BOX}),
                                output=frozenset({OutputKind.MASK, OutputKind.BOX}))
    metrics: ClassVar[tuple[str, ...]] = ("AUC", "P", "P_norm")
    scoring: ClassVar[str] = "vot"
    Config = VOTConfig

    def run(self, method: Method, video: Video, emit: Emit) -> SettingOutcome:
        objects = sorted(int(o) for o in video.objects)
        annotated = set(video.annotated)
        box_out = method.capabilities.output == OutputKind.BOX
        pred: dict[int, dict[int, tuple[float, float, float, float] | None]] = {o: {} for o in objects}

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
            return SettingOutcome(details=VOTVideo(()))
        outcome = self._run(method, video, emit, on_frame=on_frame)
        starts = {int(o): int(f) for o, f in video.objects.items()}
        frames_by_obj = {o: [t for t in video.annotated if t >= starts[o]] for o in objects}
        gt_boxes: dict[int, list] = {o: [] for o in objects}
        for t in sorted({t for fs in frames_by_obj.values() for t in fs}):
            gt = video.gt(t)
            for o in objects:
                if t >= starts[o]:
                    gt_boxes[o].append(_round_box(box_of_mask(gt == o)))
        sequences = tuple(VOTSequence(o, tuple(frames_by_obj[o]), tuple(gt_boxes[o]),
                                      tuple(pred[o].get(t) for t in frames_by_obj[o])) for o in objects)
        return SettingOutcome(prompts=outcome.prompts, sessions=outcome.sessions, details=VOTVideo(sequences))

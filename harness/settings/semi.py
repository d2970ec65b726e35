"""Semi-supervised settings: mask- (TABLE 4), box- (TABLE 5) and point-initialised (TABLE 6) VOS.

Every object is prompted on the first frame it is annotated in (``Video.objects``):

* ``mask``: its ground-truth mask there;
* ``box``: the tight pixel-inclusive box of that mask;
* ``point1`` / ``point3`` / ``point5``: 1, 3 or 5 positive clicks placed by
  :mod:`harness.settings.clicks` (one click per ``add_prompt`` call when the method gives prompt
  feedback, so each click can react to the method's mask; all clicks in one prompt otherwise).

Objects that start after the first prompted frame need ``capabilities.add_objects_mid_video``;
methods without it get one session per distinct start frame, methods without ``multi_object`` one
session per object (see :mod:`harness.settings.multisession`). Nothing is refused for that reason.
"""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from harness.api import BoxPrompt, FrameResult, MaskPrompt, PointsPrompt, PromptKind
from harness.boxes import box_of_mask
from harness.settings import multisession
from harness.settings.base import Emit, Requirements, Setting, SettingOutcome
from harness.timing import ModelTimer

if TYPE_CHECKING:
    from harness.api import Method, Session
    from harness.data.video import Video

VOS_METRICS = ("JF_hat", "J", "F_hat", "JF_hat_d", "JF_hat_r", "F", "JF")


class SemiSupervisedSetting(Setting):
    """Drives sessions prompted from each object's first annotated mask; subclasses build prompts."""

    metrics: ClassVar[tuple[str, ...]] = VOS_METRICS
    scoring: ClassVar[str] = "vos"

    def prompt_object(self, session: Session, method: Method, frame: int, obj_id: int,
                      mask: np.ndarray, timer: ModelTimer) -> list[dict[str, Any]]:
        """Give ``session`` the prompt(s) for one object; return their records.

        Each ``session.add_prompt`` goes through ``timer.call``: only the method's work is model
        time, not click placement or prompt records."""
        raise NotImplementedError

    def _run(self, method: Method, video: Video, emit: Emit,
             on_frame: Any = None) -> SettingOutcome:
        starts = multisession.start_frames(video)
        groups = multisession.plan_sessions(method.capabilities, starts)
        records: list[dict[str, Any]] = []
        name = multisession.method_name(method)
        with ExitStack() as stack:
            sessions = multisession.open_sessions(stack, method, video, len(groups))
            gt_cache: dict[int, np.ndarray] = {}
            # Taking a prompt is model work (SAM2 encodes the frame and its memory there): it is
            # charged to the prompt's frame so that FPS counts it, as upstream timings do.
            timer = ModelTimer(getattr(method, "device", None))
            prompt_s: dict[int, float] = {}
            for group, session in zip(groups, sessions):
                for obj in group:
                    f = starts[obj]
                    if f not in gt_cache:
                        gt_cache[f] = video.gt(f)
                    mask = gt_cache[f] == obj
                    records += self.prompt_object(session, method, f, obj, mask, timer)
                    prompt_s[f] = prompt_s.get(f, 0.0) + timer.pop()
            gt_cache.clear()
            for fr in multisession.lockstep(sessions, video, name):
                if fr.frame in prompt_s:
                    fr = dataclasses.replace(fr, model_time_s=fr.model_time_s + prompt_s[fr.frame])
                if on_frame is not None:
                    on_frame(fr)
                emit(fr)
        return SettingOutcome(prompts=tuple(records), sessions=tuple(groups))

    def run(self, method: Method, video: Video, emit: Emit) -> SettingOutcome:
        if not video.objects:
            for t in range(len(video)):
                emit(FrameResult(t, processed=False))
            return SettingOutcome()
        return self._run(method, video, emit)


class MaskSetting(SemiSupervisedSetting):
    """TABLE 4: each object's ground-truth mask on its first annotated frame."""

    name = "mask"
    requirements = Requirements(prompt_kinds=frozenset({PromptKind.MASK}))

    def prompt_object(self, session, method, frame, obj_id, mask, timer):
        p = MaskPrompt(frame=frame, obj_id=obj_id, mask=mask)
        timer.call(session.add_prompt, p)
        return [multisession.prompt_record(p)]


class BoxSetting(SemiSupervisedSetting):
    """TABLE 5: the tight box of each object's first annotated mask."""

    name = "box"
    requirements = Requirements(prompt_kinds=frozenset({PromptKind.BOX}))

    def prompt_object(self, session, method, frame, obj_id, mask, timer):
        box = box_of_mask(mask)
        if box is None:  # Video.objects guarantees presence; keep a clear message anyway
            from harness.errors import DataError

            raise DataError(f"object {obj_id} has an empty mask on its first annotated frame {frame}")
        p = BoxPrompt(frame=frame, obj_id=obj_id, box=box)
        timer.call(session.add_prompt, p)
        return [multisession.prompt_record(p)]


class PointSetting(SemiSupervisedSetting):
    """TABLE 6: ``n_clicks`` positive clicks per object (rule in :mod:`harness.settings.clicks`)."""

    n_clicks: ClassVar[int]
    requirements = Requirements(prompt_kinds=frozenset({PromptKind.POINTS}))

    def prompt_object(self, session, method, frame, obj_id, mask, timer):
        from harness.settings.clicks import next_click, place_clicks

        if not method.capabilities.prompt_feedback:
            clicks = place_clicks(mask, self.n_clicks)
            p = PointsPrompt(frame=frame, obj_id=obj_id, points=tuple(c.xy for c in clicks),
                             labels=(1,) * len(clicks))
            timer.call(session.add_prompt, p)
            return [multisession.prompt_record(p, rules=[c.rule for c in clicks])]
        records = []
        clicks: list = []
        pred = None
        for _ in range(self.n_clicks):
            ck = next_click(mask, clicks, pred)
            if ck is None:
                break
            clicks.append(ck)
            p = PointsPrompt(frame=frame, obj_id=obj_id, points=(ck.xy,), labels=(1,))
            fb = timer.call(session.add_prompt, p)
            pred = None if not fb or obj_id not in fb else np.asarray(fb[obj_id], dtype=bool)
            records.append(multisession.prompt_record(p, rules=[ck.rule]))
        return records


class Point1Setting(PointSetting):
    name = "point1"
    n_clicks = 1


class Point3Setting(PointSetting):
    name = "point3"
    n_clicks = 3


class Point5Setting(PointSetting):
    name = "point5"
    n_clicks = 5

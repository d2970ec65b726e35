"""Interactive VOS (TABLE 8), the DAVIS 2019 interactive protocol with our own scribble robot.

Per video (see docs/settings.md, "Interactive"):

1. Interaction 1 is a robot scribble for every object visible on one annotated frame: the frame
   showing the most objects (ties: the one whose smallest object is largest, then the earliest) —
   DAVIS's annotators scribbled "the most relevant frame" of each sequence. With no prediction yet,
   each object's error region is its whole mask.
2. The method re-predicts the whole video after every interaction (``capabilities.reprompt``;
   ``Session.propagate`` again, with all scribbles so far).
3. Every prediction is scored on the annotated frames (J and F, per object and frame); the robot
   then scribbles on the annotated frame with the lowest mean J&F over objects that has not been
   scribbled yet (all annotated frames again once each was used), on each object's false negatives
   (positive strokes) and false positives (negative strokes) — :mod:`harness.settings.robot`.
4. At most ``max_interactions`` (8) interactions. Time budget: ``seconds_per_object_interaction``
   (30 s) x objects x interactions for the whole video (DAVIS: 30 s per object per interaction);
   the interaction that pushes the method's cumulative time past it is discarded and the loop
   stops (as DAVIS). The time of an interaction is the wall time spent inside the method's
   session calls (``add_prompt`` and every step of ``propagate``), not the robot's or scoring time.
5. The robot stops early when the chosen frame has nothing left to correct.

Methods without a scribble interface get each stroke as one click (positive/negative) at its middle
point. The final predictions (of the last counted interaction) are emitted; the per-interaction
scores and times go to ``SettingOutcome.details`` (an :class:`~harness.metrics.interactive.InteractiveVideo`)
for :func:`harness.metrics.interactive.summarize`, which the runner calls with this setting's
``summary_options``.

Memory: the label maps of the latest counted prediction and of the one being made are kept
zlib-compressed (label maps are mostly background: a few KB per 480p frame), as is the GT.
"""

from __future__ import annotations

import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from harness.api import FrameResult, PromptKind
from harness.metrics.interactive import InteractionRound, InteractiveVideo, ObjectScores, SummaryOptions
from harness.options import check_ranges, option
from harness.settings import multisession
from harness.settings.base import Emit, Requirements, Setting, SettingOutcome
from harness.settings.robot import RobotConfig
from harness.timing import ModelTimer, WorkLog

if TYPE_CHECKING:
    from harness.api import Method
    from harness.data.video import Video


@dataclass(frozen=True)
class InteractiveConfig:
    """Options of the interactive setting (DAVIS 2019 values by default)."""

    max_interactions: int = option(8, ge=1)
    seconds_per_object_interaction: float = option(30.0, gt=0)
    time_threshold_s: float = option(60.0, gt=0)
    enforce_time_budget: bool = True
    protocol: str = option("mose", choices=("mose", "davis"))
    robot_kernel_fraction: float = option(0.2, ge=0, lt=1)
    robot_max_kernel_radius: float = option(16.0, gt=0)
    robot_min_nodes: int = option(4, ge=1)
    robot_max_grid: int = option(192, ge=1)

    def __post_init__(self) -> None:  # also when built in code, not only from a config
        check_ranges(self, where="setting.interactive.options")

    @property
    def summary_options(self) -> SummaryOptions:
        """The protocol constants scoring needs (same values as the run used)."""
        return SummaryOptions(self.max_interactions, self.seconds_per_object_interaction, self.time_threshold_s)

    @property
    def robot(self) -> RobotConfig:
        return RobotConfig(self.robot_kernel_fraction, self.robot_max_kernel_radius, self.robot_min_nodes,
                           self.robot_max_grid)


class _Packed:
    """A label map stored zlib-compressed."""

    __slots__ = ("data", "shape")

    def __init__(self, labels: np.ndarray) -> None:
        self.shape = labels.shape
        self.data = zlib.compress(np.ascontiguousarray(labels, dtype=np.uint8).tobytes(), 1)

    def get(self) -> np.ndarray:
        return np.frombuffer(zlib.decompress(self.data), dtype=np.uint8).reshape(self.shape)


def choose_first_frame(gts: dict[int, _Packed], objects: list[int]) -> int:
    """The annotated frame with the most objects present (ties: largest smallest object, earliest)."""
    best, best_key = None, None
    for t in sorted(gts):
        counts = np.bincount(gts[t].get().ravel(), minlength=256)
        areas = [int(counts[o]) for o in objects if counts[o] > 0]
        key = (len(areas), min(areas) if areas else 0, -t)
        if best_key is None or key > best_key:
            best, best_key = t, key
    assert best is not None
    return best


class InteractiveSetting(Setting):
    name = "interactive"
    requirements = Requirements(prompt_kinds=frozenset({PromptKind.SCRIBBLE, PromptKind.POINTS}), reprompt=True)
    metrics: ClassVar[tuple[str, ...]] = ("AUC", "JF_at_60s", "JF")
    scoring: ClassVar[str] = "interactive"
    Config = InteractiveConfig

    def run(self, method: Method, video: Video, emit: Emit) -> SettingOutcome:
        from harness.data.masks import masks_to_labels
        from harness.metrics.frame import score_frame
        from harness.settings import robot

        cfg: InteractiveConfig = self.cfg
        caps = method.capabilities
        name = multisession.method_name(method)
        objects = sorted(int(o) for o in video.objects)
        shape = (video.height, video.width)
        n = len(video)
        if not objects:
            for t in range(n):
                emit(FrameResult(t, processed=False))
            return SettingOutcome(details=InteractiveVideo((), ()))
        gts = {t: _Packed(video.gt(t)) for t in video.annotated}
        frame = choose_first_frame(gts, objects)
        use_scribbles = PromptKind.SCRIBBLE in caps.prompts
        # prompt frames are chosen by the robot as the loop goes: not known when sessions open
        groups = multisession.plan_sessions(caps, dict.fromkeys(objects, None))
        session_of = {o: gi for gi, g in enumerate(groups) for o in g}
        budget = cfg.seconds_per_object_interaction * cfg.max_interactions * len(objects)

        accepted: list[_Packed] | None = None
        accepted_times: list[float] = [0.0] * n
        accepted_done: list[bool] = [False] * n
        # FPS counts the model's work in every round (the discarded one too), not the last only
        timer, work = ModelTimer(getattr(method, "device", None)), WorkLog()
        rounds: list[InteractionRound] = []
        records: list[dict[str, Any]] = []
        used: list[int] = []
        cumulative = 0.0
        stop_reason = "max_interactions"
        with ExitStack() as stack:
            sessions = multisession.open_sessions(stack, method, video, len(groups))
            prompted: set[int] = set()
            for i in range(1, cfg.max_interactions + 1):
                pred_f = accepted[frame].get() if accepted is not None else np.zeros(shape, np.uint8)
                scribbles = robot.interact(pred_f, gts[frame].get(), objects, frame, cfg.robot, initial=i == 1)
                if not scribbles:
                    stop_reason = "nothing_to_correct"
                    break
                for obj, sp in scribbles.items():
                    p = sp if use_scribbles else robot.scribble_to_points(sp)
                    if p is None:
                        continue
                    timer.call(sessions[session_of[obj]].add_prompt, p)
                    prompted.add(session_of[obj])
                    records.append(multisession.prompt_record(p, interaction=i))
                prompt_s = timer.pop()
                work.add_other(prompt_s)
                active = [sessions[gi] for gi in sorted(prompted)]
                store: list[_Packed] = []
                times: list[float] = []
                done: list[bool] = []
                sums = {o: np.zeros(3) for o in objects}
                frame_jf: dict[int, float] = {}
                for fr in multisession.lockstep(active, video, name, timer):
                    labels = masks_to_labels({o: fr.masks[o] for o in objects if o in fr.masks}, shape)
                    store.append(_Packed(labels))
                    times.append(fr.model_time_s)
                    done.append(fr.processed)
                    work.add(fr)
                    if fr.frame in gts:
                        sc = score_frame(labels, gts[fr.frame].get(), objects, cfg.protocol)
                        for o in objects:
                            s = sc[o]
                            sums[o] += (s.J, s.F, s.F if s.F_hat is None else s.F_hat)
                        frame_jf[fr.frame] = float(np.mean([(sc[o].J + sc[o].F) / 2 for o in objects]))
                round_s = prompt_s + timer.pop()
                cumulative += round_s
                counted = not (cfg.enforce_time_budget and cumulative > budget)
                k = max(len(gts), 1)
                rounds.append(InteractionRound(
                    interaction=i, frame=int(frame), time_s=float(round_s), counted=counted,
                    objects={o: ObjectScores(float(v[0] / k), float(v[1] / k), float(v[2] / k)) for o, v in sums.items()},
                ))
                if not counted:
                    stop_reason = "time_budget"
                    break
                accepted, accepted_times, accepted_done = store, times, done
                used.append(frame)
                candidates = [t for t in gts if t not in used] or list(gts)
                frame = min(candidates, key=lambda t: (frame_jf[t], t))
        for t in range(n):
            if accepted is None:
                emit(FrameResult(t, processed=False))
            else:
                labels = accepted[t].get()
                emit(FrameResult(t, masks={o: labels == o for o in objects}, model_time_s=accepted_times[t],
                                 processed=accepted_done[t]))
        details = InteractiveVideo(tuple(objects), tuple(rounds), tuple(used), float(budget), stop_reason,
                                   "scribble" if use_scribbles else "points")
        return SettingOutcome(prompts=tuple(records), sessions=tuple(groups), details=details, work=work.result())

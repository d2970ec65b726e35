"""DAVIS-interactive summary: AUC of the J&F-vs-time curve, J&F@60s and final J&F.

As the DAVIS interactive evaluation defines them (davisinteractive's ``EvaluationService``; our own
code, formulas only):

* every (video, object) pair is one entry; an entry's score after interaction ``i`` is the object's
  J&F averaged over the video's evaluated frames;
* a video whose interactions stop early (time-out or nothing left to correct) keeps, for the
  missing interactions, the scores of its last counted interaction with a time cost of 0; a video
  with no counted interaction scores 0;
* the curve's value at interaction ``i`` is the mean over all entries; its time is the cumulative
  sum over interactions of the per-video mean time of that interaction;
* the curve starts at ``(0, 0)`` and is extended flat to the global time-out
  ``mean objects per video * max_interactions * seconds_per_object_interaction`` (DAVIS 2019:
  8 x 30 s per object);
* AUC = trapezoidal area under the curve / the curve's last time; J&F@60s = the curve linearly
  interpolated at 60 s; final J&F = the curve at the last interaction.

Values are reported x100, like the other VOS metrics.

A video's input is an :class:`InteractiveVideo` (the interactive setting's ``SettingOutcome.details``,
stored as JSON in the video's record); the protocol constants come from :class:`SummaryOptions`
(the setting's options: the runner passes ``InteractiveConfig.summary_options``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

METRICS = ("J_AND_F", "J_AND_F_hat", "J")


@dataclass(frozen=True)
class SummaryOptions:
    """Protocol constants of the summary (DAVIS 2019 values by default)."""

    max_interactions: int = 8
    seconds_per_object_interaction: float = 30.0
    time_threshold_s: float = 60.0
    metric: str = "J_AND_F"

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown interactive metric '{self.metric}'; use one of {METRICS}")


@dataclass(frozen=True)
class ObjectScores:
    """An object's J, F and F̂ (fractions) averaged over the video's evaluated frames."""

    J: float
    F: float
    F_hat: float


@dataclass(frozen=True)
class InteractionRound:
    """One interaction: the scribbled frame, the method's time for it, whether it fit the budget,
    and every object's scores after it."""

    interaction: int
    frame: int
    time_s: float
    counted: bool
    objects: Mapping[int, ObjectScores]

    def to_json(self) -> dict[str, Any]:
        return {"interaction": self.interaction, "frame": self.frame, "time_s": self.time_s, "counted": self.counted,
                "objects": {str(o): asdict(s) for o, s in self.objects.items()}}


@dataclass(frozen=True)
class InteractiveVideo:
    """The interactive setting's per-video result for scoring (and audit).

    ``objects``: GT ids; ``rounds``: every interaction tried, in order (the last one may be
    ``counted=False``: it broke the time budget); ``stop_reason``: max_interactions | time_budget |
    nothing_to_correct."""

    objects: tuple[int, ...]
    rounds: tuple[InteractionRound, ...]
    scribbled_frames: tuple[int, ...] = ()
    time_budget_s: float = 0.0
    stop_reason: str = ""
    prompt_kind: str = ""
    kind: ClassVar[str] = "interactive"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "objects": list(self.objects), "rounds": [r.to_json() for r in self.rounds],
                "scribbled_frames": list(self.scribbled_frames), "time_budget_s": self.time_budget_s,
                "stop_reason": self.stop_reason, "prompt_kind": self.prompt_kind}

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str) -> InteractiveVideo:
        from harness.errors import DataError

        try:
            rounds = tuple(
                InteractionRound(int(r["interaction"]), int(r["frame"]), float(r["time_s"]), bool(r["counted"]),
                                 {int(o): ObjectScores(float(v["J"]), float(v["F"]), float(v["F_hat"]))
                                  for o, v in r["objects"].items()})
                for r in d["rounds"])
            return cls(tuple(int(o) for o in d["objects"]), rounds, tuple(int(f) for f in d["scribbled_frames"]),
                       float(d["time_budget_s"]), str(d["stop_reason"]), str(d["prompt_kind"]))
        except KeyError as e:
            raise DataError(f"{where}: interactive details without key {e}; rerun the video (--force)") from None


@dataclass(frozen=True)
class InteractiveSummary:
    """Dataset-level interactive results (x100 except times, in seconds)."""

    AUC: float
    JF_at_60s: float
    JF: float
    curve_time_s: tuple[float, ...]
    curve_value: tuple[float, ...]
    time_threshold_s: float
    global_timeout_s: float
    n_entries: int
    metric: str = "J_AND_F"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["curve_time_s"] = list(self.curve_time_s)
        d["curve_value"] = list(self.curve_value)
        return d


def _entry_value(scores: ObjectScores, metric: str) -> float:
    if metric == "J_AND_F":
        return 0.5 * (scores.J + scores.F)
    if metric == "J_AND_F_hat":
        return 0.5 * (scores.J + scores.F_hat)
    return scores.J


def curve_metrics(time_s: Sequence[float], value: Sequence[float], global_timeout_s: float,
                  time_threshold_s: float = 60.0) -> tuple[float, float, np.ndarray, np.ndarray]:
    """AUC and value@threshold of a curve given at interactions 1..n (no (0,0) point yet).

    Returns ``(auc, value_at_threshold, full_time, full_value)`` with the curve prefixed by ``(0, 0)``
    and extended flat to ``global_timeout_s``.
    """
    t = np.concatenate([[0.0], np.asarray(time_s, float), [float(global_timeout_s)]])
    v = np.asarray(value, float)
    v = np.concatenate([[0.0], v, v[-1:] if len(v) else [0.0]])
    at = float(np.interp(time_threshold_s, t, v))
    tmax = float(t.max())
    trap = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
    auc = 0.0 if tmax == 0.0 else float(trap(v, x=t) / tmax)
    return auc, at, t, v


def summarize_interactive(videos: Sequence[InteractiveVideo], options: SummaryOptions) -> InteractiveSummary:
    """Dataset summary from the interactive setting's per-video results (see the module docstring)."""
    if not videos:
        raise ValueError("no interactive records to summarize")
    n_max = options.max_interactions
    n_obj_total = 0
    sums = np.zeros(n_max)
    times = np.zeros((len(videos), n_max))
    for vi, rec in enumerate(videos):
        n_obj_total += len(rec.objects)
        by_i = {r.interaction: r for r in rec.rounds if r.counted}
        prev = dict.fromkeys(rec.objects, 0.0)
        for i in range(1, n_max + 1):
            r = by_i.get(i)
            if r is not None:
                prev = {o: _entry_value(r.objects[o], options.metric) for o in rec.objects}
                times[vi, i - 1] = r.time_s
            sums[i - 1] += sum(prev.values())
    value = sums / max(n_obj_total, 1)
    cum_time = np.cumsum(times.mean(axis=0))
    avg_objects = n_obj_total / len(videos)
    global_timeout = avg_objects * n_max * options.seconds_per_object_interaction
    auc, at, t, v = curve_metrics(cum_time, value, global_timeout, options.time_threshold_s)
    return InteractiveSummary(
        AUC=100.0 * auc, JF_at_60s=100.0 * at, JF=100.0 * float(value[-1]),
        curve_time_s=tuple(float(x) for x in t), curve_value=tuple(100.0 * float(x) for x in v),
        time_threshold_s=float(options.time_threshold_s), global_timeout_s=float(global_timeout),
        n_entries=n_obj_total, metric=options.metric,
    )

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

A per-video record is the ``extra`` the interactive setting returns (JSON)::

    {"n_objects": 2, "objects": [1, 2],
     "rounds": [{"interaction": 1, "frame": 17, "time_s": 3.2, "counted": true,
                 "objects": {"1": {"J": .8, "F": .7, "F_hat": .75}, "2": {...}}}, ...]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

METRICS = ("J_AND_F", "J_AND_F_hat", "J")


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


def _entry_value(scores: Mapping[str, float], metric: str) -> float:
    if metric == "J_AND_F":
        return 0.5 * (float(scores["J"]) + float(scores["F"]))
    if metric == "J_AND_F_hat":
        return 0.5 * (float(scores["J"]) + float(scores["F_hat"]))
    if metric == "J":
        return float(scores["J"])
    raise ValueError(f"unknown interactive metric '{metric}'; use one of {METRICS}")


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


def summarize(records: Sequence[Mapping[str, Any]], *, max_interactions: int = 8,
              seconds_per_object_interaction: float = 30.0, time_threshold_s: float = 60.0,
              metric: str = "J_AND_F") -> InteractiveSummary:
    """Dataset summary from the interactive setting's per-video records (see the module docstring)."""
    if not records:
        raise ValueError("no interactive records to summarize")
    n_obj_total = 0
    sums = np.zeros(max_interactions)
    times = np.zeros((len(records), max_interactions))
    for vi, rec in enumerate(records):
        objs = [str(o) for o in rec["objects"]]
        n_obj_total += len(objs)
        rounds = sorted((r for r in rec.get("rounds", ()) if r.get("counted", True)),
                        key=lambda r: int(r["interaction"]))
        prev = dict.fromkeys(objs, 0.0)
        by_i = {int(r["interaction"]): r for r in rounds}
        for i in range(1, max_interactions + 1):
            r = by_i.get(i)
            if r is not None:
                prev = {o: _entry_value(r["objects"][o], metric) for o in objs}
                times[vi, i - 1] = float(r["time_s"])
            sums[i - 1] += sum(prev.values())
    n_entries = n_obj_total
    value = sums / max(n_entries, 1)
    cum_time = np.cumsum(times.mean(axis=0))
    avg_objects = n_obj_total / len(records)
    global_timeout = avg_objects * max_interactions * seconds_per_object_interaction
    auc, at, t, v = curve_metrics(cum_time, value, global_timeout, time_threshold_s)
    return InteractiveSummary(
        AUC=100.0 * auc, JF_at_60s=100.0 * at, JF=100.0 * float(value[-1]),
        curve_time_s=tuple(float(x) for x in t), curve_value=tuple(100.0 * float(x) for x in v),
        time_threshold_s=float(time_threshold_s), global_timeout_s=float(global_timeout),
        n_entries=n_entries, metric=metric,
    )

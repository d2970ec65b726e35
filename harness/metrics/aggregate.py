"""Per-object and dataset tables from the per-frame table (no PNG is read here).

The per-frame table has one row per (video, object, scored frame) with the columns listed in
:data:`FRAME_COLUMNS`. Per-frame and per-object values are fractions in [0, 1] (kept unscaled so the
official arithmetic is reproduced bit for bit); dataset numbers (:class:`ScoreSummary`) are x100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from harness.metrics.clips import clip_mean, find_clips

FRAME_COLUMNS = ("video", "object", "frame", "t", "missing", "J", "F", "F_hat", "gt_area", "pred_area",
                 "gt_x", "gt_y", "gt_w", "gt_h", "pred_x", "pred_y", "pred_w", "pred_h", "gt_cx", "gt_cy")

MOSE_OBJECT_COLUMNS = ("video", "object", "n_scored", "JF_hat", "J", "F_hat", "JF_hat_d", "JF_hat_r", "F", "JF",
                       "J_d", "F_hat_d", "J_r", "F_hat_r", "n_d_clips", "n_r_clips", "n_missing")
DAVIS_OBJECT_COLUMNS = ("video", "object", "n_scored", "JF", "J", "J_recall", "J_decay", "F", "F_recall",
                        "F_decay", "n_missing")


@dataclass(frozen=True)
class VideoInfo:
    """What aggregation needs about a video besides its rows: objects (in meta order), size, length.

    ``length``: number of ground-truth frames (the meta's ``length``). ``frames``: number of *video*
    frames (the LD / long-video rule, see docs/metrics.md); ``None`` when unknown (per-frame tables
    written before it was recorded), where :attr:`video_frames` falls back to ``length``.
    """

    objects: tuple[int, ...]
    height: int
    width: int
    length: int
    frames: int | None = None

    @property
    def video_frames(self) -> int:
        """Video frames for the LD rule: ``frames`` when known, else ``length``."""
        return self.length if self.frames is None else self.frames


@dataclass(frozen=True)
class ScoreSummary:
    """Dataset-level scores, x100 floats (unrounded; ``None`` where the protocol does not define
    them or no object has a value, e.g. ``JF_hat_d`` without any disappearance clip).

    ``ci``: 95% bootstrap interval over objects for each number, ``name -> (low, high)``.
    ``pred_warnings``: :class:`harness.metrics.score.PredictionChecks` as a dict (greyscale prediction
    PNGs, prediction ids not among the objects); empty when not checked.
    """

    protocol: str
    JF_hat: float | None
    J: float | None
    F_hat: float | None
    JF_hat_d: float | None
    JF_hat_r: float | None
    F: float | None
    JF: float | None
    n_objects: int
    n_missing: int
    J_recall: float | None = None
    J_decay: float | None = None
    F_recall: float | None = None
    F_decay: float | None = None
    n_frames: int = 0
    missing_videos: tuple[str, ...] = ()
    ci: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    pred_warnings: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["missing_videos"] = list(self.missing_videos)
        d["ci"] = {k: [lo, hi] for k, (lo, hi) in self.ci.items()}
        return d


def davis_statistics(values: np.ndarray) -> tuple[float, float, float]:
    """DAVIS (mean, recall = fraction > 0.5, decay = mean of first quarter - mean of last quarter).

    The quarters are davis2017-evaluation's bins ``round(linspace(1, n, 5)) - 1`` (inclusive ends);
    unlike that tool we keep the indices as integers (it casts them to uint8, which wraps for videos
    with more than 256 scored frames).
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(np.nanmean(v))
    recall = float(np.nanmean(v > 0.5))
    ids = (np.round(np.linspace(1, len(v), 5) + 1e-10) - 1).astype(np.int64)
    bins = [v[ids[i]: ids[i + 1] + 1] for i in range(4)]
    decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return mean, recall, decay


def object_table(per_frame: Any, videos: Mapping[str, VideoInfo], protocol: str) -> Any:
    """One row per (video, object) of ``videos`` (fractions), in video-name then meta object order.

    Objects without any scored frame (videos with fewer than 3 GT frames) get J = F = F̂ = 0 and no
    d/r values, as the official scorer reports them.
    """
    import pandas as pd

    df = per_frame.sort_values(["video", "object", "t"], kind="stable")
    groups = {key: g for key, g in df.groupby(["video", "object"], sort=False)}
    rows = []
    for vid in sorted(videos):
        for oid in videos[vid].objects:
            g = groups.get((vid, oid))
            n = 0 if g is None else len(g)
            n_miss = 0 if g is None else int(g["missing"].sum())
            if protocol == "mose":
                rows.append(_mose_object(vid, oid, g, n, n_miss))
            else:
                rows.append(_davis_object(vid, oid, g, n, n_miss))
    cols = MOSE_OBJECT_COLUMNS if protocol == "mose" else DAVIS_OBJECT_COLUMNS
    return pd.DataFrame(rows, columns=list(cols))


def _mose_object(vid: str, oid: int, g: Any, n: int, n_miss: int) -> dict[str, Any]:
    if n == 0:
        j = f = fh = 0.0
        jd = fd = jr = fr = None
        nd = nr = 0
    else:
        jv = g["J"].to_numpy(dtype=float)
        fv = g["F"].to_numpy(dtype=float)
        hv = g["F_hat"].to_numpy(dtype=float)
        j, f, fh = float(jv.mean()), float(fv.mean()), float(hv.mean())
        clips = find_clips(g["gt_area"].to_numpy() == 0)
        jd, fd = clip_mean(jv, clips.disappear), clip_mean(hv, clips.disappear)
        jr, fr = clip_mean(jv, clips.reappear), clip_mean(hv, clips.reappear)
        nd, nr = len(clips.disappear), len(clips.reappear)
    return {
        "video": vid, "object": oid, "n_scored": n,
        "JF_hat": (j + fh) / 2, "J": j, "F_hat": fh,
        "JF_hat_d": None if jd is None else (jd + fd) / 2,
        "JF_hat_r": None if jr is None else (jr + fr) / 2,
        "F": f, "JF": (j + f) / 2,
        "J_d": jd, "F_hat_d": fd, "J_r": jr, "F_hat_r": fr,
        "n_d_clips": nd, "n_r_clips": nr, "n_missing": n_miss,
    }


def _davis_object(vid: str, oid: int, g: Any, n: int, n_miss: int) -> dict[str, Any]:
    jv = np.empty(0) if g is None else g["J"].to_numpy(dtype=float)
    fv = np.empty(0) if g is None else g["F"].to_numpy(dtype=float)
    jm, jr, jd = davis_statistics(jv)
    fm, fr, fd = davis_statistics(fv)
    return {"video": vid, "object": oid, "n_scored": n, "JF": (jm + fm) / 2, "J": jm,
            "J_recall": jr, "J_decay": jd, "F": fm, "F_recall": fr, "F_decay": fd, "n_missing": n_miss}


def _mean(col: Any) -> float | None:
    v = np.asarray(col, dtype=float)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else None


def _pair(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else (a + b) / 2


def dataset_scores(objects: Any, protocol: str) -> dict[str, float | None]:
    """Dataset numbers (x100) from an object table: unweighted means over objects.

    Follows the official arithmetic, ``(mean(J) + mean(F̂)) / 2`` of the fractions, so that rounding to
    2 decimals gives the official figures; d/r means run over the objects that have a value.
    """
    if len(objects) == 0:
        keys = ("JF_hat", "J", "F_hat", "JF_hat_d", "JF_hat_r", "F", "JF") if protocol == "mose" else \
            ("JF", "J", "J_recall", "J_decay", "F", "F_recall", "F_decay")
        return dict.fromkeys(keys)
    if protocol == "mose":
        j, fh, f = (_mean(objects[c]) for c in ("J", "F_hat", "F"))
        jd, fd, jr, fr = (_mean(objects[c]) for c in ("J_d", "F_hat_d", "J_r", "F_hat_r"))
        out = {"JF_hat": _pair(j, fh), "J": j, "F_hat": fh, "JF_hat_d": _pair(jd, fd),
               "JF_hat_r": _pair(jr, fr), "F": f, "JF": _pair(j, f)}
    else:
        vals = {c: _mean(objects[c]) for c in ("J", "J_recall", "J_decay", "F", "F_recall", "F_decay")}
        out = {"JF": _pair(vals["J"], vals["F"]), **vals}
    return {k: (None if v is None else v * 100) for k, v in out.items()}


def summarize(per_frame: Any, videos: Mapping[str, VideoInfo], protocol: str, *,
              missing_videos: tuple[str, ...] = (), ci_samples: int = 1000, seed: int = 0) -> tuple[Any, ScoreSummary]:
    """``(object_table, ScoreSummary)`` with bootstrap CIs, from the per-frame table alone."""
    from harness.metrics.bootstrap import dataset_ci

    objects = object_table(per_frame, videos, protocol)
    ds = dataset_scores(objects, protocol)
    ci = dataset_ci(objects, protocol, samples=ci_samples, seed=seed) if len(objects) else {}
    n_missing = int(per_frame["missing"].sum()) if len(per_frame) else 0
    common = dict(protocol=protocol, n_objects=len(objects), n_missing=n_missing, n_frames=len(per_frame),
                  missing_videos=tuple(missing_videos), ci=ci)
    if protocol == "mose":
        summary = ScoreSummary(**ds, **common)
    else:
        summary = ScoreSummary(JF_hat=None, J=ds["J"], F_hat=None, JF_hat_d=None, JF_hat_r=None, F=ds["F"],
                               JF=ds["JF"], J_recall=ds["J_recall"], J_decay=ds["J_decay"],
                               F_recall=ds["F_recall"], F_decay=ds["F_decay"], **common)
    return objects, summary

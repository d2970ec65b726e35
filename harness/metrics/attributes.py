"""Attribute analysis (paper TABLE 9) and the long-video table (TABLE 11), from score tables.

Attributes come from an attribute file (``attributes.json``: ``{"videos": {video: {obj_id: [codes]}}}``,
or ``{video: [codes]}`` for video-level codes that apply to every object) and/or are derived from
the ground truth alone (marked ``derived``), over the scored frames in the per-frame table:

* DR - the object disappears and later reappears (a present -> empty -> present pattern);
* LD - the video has more than 300 *video* frames (:attr:`VideoInfo.video_frames`; MOSEv2 annotates
  only some frames, so GT-frame counts would understate it);
* FM - mean centroid motion between consecutive scored frames where it is visible > 20 px per frame
  (divided by the frame-number gap of sparsely annotated videos);
* SV - the largest and smallest visible box areas differ by more than 2x;
* DV - small: median visible mask area < 1% of the frame.

Per attribute: J&F̂, J&F̂_d, J&F̂_r over the objects that have it (dataset arithmetic of
:func:`harness.metrics.aggregate.dataset_scores`); "Overall" = mean of the values of the TABLE 9
attributes present (of all rows when none of the nine is present).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.errors import DataError
from harness.metrics.aggregate import VideoInfo, dataset_scores
from harness.metrics.clips import find_clips

TABLE9_CODES = ("OCC", "DR", "CRO", "DV", "CE", "NC", "LD", "MS", "KD")
DERIVED_CODES = ("DR", "LD", "FM", "SV", "DV")
LONG_FRAMES = 300
FM_PIXELS = 20.0
SV_RATIO = 2.0
DV_FRACTION = 0.01

ObjectKey = tuple[str, int]


def load_attributes(path: str | os.PathLike, infos: Mapping[str, VideoInfo]) -> dict[ObjectKey, frozenset[str]]:
    """Read an attribute file into ``(video, object) -> codes`` for the objects in ``infos``."""
    try:
        data = json.loads(open(path, encoding="utf-8").read())
    except FileNotFoundError:
        raise DataError(f"attribute file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"attribute file {path} is not valid JSON ({exc})") from None
    videos = data.get("videos", data) if isinstance(data, dict) else None
    if not isinstance(videos, dict):
        raise DataError(f"attribute file {path}: expected {{'videos': {{video: {{object: [codes]}}}}}}")
    out: dict[ObjectKey, frozenset[str]] = {}
    for vid, entry in videos.items():
        if vid not in infos:
            continue
        if isinstance(entry, list):
            for oid in infos[vid].objects:
                out[(vid, oid)] = frozenset(map(str, entry))
        elif isinstance(entry, dict):
            for key, codes in entry.items():
                try:
                    oid = int(key)
                except ValueError:
                    raise DataError(f"attribute file {path}: videos.{vid} key {key!r} is not an object id") from None
                if not isinstance(codes, list):
                    raise DataError(f"attribute file {path}: videos.{vid}.{key} must be a list of codes")
                out[(vid, oid)] = frozenset(map(str, codes))
        else:
            raise DataError(f"attribute file {path}: videos.{vid} must be a list of codes or an object map")
    return out


def derive_attributes(per_frame: Any, infos: Mapping[str, VideoInfo]) -> dict[ObjectKey, frozenset[str]]:
    """GT-derived codes (DR, LD, FM, SV, DV) per object, from the per-frame table alone."""
    out: dict[ObjectKey, frozenset[str]] = {}
    groups = dict(tuple(per_frame.sort_values(["video", "object", "t"], kind="stable")
                        .groupby(["video", "object"], sort=False)))
    for vid, info in infos.items():
        for oid in info.objects:
            codes = set()
            if info.video_frames > LONG_FRAMES:
                codes.add("LD")
            g = groups.get((vid, oid))
            if g is not None and len(g):
                area = g["gt_area"].to_numpy(float)
                present = area > 0
                clips = find_clips(~present)
                if clips.disappear and any(r[0] > clips.disappear[0][0] for r in clips.reappear):
                    codes.add("DR")
                if present.any():
                    cx, cy = g["gt_cx"].to_numpy(float), g["gt_cy"].to_numpy(float)
                    both = present[1:] & present[:-1]
                    if both.any():
                        # px per video frame: scored frames of a sparsely annotated video (MOSEv2: at least
                        # every 5th) lie several frames apart, which the frame numbers tell
                        gap = np.ones(len(g) - 1)
                        names = g["frame"].astype(str).to_numpy() if "frame" in g.columns else ()
                        if len(names) and all(n.isdigit() for n in names):
                            gap = np.maximum(np.diff(np.array([int(n) for n in names], dtype=float)), 1.0)
                        step = (np.hypot(np.diff(cx), np.diff(cy)) / gap)[both]
                        if step.mean() > FM_PIXELS:
                            codes.add("FM")
                    boxes = (g["gt_w"] * g["gt_h"]).to_numpy(float)[present]
                    if boxes.max() > SV_RATIO * boxes.min():
                        codes.add("SV")
                    if np.median(area[present]) < DV_FRACTION * info.height * info.width:
                        codes.add("DV")
            out[(vid, oid)] = frozenset(codes)
    return out


def attribute_table(objects: Any, attributes: Mapping[ObjectKey, frozenset[str]], *,
                    codes: Sequence[str] = TABLE9_CODES, derived: frozenset[str] = frozenset()) -> Any:
    """TABLE 9 as rows ``attribute, derived, n_objects, JF_hat, JF_hat_d, JF_hat_r`` (x100), plus "Overall".

    Args:
        objects: MOSE object table (fractions) from :func:`harness.metrics.aggregate.object_table`.
        attributes: ``(video, object) -> codes``.
        codes: attributes (rows) in order; ``derived``: which of them were derived from GT.
    """
    import pandas as pd

    keys = list(zip(objects["video"], objects["object"].astype(int)))
    rows = []
    for code in codes:
        mask = np.array([code in attributes.get(k, frozenset()) for k in keys], dtype=bool)
        ds = dataset_scores(objects[mask], "mose") if mask.any() else dict.fromkeys(("JF_hat", "JF_hat_d", "JF_hat_r"))
        rows.append({"attribute": code, "derived": code in derived, "n_objects": int(mask.sum()),
                     "JF_hat": ds["JF_hat"], "JF_hat_d": ds["JF_hat_d"], "JF_hat_r": ds["JF_hat_r"]})
    table = pd.DataFrame(rows, columns=["attribute", "derived", "n_objects", "JF_hat", "JF_hat_d", "JF_hat_r"])
    overall = {"attribute": "Overall", "derived": False, "n_objects": len(objects)}
    # the paper's Overall averages its nine attributes; other rows only join when none of those is present
    base = table[table["attribute"].isin(TABLE9_CODES)] if table["attribute"].isin(TABLE9_CODES).any() else table
    for col in ("JF_hat", "JF_hat_d", "JF_hat_r"):
        vals = base[col].dropna().to_numpy(float)
        overall[col] = float(vals.mean()) if vals.size else None
    return pd.concat([pd.DataFrame([overall]), table], ignore_index=True)


def table9_markdown(table: Any, name: str = "method") -> str:
    """One TABLE 9 row (Overall then each attribute: J&F̂ / J&F̂_d / J&F̂_r) as markdown."""
    def fmt(v: Any) -> str:
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.1f}"

    heads = [f"{r.attribute}{'*' if r.derived else ''} ({r.n_objects})" for r in table.itertuples()]
    line1 = "| Method | " + " | ".join(f"{h} J&F̂ | J&F̂_d | J&F̂_r" for h in heads) + " |"
    line2 = "|---|" + "---|---|---|" * len(heads)
    vals = " | ".join(f"{fmt(r.JF_hat)} | {fmt(r.JF_hat_d)} | {fmt(r.JF_hat_r)}" for r in table.itertuples())
    return f"{line1}\n{line2}\n| {name} | {vals} |\n\n* derived from the ground truth\n"


def long_video_table(objects: Any, infos: Mapping[str, VideoInfo], *, min_frames: int = LONG_FRAMES) -> dict[str, Any]:
    """TABLE 11 for videos with more than ``min_frames`` video frames (:attr:`VideoInfo.video_frames`):
    J&F̂, J&F̂_d, J&F̂_r, Δ = d - r (x100)."""
    long_videos = {v for v, i in infos.items() if i.video_frames > min_frames}
    sub = objects[objects["video"].isin(long_videos)]
    ds = dataset_scores(sub, "mose") if len(sub) else dict.fromkeys(("JF_hat", "JF_hat_d", "JF_hat_r"))
    d, r = ds["JF_hat_d"], ds["JF_hat_r"]
    return {"min_frames": min_frames, "n_videos": len(long_videos), "n_objects": int(len(sub)),
            "JF_hat": ds["JF_hat"], "JF_hat_d": d, "JF_hat_r": r,
            "delta": None if d is None or r is None else d - r}

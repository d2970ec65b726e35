"""Unsupervised VOS scoring: match proposals to ground-truth objects, then score the matched pairs.

As the DAVIS 2017 unsupervised evaluation does (davis2017-evaluation ``_evaluate_unsupervised``;
our own code):

* a video may carry at most :data:`MAX_PROPOSALS` (20) proposal tracks, the ids in its label maps;
* for every (GT object, proposal) pair the per-frame J and F̂ (MOSE protocol; F under DAVIS) are
  computed on every evaluated frame (default: every annotated frame — the unsupervised task has no
  given first frame, so unlike the semi-supervised protocol no frame is skipped);
* when there are fewer proposals than objects, empty proposals are added until there are as many
  (davis2017-evaluation pads to the objects too; its proposals are the ids 1..max id, so with ids
  1..K, as methods emit them, the columns are the same);
* the one-to-one assignment maximising the summed per-object mean J&F̂ (Hungarian,
  ``scipy.optimize.linear_sum_assignment``) decides which proposal each object is scored with;
  an object matched to an added empty proposal is scored as an empty prediction.

The scorer streams: one (GT, prediction) frame pair is in memory at a time; per frame it keeps only
the per-(object, proposal) J/F/F̂ numbers, and the assignment is solved once at the end. Checked
against davis2017-evaluation's unsupervised mode (tests/test_conventions_unsupervised.py).

:func:`score_unsupervised` returns the assignment and per-object rows with the same fields as the
metrics engine's per-object table (``harness.metrics.aggregate.MOSE_OBJECT_COLUMNS``), so the rows
aggregate like any semi-supervised result. :func:`relabel` maps a proposal label map to GT ids,
for writing matched predictions that the ordinary scorer can read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from harness.data.video import Video

MAX_PROPOSALS = 20
"""At most this many proposal tracks per video (DAVIS 2017 unsupervised rule; the setting opens
sessions with ``max_objects=MAX_PROPOSALS``)."""


@dataclass(frozen=True)
class ProposalsVideo:
    """The unsupervised setting's per-video details: the proposal ids the method used (audit; the
    score is computed from the label maps)."""

    proposals: tuple[int, ...]
    kind: ClassVar[str] = "unsupervised"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "proposals": list(self.proposals)}


@dataclass(frozen=True)
class Matching:
    """Result of matching one video's proposals to its GT objects.

    Attributes:
        objects: GT object ids, the matrix rows.
        proposals: proposal ids found in the predictions, the matrix columns (before padding).
        score: ``(len(objects), n_columns)`` mean J&F̂ over the evaluated frames of each pair;
            columns past ``len(proposals)`` are the added empty proposals.
        assignment: ``obj_id -> proposal id``, ``None`` when matched to an empty proposal.
    """

    objects: tuple[int, ...]
    proposals: tuple[int, ...]
    score: np.ndarray
    assignment: Mapping[int, int | None]

    def as_dict(self) -> dict[str, Any]:
        return {"objects": list(self.objects), "proposals": list(self.proposals),
                "score": np.round(self.score, 6).tolist(),
                "assignment": {str(k): v for k, v in self.assignment.items()}}


def hungarian(score: np.ndarray) -> list[int]:
    """For each row of ``score`` (rows <= columns), the column of the assignment that maximises the
    summed score."""
    from scipy.optimize import linear_sum_assignment

    score = np.asarray(score, dtype=float)
    if score.shape[0] == 0:
        return []
    rows, cols = linear_sum_assignment(-score)
    out = [-1] * score.shape[0]
    for r, c in zip(rows, cols):
        out[int(r)] = int(c)
    return out


def match_scores(score: np.ndarray, objects: Sequence[int], proposals: Sequence[int]) -> Matching:
    """Match given a ``(N objects, M proposals)`` matrix of mean J&F̂, padding with empty proposals
    when ``M < N``: pass the empties' scores as extra columns (``score`` may already have ``N``
    columns or more; columns ``>= len(proposals)`` are empty proposals)."""
    score = np.asarray(score, dtype=float)
    if score.shape[0] != len(objects) or score.shape[1] < max(len(proposals), len(objects)):
        raise ValueError(f"score matrix {score.shape} does not fit {len(objects)} objects and "
                         f"{len(proposals)} proposals padded to at least {len(objects)} columns")
    cols = hungarian(score)
    assignment = {int(o): (int(proposals[c]) if c < len(proposals) else None) for o, c in zip(objects, cols)}
    return Matching(tuple(int(o) for o in objects), tuple(int(p) for p in proposals), score, assignment)


def relabel(labels: np.ndarray, assignment: Mapping[int, int | None]) -> np.ndarray:
    """Proposal label map -> GT-id label map (unmatched proposals become background)."""
    lut = np.zeros(256, dtype=np.uint8)
    for obj, prop in assignment.items():
        if prop is not None:
            lut[int(prop)] = int(obj)
    return lut[np.asarray(labels, dtype=np.uint8)]


PredSource = Callable[[int], np.ndarray] | str | os.PathLike | Mapping[int, np.ndarray]


def _pred_reader(video: Video, predictions: PredSource) -> Callable[[int], np.ndarray]:
    if callable(predictions):
        return predictions
    if isinstance(predictions, Mapping):
        return lambda i: predictions[i]
    root = Path(predictions)

    def read(i: int) -> np.ndarray:
        from harness.data.masks import read_label_png

        path = root / video.name / f"{video.frame_names[i]}.png"
        return read_label_png(path, expect_size=(video.height, video.width), what="prediction")

    return read


def _stack(mf: Any, protocol: str) -> np.ndarray:
    """``(n, 3)`` J, F, F_hat of a :class:`~harness.metrics.frame.FrameMeasures` (F_hat NaN under DAVIS)."""
    fh = mf.F_hat if protocol == "mose" else np.full(len(mf.J), np.nan)
    return np.stack([mf.J, mf.F, fh], axis=1)


def score_unsupervised(video: Video, predictions: PredSource, *, protocol: str = "mose",
                       frames: Sequence[int] | None = None) -> tuple[Matching, list[dict[str, Any]]]:
    """Match one video's proposals to its GT objects and score the matched pairs.

    Args:
        video: the video with its ground truth (``video.gt(i)``) and objects (``video.objects``).
        predictions: proposal label maps ``(H, W) uint8`` (ids = proposal ids): a prediction root
            folder (``<root>/<video>/<frame>.png``), a mapping or a callable ``frame -> labels``.
        protocol: "mose" (match on J&F̂) or "davis" (J&F).
        frames: frames to evaluate; default every annotated frame.

    Returns ``(matching, rows)``: one row per GT object in :data:`MOSE_OBJECT_COLUMNS` /
    ``DAVIS_OBJECT_COLUMNS`` form (fractions in [0, 1], like the metrics engine's object table).

    Raises:
        DataError: more than 20 proposals, or a prediction file missing / of the wrong size.
    """
    import pandas as pd

    from harness.errors import DataError
    from harness.metrics.aggregate import VideoInfo, object_table
    from harness.metrics.frame import check_protocol, measure_frame

    check_protocol(protocol)
    read = _pred_reader(video, predictions)
    frames = list(video.annotated if frames is None else frames)
    objects = tuple(sorted(int(o) for o in video.objects))
    n, nf = len(objects), len(frames)
    # One frame pair in memory at a time. Per frame: (J, F, F_hat) of every object against an empty
    # prediction (``empty``), and against every proposal present on that frame; a proposal absent
    # from a frame scores there exactly like an empty prediction, so its column starts as ``empty``.
    empty = np.zeros((n, nf, 3))
    cols: dict[int, np.ndarray] = {}  # proposal id -> (n, nf, 3), NaN until measured
    gt_area = np.zeros((n, nf))
    for t, fi in enumerate(frames):
        gt = video.gt(fi)
        pred = np.asarray(read(fi), dtype=np.uint8)
        counts = np.bincount(gt.ravel(), minlength=256)
        gt_area[:, t] = [counts[o] for o in objects]
        ids = [int(i) for i in np.flatnonzero(np.bincount(pred.ravel(), minlength=256)[1:]) + 1]
        for i in ids:
            if i not in cols:
                cols[i] = np.full((n, nf, 3), np.nan)
        if len(cols) > MAX_PROPOSALS:
            raise DataError(
                f"video '{video.name}': the predictions hold {len(cols)} proposal ids {sorted(cols)}; "
                f"the unsupervised protocol allows at most {MAX_PROPOSALS} per video (DAVIS rule) — "
                "keep the 20 best tracks (the method's max_objects)")
        empty[:, t] = _stack(measure_frame(np.zeros_like(gt), gt, list(objects), protocol), protocol)
        # Round r pairs object i with proposal ids[(i + r) % m] by relabelling the proposals to object
        # ids, so one metrics-engine call scores up to n pairs and m rounds cover every pair.
        m = max(len(ids), n)
        for r in range(m if ids else 0):
            lut = np.zeros(256, dtype=np.uint8)
            pairs = [(i, ids[(i + r) % m]) for i in range(n) if (i + r) % m < len(ids)]
            for i, pid in pairs:
                lut[pid] = objects[i]
            v = _stack(measure_frame(lut[pred], gt, list(objects), protocol), protocol)
            for i, pid in pairs:
                cols[pid][i, t] = v[i]
    proposals = tuple(sorted(cols))
    for pid in proposals:
        unseen = np.isnan(cols[pid][..., 0])
        cols[pid][unseen] = empty[unseen]
    # columns: the proposals, then empty predictions until there are as many columns as objects
    vals = np.stack([cols[p] for p in proposals] + [empty] * max(n - len(proposals), 0), axis=1) if n else \
        np.zeros((0, max(len(proposals), 0), nf, 3))
    boundary = vals[..., 2] if protocol == "mose" else vals[..., 1]
    score = (vals[..., 0].mean(axis=2) + boundary.mean(axis=2)) / 2 if nf else np.zeros(vals.shape[:2])
    matching = match_scores(score, objects, proposals)
    col_of = {p: c for c, p in enumerate(proposals)}
    rows = []
    for i, oid in enumerate(objects):
        pid = matching.assignment[oid]
        v = empty[i] if pid is None else vals[i, col_of[pid]]
        for t in range(nf):
            rows.append({"video": video.name, "object": oid, "frame": frames[t], "t": t, "missing": False,
                         "J": v[t, 0], "F": v[t, 1], "F_hat": v[t, 2], "gt_area": gt_area[i, t]})
    per_frame = pd.DataFrame(rows, columns=["video", "object", "frame", "t", "missing", "J", "F", "F_hat",
                                            "gt_area"])
    info = {video.name: VideoInfo(objects=objects, height=video.height, width=video.width, length=len(video),
                                frames=len(video))}
    table = object_table(per_frame, info, protocol)
    return matching, table.to_dict(orient="records")

"""Whole-dataset consistency checks (the layout rules the official MOSE tools rely on).

Opening a dataset already checks what is cheap (folders vs meta, frame gaps, masks without
frames). :func:`check_dataset` reads every ground-truth PNG too: it is what to run once on a
freshly downloaded or generated dataset.
"""

from __future__ import annotations

import numpy as np

from harness.data.dataset import Dataset
from harness.errors import DataError

MIN_SCORED_GT = 3  # the MOSE / DAVIS scorers skip the first and last GT frame


def short_video_note(names: list[str] | tuple[str, ...]) -> str | None:
    """The warning for videos with fewer than 3 ground-truth frames (``None`` if there are none):
    the official scorer scores none of their frames, so their objects count as 0. We keep that
    (numbers must match the official ones) but say so."""
    if not names:
        return None
    shown = ", ".join(names[:10]) + (f" ... ({len(names)} in all)" if len(names) > 10 else "")
    return (f"WARNING: {len(names)} video(s) have fewer than {MIN_SCORED_GT} ground-truth frames, so none of their "
            f"frames is scored and their objects count as 0 (official MOSE/DAVIS behaviour, kept): {shown}")


def check_videos(dataset: Dataset, names: tuple[str, ...] | list[str]) -> None:
    """The cheap per-video checks (folder listings only, nothing decoded), for every video at once,
    before any work: frame gaps, stray or empty folders, meta lengths that disagree with the PNGs,
    videos without ground truth. Raises one :class:`DataError` with one line per bad video."""
    problems: list[str] = []
    for name in names:
        try:
            v = dataset.video(name)
        except DataError as exc:
            problems.append(str(exc))
            continue
        if not v.annotated:
            problems.append(f"video {name!r}: no ground-truth PNG in {v.ann_dir} (every video needs at least its "
                            "first annotated frame)")
    if problems:
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DataError(f"dataset {dataset.root}: {len(problems)} video(s) cannot be used:\n"
                        + "\n".join(f"  - {p}" for p in problems[:20]) + more
                        + "\nFix them (mosebench check-data lists every problem), or leave them out with "
                          "dataset.<name>.videos=[...]")


def check_dataset(dataset: Dataset, *, decode_frames: bool = False, max_problems: int = 50) -> tuple[str, ...]:
    """Problems found (empty tuple: consistent). Never raises for data problems.

    Per video: every ground-truth frame the meta promises (``length``) is present; every PNG is a
    readable palette PNG of the frame's size holding only ids the meta lists; every listed object
    appears in some ground-truth frame; the first frame (every frame with ``decode_frames``)
    decodes at the meta's size.
    """
    problems: list[str] = []
    for name in dataset.videos:
        try:
            v = dataset.video(name)
        except DataError as exc:
            problems.append(str(exc))
            continue
        if not v.gt_complete:
            problems.append(f"video {name!r}: meta.json promises {v.gt_length} ground-truth frames, "
                            f"{v.ann_dir} has {len(v.annotated)}")
        seen: set[int] = set()
        for i in v.annotated:
            try:
                seen |= set(np.flatnonzero(np.bincount(v.gt(i).ravel(), minlength=256)).tolist())
            except DataError as exc:
                problems.append(str(exc))
        if v.object_ids is not None:
            never = sorted(set(v.object_ids) - seen)
            if never and v.gt_complete:
                problems.append(f"video {name!r}: object(s) {never} listed in meta.json appear in no ground-truth PNG")
        for i in range(len(v)) if decode_frames else range(min(1, len(v))):
            try:
                v.frames.frame(i)
            except DataError as exc:
                problems.append(str(exc))
        if len(problems) >= max_problems:
            break
    return tuple(problems[:max_problems])

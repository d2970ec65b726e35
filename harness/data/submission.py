"""Validate a predictions folder and pack it as an evaluation-server zip.

Which frames must be present (the rule ``check-predictions`` and ``pack`` apply):

* with a dataset (``--data``): every frame of the video's ``JPEGImages`` (``frames="all"``, what the
  harness writes), or only its ground-truth frames (``frames="annotated"``), or ``"auto"`` (the
  ``pack`` default): the ground-truth frames where the local ground truth is complete, else all;
* without one, from the meta: YouTube-VOS form: every frame some object lists; MOSE form (no frame
  names): at least ``length`` PNGs per video, regularly numbered without a hole (a larger step among
  equal ones; a frame missing at either end cannot be told from the meta).

The official MOSEv2 scorer (``score.py``) lists each video's prediction PNGs, sorts them, takes the
i-th of them for its i-th ground-truth frame (i = 1 .. length-2) and opens the ground truth of the
same name. So on the server the prediction folder must hold the ground-truth frames and nothing
that sorts before them. For MOSE's released splits JPEGImages holds exactly the frames to segment,
so ``all`` and ``annotated`` agree; for a sparsely annotated set with every frame (like
``mosebench synth --annotate-every 5``) the official scorer fails on every-frame predictions
(verified), hence ``pack``'s ``auto`` default.
"""

from __future__ import annotations

import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.data.dataset import Dataset, find_gap, sort_frame_names
from harness.data.meta import Meta
from harness.errors import DataError

FRAME_RULES = ("all", "annotated", "auto")


@dataclass(frozen=True)
class ValidationReport:
    """Result of :func:`validate_predictions`. ``problems`` holds the first ``max_problems``."""

    pred_dir: Path
    videos: int
    frames_checked: int
    problems: tuple[str, ...]
    total_problems: int

    @property
    def ok(self) -> bool:
        return self.total_problems == 0

    def format(self) -> str:
        if self.ok:
            return f"{self.pred_dir}: OK ({self.videos} videos, {self.frames_checked} frames checked)"
        lines = [f"{self.pred_dir}: {self.total_problems} problem(s) in predictions "
                 f"({self.videos} videos, {self.frames_checked} frames checked):"]
        lines += [f"  - {p}" for p in self.problems]
        if self.total_problems > len(self.problems):
            lines.append(f"  ... and {self.total_problems - len(self.problems)} more")
        lines.append("Fix or re-run the predictions for these videos/frames, then check again.")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Expect:
    video: str
    frames: tuple[str, ...] | None  # None: names unknown (MOSE meta without a dataset)
    min_count: int
    height: int | None
    width: int | None
    objects: frozenset[int]


def _expectations(meta: Meta, dataset: Dataset | None, frames: str) -> list[_Expect]:
    if frames not in FRAME_RULES:
        raise DataError(f"unknown frame rule {frames!r}; use one of {', '.join(FRAME_RULES)}")
    out = []
    for name, vm in meta.videos.items():
        objs = frozenset(vm.objects)
        if dataset is not None:
            v = dataset.video(name)
            if frames == "annotated" or (frames == "auto" and v.gt_complete):
                if not v.gt_complete:
                    raise DataError(f"video {name!r}: the local ground truth is partial ({len(v.annotated)} of "
                                    f"{v.gt_length} frames), so the annotated frames are unknown; use frames='all'")
                names = tuple(v.frame_names[i] for i in v.annotated)
            else:
                names = v.frame_names
            out.append(_Expect(name, names, len(names), v.height, v.width, objs))
        elif meta.form == "youtube":
            names = tuple(sort_frame_names(sorted({f for om in vm.objects.values() for f in (om.frames or ())})))
            out.append(_Expect(name, names, len(names), vm.height, vm.width, objs))
        else:
            out.append(_Expect(name, None, vm.length or 1, vm.height, vm.width, objs))
    return out


def _check_png(path: Path, exp: _Expect) -> str | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                return f"{path}: is {im.format}, not a PNG"
            if im.mode != "P":
                return f"{path}: mode {im.mode}, expected a palette (mode P) PNG of object ids"
            if exp.height is not None and exp.width is not None and im.size != (exp.width, exp.height):
                return (f"{path}: size {im.size[0]}x{im.size[1]} (WxH), video {exp.video!r} is "
                        f"{exp.width}x{exp.height}")
            im.load()
            arr = np.asarray(im)
    except (OSError, SyntaxError, ValueError) as exc:
        return f"{path}: unreadable or truncated PNG ({exc})"
    ids = set(np.flatnonzero(np.bincount(arr.ravel(), minlength=256)).tolist()) - {0}
    unknown = sorted(ids - exp.objects)
    if unknown:
        return f"{path}: object id(s) {unknown} not among video {exp.video!r}'s objects {sorted(exp.objects)}"
    return None


def _files(pred_dir: Path, exps: list[_Expect], problems: list[str]) -> list[tuple[Path, _Expect]]:
    """The PNGs to check (and pack), in zip order; records missing videos/frames in ``problems``."""
    todo: list[tuple[Path, _Expect]] = []
    known = {e.video for e in exps}
    if pred_dir.is_dir():
        for extra in sorted(n for n in os.listdir(pred_dir) if not n.startswith(".") and n not in known):
            if (pred_dir / extra).is_dir():
                problems.append(f"{pred_dir / extra}: video folder not in the meta (wrong --meta?)")
    for e in exps:
        folder = pred_dir / e.video
        if not folder.is_dir():
            problems.append(f"{folder}: missing video folder ({e.min_count} frames due)")
            continue
        present = {n[:-4] for n in os.listdir(folder) if n.endswith(".png") and not n.startswith(".")}
        if e.frames is not None:
            missing = [f for f in e.frames if f not in present]
            for f in missing[:3]:
                problems.append(f"{folder / (f + '.png')}: missing frame")
            if len(missing) > 3:
                problems.append(f"{folder}: {len(missing) - 3} more missing frame(s) (of {len(e.frames)} due)")
            names = [f for f in e.frames if f in present]
        else:
            names = sort_frame_names(sorted(present))
            if len(names) < e.min_count:
                problems.append(f"{folder}: {len(names)} PNGs but meta.json promises {e.min_count} frames")
            gap = find_gap(names)
            if gap is not None:
                # the count alone misses a hole when the folder holds more PNGs than GT frames (every frame)
                problems.append(f"{folder}: frame(s) missing: {gap[0]}.png is followed by {gap[1]}.png but the "
                                f"frames advance by {gap[2]}")
        todo += [(folder / f"{n}.png", e) for n in names]
    return todo


def validate_predictions(pred_dir: str | os.PathLike, meta: Meta, *, dataset: Dataset | None = None,
                         frames: str = "all", max_problems: int = 20,
                         jobs: int = 4) -> tuple[ValidationReport, list[Path]]:
    """Check a predictions folder ``pred_dir/<video>/<frame>.png`` against ``meta``.

    Every video of the meta and every due frame must be present (see the module docstring for
    which frames are due), each PNG mode ``P``, of the video's size, with ids among its objects.

    Returns:
        the report and the checked files in zip order (video, then frame order).
    """
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise DataError(f"predictions folder {pred_dir} does not exist")
    exps = _expectations(meta, dataset, frames)
    loose = sorted(n for n in os.listdir(pred_dir) if n.endswith(".png"))
    if loose and not any((pred_dir / e.video).is_dir() for e in exps):
        raise DataError(f"predictions folder {pred_dir} holds frame PNGs ({loose[0]} ...) directly and none of the "
                        f"{len(exps)} video folder(s) of the meta: it looks like one video's folder; pass its parent "
                        "folder (PRED_DIR/<video>/<frame>.png)")
    problems: list[str] = []
    todo = _files(pred_dir, exps, problems)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        problems += [p for p in pool.map(lambda pe: _check_png(*pe), todo) if p]
    report = ValidationReport(pred_dir, len(exps), len(todo), tuple(problems[:max_problems]), len(problems))
    return report, [p for p, _ in todo]


_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def pack(pred_dir: str | os.PathLike, meta: Meta, out_zip: str | os.PathLike, *,
         dataset: Dataset | None = None, frames: str = "all", max_problems: int = 20) -> ValidationReport:
    """Validate ``pred_dir`` and write the server zip (``<video>/<frame>.png`` at the top level).

    The zip is written to a temp file next to ``out_zip`` and renamed, so an interrupted or failed
    pack leaves no partial zip; entries are stored (PNGs do not compress further) with a fixed
    timestamp, so packing the same predictions twice gives identical bytes.

    Raises:
        DataError: listing every problem found (up to ``max_problems``); nothing is written.
    """
    if Path(out_zip).is_dir():
        raise DataError(f"output {out_zip} is a folder; -o takes the zip file to write, e.g. "
                        f"{Path(out_zip) / 'submission.zip'}")
    report, files = validate_predictions(pred_dir, meta, dataset=dataset, frames=frames,
                                         max_problems=max_problems)
    if not report.ok:
        raise DataError(report.format())
    if dataset is None and meta.form != "youtube":
        # MOSE meta has no frame names: the server pairs the i-th sorted PNG with the i-th GT frame, so
        # every-frame predictions of a sparsely annotated set would be scored against the wrong frames
        counts: dict[str, int] = {}
        for path in files:
            counts[path.parent.name] = counts.get(path.parent.name, 0) + 1
        over = [(v, n, meta.videos[v].length) for v, n in counts.items()
                if meta.videos[v].length and n > meta.videos[v].length]
        if over:
            v, n, length = over[0]
            raise DataError(f"{Path(pred_dir) / v}: {n} PNGs but meta.json has {length} ground-truth frames "
                            f"({len(over)} such video(s)); the server pairs PNGs with GT frames by position, so "
                            "extra frames shift every later one. Pass --data DATASET_ROOT so pack keeps only the "
                            "annotated frames, or remove the frames without ground truth")
    out_zip = Path(out_zip)
    try:
        out_zip.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the folder of {out_zip} ({exc}); choose a writable -o path") from None
    tmp = out_zip.with_name(f".{out_zip.name}.tmp-{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for path in files:
                info = zipfile.ZipInfo(f"{path.parent.name}/{path.name}", date_time=_ZIP_TIME)
                info.external_attr = 0o644 << 16
                zf.writestr(info, path.read_bytes())
        os.replace(tmp, out_zip)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return report

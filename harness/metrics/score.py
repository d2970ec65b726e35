"""``score(...)``: score a prediction folder against ground truth, official-compatible outputs.

Reading: every GT and prediction PNG of a scored frame is decoded once for all objects; videos are
scored in parallel worker processes (``jobs``), each holding one frame pair at a time. Outputs
(all written atomically; ``summary.json`` last):

``metrics.json``      per object, official field names (x100, 2 decimals; null where undefined)
``scores.txt``        the official summary lines incl. ``Copy-Paste:`` (DAVIS: its global measures)
``per_frame.parquet`` one row per (video, object, scored frame): J, F, F̂, areas, boxes, centroid
``per_object.csv``    the object table (fractions in [0, 1])
``vot.json``          tracking metrics (AUC, P, P_norm) of the masks' boxes
``attributes.csv/md`` TABLE 9 layout (MOSE protocol; attribute file + GT-derived codes)
``long_videos.json``  TABLE 11 numbers for videos with more than 300 video frames
``summary.json``      :class:`ScoreSummary` (x100, unrounded) with bootstrap CIs and ``pred_warnings``
                      (greyscale prediction PNGs, prediction ids not among the video's objects)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import DataError
from harness.metrics.aggregate import ScoreSummary, VideoInfo, summarize
from harness.metrics.frame import check_protocol, measure_frame

__all__ = ["PredictionChecks", "ScoreSummary", "VideoJob", "plan", "score", "score_video"]


@dataclass(frozen=True)
class VideoJob:
    """Everything one worker needs to score one video (picklable, no open files)."""

    name: str
    gt_dir: str
    pred_dir: str
    frames: tuple[str, ...]          # scored GT frame stems, in order
    missing: frozenset[str]          # scored frames without a prediction PNG (scored as empty)
    objects: tuple[int, ...]
    height: int
    width: int
    protocol: str
    objects_from_meta: bool = False  # then a GT id outside ``objects`` is an error (B22), not ignored


def _frame_key(name: str) -> tuple[int, int | str]:
    stem = name.rsplit(".", 1)[0]
    return (0, int(stem)) if stem.isdigit() else (1, stem)


def _list_pngs(folder: Path) -> list[str]:
    return sorted((n for n in os.listdir(folder) if n.endswith(".png") and not n.startswith(".")),
                  key=_frame_key)


def _video_frames(gt_root: Path, name: str, gt_names: list[str]) -> int:
    """Number of video frames (the LD rule): the JPEGs of the sibling ``JPEGImages/<video>`` of the GT
    root when it exists, else the frame-number span of the GT names (last - first + 1), else the
    number of GT PNGs. Sparse MOSEv2 GT (at least every 5th frame) would understate the length."""
    image_dir = gt_root.parent / "JPEGImages" / name
    if image_dir.is_dir():
        n = sum(1 for f in os.listdir(image_dir)
                if not f.startswith(".") and f.lower().endswith((".jpg", ".jpeg")))
        if n:
            return n
    stems = [n[:-4] for n in gt_names]
    if all(s.isdigit() for s in stems):
        nums = [int(s) for s in stems]
        return max(nums) - min(nums) + 1
    return len(gt_names)


def _check_stray(folder: Path, names: list[str], what: str) -> None:
    """A non-numbered PNG among numbered frames (``00004 copy.png``) would be scored as an extra frame."""
    stray = [n for n in names if not n[:-4].isdigit()]
    if stray and len(stray) < len(names):
        raise DataError(f"{what} {folder / stray[0]} ({len(stray)} such file(s)) is a stray file: its name is not a "
                        f"frame number like its neighbours ({names[0]}); remove or rename it")


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.height, im.width
    except OSError as exc:
        raise DataError(f"ground-truth mask {path} cannot be opened ({exc}); re-download the annotations") from None


def _first_frame_objects(path: Path, protocol: str) -> tuple[int, ...]:
    from harness.data.masks import read_label_png

    first = read_label_png(path, what="ground-truth mask")
    first = np.where(first == 255, 0, first) if protocol == "davis" else first
    if protocol == "davis":  # davis2017-evaluation: objects 1..max id of the first GT frame
        return tuple(range(1, int(first.max()) + 1))
    return tuple(int(v) for v in np.unique(first) if v != 0)


def plan(meta: str | os.PathLike | None, gt: str | os.PathLike, pred: str | os.PathLike, *,
         protocol: str = "mose", allow_missing: bool = False,
         videos: Sequence[str] | None = None) -> tuple[list[VideoJob], dict[str, VideoInfo], tuple[str, ...]]:
    """Check inputs and build one :class:`VideoJob` per video (no mask is decoded here).

    Videos are the GT folders (as the official scorer does), optionally restricted to ``videos``.
    Frames scored: GT frames 2..L-1 of each video (positions 1..L-2), L = number of GT PNGs.

    Returns:
        ``(jobs, infos, missing_videos)``.

    Raises:
        DataError: GT/meta inconsistencies; missing prediction videos/frames (unless
            ``allow_missing``); a prediction root that holds a single folder while more videos are
            expected.
    """
    check_protocol(protocol)
    gt_root, pred_root = Path(gt), Path(pred)
    if not gt_root.is_dir():
        raise DataError(f"ground-truth folder {gt_root} does not exist; pass the Annotations folder (--gt)")
    if not pred_root.is_dir():
        raise DataError(f"prediction folder {pred_root} does not exist (--pred)")
    meta_obj = None
    if meta is not None:
        from harness.data.meta import load_meta

        meta_obj = load_meta(meta)
    names = sorted(p.name for p in gt_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    all_names = set(names)
    if videos is not None:
        unknown = sorted(set(videos) - set(names))
        if unknown:
            raise DataError(f"videos {unknown[:5]} have no ground-truth folder under {gt_root}")
        names = sorted(set(videos))
    if not names:
        raise DataError(f"no video folders under {gt_root}; pass the Annotations folder (--gt)")
    if meta_obj is not None and videos is None:
        # the dataset mean is over every object of the meta: a video without GT would silently drop out
        absent = sorted(set(meta_obj.videos) - all_names)
        if absent:
            raise DataError(f"{meta_obj.path} lists {len(absent)} video(s) with no ground-truth folder under "
                            f"{gt_root}: {', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''}; pass the "
                            "Annotations folder that belongs to this meta, or --videos to score a subset")
    _check_pred_root(pred_root, names, all_names)

    jobs, infos, problems, missing_videos = [], {}, [], []
    for name in names:
        gt_names = _list_pngs(gt_root / name)
        if not gt_names:
            raise DataError(f"ground-truth folder {gt_root / name} holds no PNG")
        _check_stray(gt_root / name, gt_names, "ground-truth mask")
        if meta_obj is not None:
            vm = meta_obj.video(name)
            if vm.length is not None and vm.length != len(gt_names):
                raise DataError(f"{meta_obj.path}: video {name!r} has length {vm.length} but {gt_root / name} holds "
                                f"{len(gt_names)} PNGs; use the meta.json that belongs to these annotations")
            objects = tuple(vm.objects)
            height, width = vm.height, vm.width
        else:
            objects = _first_frame_objects(gt_root / name / gt_names[0], protocol)
            height = width = None
        if height is None or width is None:
            height, width = _image_size(gt_root / name / gt_names[0])
        scored = tuple(n[:-4] for n in gt_names[1:-1])
        pred_dir = pred_root / name
        if pred_dir.is_dir():
            have = {n[:-4] for n in os.listdir(pred_dir) if n.endswith(".png")}
            missing = frozenset(f for f in scored if f not in have)
            problems += [f"{name}/{f}.png" for f in sorted(missing, key=_frame_key)]
        else:
            missing = frozenset(scored)
            missing_videos.append(name)
        if meta_obj is not None:  # the first GT frame is not scored: check its ids here
            _check_gt_ids(gt_root / name / gt_names[0], objects, protocol, name)
        jobs.append(VideoJob(name, str(gt_root / name), str(pred_dir), scored, missing, objects,
                             int(height), int(width), protocol, objects_from_meta=meta_obj is not None))
        infos[name] = VideoInfo(objects, int(height), int(width), len(gt_names),
                                _video_frames(gt_root, name, gt_names))
    if len(missing_videos) == len(names):
        # nothing matches: a wrong --pred (a video's own folder, an empty or unrelated folder); even
        # --allow-missing must not turn that into a silent all-zero score
        loose = sorted(n for n in os.listdir(pred_root) if n.endswith(".png"))
        hint = (f"it holds frame PNGs ({loose[0]} ...) directly, so it looks like one video's folder; pass "
                f"its parent folder, or score that video alone with --pred {pred_root.parent} --videos "
                f"{pred_root.name}" if loose else "pass the folder that holds the <video>/<frame>.png folders")
        raise DataError(f"prediction folder {pred_root} holds none of the {len(names)} video folder(s) to score "
                        f"({', '.join(names[:3])}{' ...' if len(names) > 3 else ''}); {hint}")
    if (problems or missing_videos) and not allow_missing:
        parts = []
        if missing_videos:
            parts.append(f"{len(missing_videos)} video folder(s) missing: {', '.join(missing_videos[:8])}"
                         + (" ..." if len(missing_videos) > 8 else ""))
        if problems:
            parts.append(f"{len(problems)} frame(s) missing: {', '.join(problems[:8])}"
                         + (" ..." if len(problems) > 8 else ""))
        raise DataError(f"predictions under {pred_root} are incomplete: " + "; ".join(parts)
                        + ". Every scored GT frame needs a prediction PNG of the same name (the official "
                          "scorer would silently score these as 0); rerun the method, or pass "
                          "--allow-missing to score missing predictions as empty masks.")
    return jobs, infos, tuple(missing_videos)


def _check_gt_ids(path: Path, objects: tuple[int, ...], protocol: str, video: str,
                  gt: np.ndarray | None = None) -> None:
    """Raise when a GT mask holds ids the meta does not list (B22: they used to be ignored)."""
    from harness.data.masks import check_gt_ids, read_label_png

    gt = read_label_png(path, what="ground-truth mask") if gt is None else gt
    check_gt_ids(gt, objects, path, video, void=255 if protocol == "davis" else None)


def _check_pred_root(pred_root: Path, names: list[str], all_names: set[str]) -> None:
    """Refuse the two layouts the official scorer silently gets wrong (it descends into a lone folder)."""
    subdirs = [p.name for p in pred_root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(subdirs) != 1:
        return
    only = subdirs[0]
    if only in all_names:
        if len(names) > 1:
            raise DataError(f"prediction folder {pred_root} holds a single video ({only!r}) but {len(names)} "
                            f"videos are to be scored (the official scorer would descend into {only!r} and "
                            "score every object 0); score the finished video alone with --videos, or "
                            "complete the predictions")
        return
    inner = pred_root / only
    if any((inner / n).is_dir() for n in names):
        raise DataError(f"prediction folder {pred_root} holds a single folder {only!r} that is not a video but "
                        f"wraps the video folders; pass --pred {inner}")


CHECK_KEYS = ("_greyscale", "_unknown", "_unknown_ids")


def _contiguous_top(objects: tuple[int, ...]) -> int:
    """Largest m with 1..m all among ``objects`` (a prediction whose max id is <= m has no stray id)."""
    have, m = set(objects), 0
    while m + 1 in have:
        m += 1
    return m


def score_video(job: VideoJob) -> dict[str, np.ndarray]:
    """Score one video frame by frame; returns per-frame columns (one entry per object and frame).

    Also returns the prediction checks under :data:`CHECK_KEYS` (not table columns): ``_greyscale``
    and ``_unknown`` ``(T,)`` bool (frame's PNG is greyscale / holds an id not among the objects) and
    ``_unknown_ids`` ``(256,)`` counts of frames holding each such id. They change no score.
    """
    from harness.metrics.pngread import read_labels, read_labels_mode

    k, n = len(job.objects), len(job.frames)
    cols: dict[str, np.ndarray] = {c: np.empty(n * k) for c in
                                   ("J", "F", "F_hat", "gt_area", "pred_area", "gt_cx", "gt_cy")}
    boxes = {"gt": np.empty((n * k, 4)), "pred": np.empty((n * k, 4))}
    size = (job.height, job.width)
    empty = np.zeros(size, dtype=np.uint8)
    greyscale, unknown = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    unknown_ids = np.zeros(256, dtype=np.int64)
    known = np.zeros(256, dtype=bool)
    known[[0, *job.objects]] = True
    top = _contiguous_top(job.objects)
    for t, frame in enumerate(job.frames):
        gt = read_labels(os.path.join(job.gt_dir, frame + ".png"), expect_size=size, what="ground-truth mask")
        if frame in job.missing:
            pred = empty
        else:
            pred, mode = read_labels_mode(os.path.join(job.pred_dir, frame + ".png"), expect_size=size,
                                          what="prediction")
            greyscale[t] = mode != "P"
        m = measure_frame(pred, gt, job.objects, job.protocol)
        if job.objects_from_meta and gt.size and int(gt.max()) > top:  # cheap pass first
            _check_gt_ids(Path(job.gt_dir) / f"{frame}.png", job.objects, job.protocol, job.name, gt)
        # foreign ids: pixels that no object counted (two cheap passes; the id histogram only then)
        if frame not in job.missing and pred.size and int(pred.max()) > top \
                and np.count_nonzero(pred) > int(m.pred_area.sum()):
            unknown[t] = True
            unknown_ids += (np.bincount(pred.ravel(), minlength=256) > 0) & ~known
        rows = slice(t * k, (t + 1) * k)
        for c in cols:
            cols[c][rows] = getattr(m, c)
        boxes["gt"][rows] = m.gt_box
        boxes["pred"][rows] = m.pred_box
    out = dict(cols)
    for who in ("gt", "pred"):
        for i, c in enumerate("xywh"):
            out[f"{who}_{c}"] = boxes[who][:, i]
    out["t"] = np.repeat(np.arange(n, dtype=np.int32), k)
    out["object"] = np.tile(np.asarray(job.objects, dtype=np.int16), n)
    out["missing"] = np.repeat(np.array([f in job.missing for f in job.frames], dtype=bool), k)
    out["_greyscale"], out["_unknown"], out["_unknown_ids"] = greyscale, unknown, unknown_ids
    return out


def _worker_init() -> None:
    """Allocator settings for a scoring worker process (glibc only; elsewhere nothing changes).

    Every frame allocates and frees a few frame-sized arrays (about 1 MB at 720p). By default glibc
    serves those with fresh ``mmap`` pages and hands them back on ``free``, so each one is paid again
    in page faults: about a fifth of a worker's CPU time on boundary-heavy 720p sets. Raising the
    mmap and trim thresholds keeps the freed memory in the worker's heap for the next frame; a worker
    holds one frame pair at a time, so its footprint hardly grows.
    """
    import sys

    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_trim_threshold, 256 << 20)
    mallopt(m_mmap_threshold, 64 << 20)


def _executor(jobs: int) -> Any:
    import multiprocessing as mp
    import threading
    from concurrent.futures import ProcessPoolExecutor

    # fork is the cheapest start, but unsafe once threads run (e.g. inside the runner): then forkserver
    method = "fork" if threading.active_count() == 1 and "fork" in mp.get_all_start_methods() else "forkserver"
    return ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context(method), initializer=_worker_init)


@dataclass(frozen=True)
class PredictionChecks:
    """Prediction PNGs scored as given but probably not what the user meant (scores unchanged).

    ``greyscale_frames``: frames whose PNG is greyscale (mode L/1), not palette: pixel values are taken
    as object ids. ``unknown_id_frames``: frames holding ids that are not among the video's objects
    (``unknown_ids``), which no object's score sees (a 0/255 mask scores as empty). ``examples``: the
    first few ``video/frame`` of either kind.
    """

    greyscale_frames: int = 0
    unknown_id_frames: int = 0
    unknown_ids: tuple[int, ...] = ()
    examples: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.greyscale_frames or self.unknown_id_frames)

    def as_dict(self) -> dict[str, Any]:
        return {"greyscale_frames": self.greyscale_frames, "unknown_id_frames": self.unknown_id_frames,
                "unknown_ids": list(self.unknown_ids), "examples": list(self.examples)}


def run_jobs_checked(video_jobs: list[VideoJob], jobs: int = 0) -> tuple[Any, PredictionChecks]:
    """Score all videos (in parallel when ``jobs != 1``; 0 = all cores) into the per-frame table, plus the
    :class:`PredictionChecks` of the prediction PNGs read."""
    n_workers = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) \
        if jobs == 0 else jobs
    n_workers = max(1, min(n_workers, len(video_jobs)))
    # longest videos first so the pool does not wait on one straggler at the end
    order = sorted(range(len(video_jobs)), key=lambda i: -len(video_jobs[i].frames) * len(video_jobs[i].objects))
    results: list[dict[str, np.ndarray] | None] = [None] * len(video_jobs)
    if n_workers == 1:
        for i in order:
            results[i] = score_video(video_jobs[i])
    else:
        from concurrent.futures import FIRST_EXCEPTION, wait

        import cv2  # noqa: F401  (imported once here, not once per forked worker)

        ex = _executor(n_workers)
        try:
            futures = {ex.submit(score_video, video_jobs[i]): i for i in order}
            # pandas takes ~0.3 s to import: do it while the workers (forked without it) score
            import pandas  # noqa: F401

            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for fut in done:
                if fut.exception() is not None:
                    raise fut.exception()  # e.g. a DataError naming the bad PNG
            for fut, i in futures.items():
                results[i] = fut.result()
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
    import pandas as pd

    frames = []
    grey = unknown = 0
    ids = np.zeros(256, dtype=np.int64)
    examples: list[str] = []
    for job, res in zip(video_jobs, results):
        assert res is not None
        g, u, i = (res.pop(key) for key in CHECK_KEYS)
        grey, unknown, ids = grey + int(g.sum()), unknown + int(u.sum()), ids + i
        examples += [f"{job.name}/{job.frames[t]}" for t in np.flatnonzero(g | u)[:3]][: max(0, 5 - len(examples))]
        df = pd.DataFrame(res)
        df.insert(0, "video", job.name)
        df.insert(2, "frame", np.array(job.frames, dtype=object)[df["t"].to_numpy()] if len(df) else [])
        frames.append(df)
    from harness.metrics.aggregate import FRAME_COLUMNS

    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(FRAME_COLUMNS))
    checks = PredictionChecks(grey, unknown, tuple(int(v) for v in np.flatnonzero(ids)), tuple(examples))
    return table[list(FRAME_COLUMNS)], checks


def score(meta: str | os.PathLike | None, gt: str | os.PathLike, pred: str | os.PathLike,
          out: str | os.PathLike, *, protocol: str = "mose", jobs: int = 0, allow_missing: bool = False,
          videos: Sequence[str] | None = None, ci_samples: int = 1000, seed: int = 0,
          attributes: str | os.PathLike | None = None) -> ScoreSummary:
    """Score predictions ``pred/<video>/<frame>.png`` against ``gt/<video>/<frame>.png``.

    Args:
        meta: the dataset's ``meta.json`` (objects, length, size); ``None`` derives objects from the first
            GT frame (DAVIS: ids 1..max).
        protocol: ``"mose"`` (MOSE-api) or ``"davis"`` (davis2017-evaluation semi-supervised).
        jobs: worker processes; 0 = all cores, 1 = in this process.
        allow_missing: score missing prediction videos/frames as empty masks (counted in ``n_missing``).
        videos: score only these videos.
        attributes: an ``attributes.json`` for the TABLE 9 analysis (GT-derived codes are always added).

    Returns:
        the :class:`ScoreSummary`; files are written under ``out`` (see module docstring).
    """
    from harness.errors import ConfigError
    from harness.metrics.report_files import write_score_files

    # every input problem surfaces before anything is scored or written (no partial output folder)
    if ci_samples < 1:
        raise ConfigError(f"ci_samples (--ci-samples) must be >= 1, got {ci_samples}")
    if Path(out).exists() and not Path(out).is_dir():
        raise DataError(f"output {out} is a file; --out needs a folder (new or from an earlier score)")
    base = Path(out).absolute()
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir() or not os.access(base, os.W_OK | os.X_OK):
        raise DataError(f"output {out} cannot be created ({base} is not a writable folder); choose another --out")
    video_jobs, infos, missing_videos = plan(meta, gt, pred, protocol=protocol, allow_missing=allow_missing,
                                             videos=videos)
    if attributes is not None:
        from harness.metrics.attributes import load_attributes

        load_attributes(attributes, infos)
    table, checks = run_jobs_checked(video_jobs, jobs)
    objects, summary = summarize(table, infos, protocol, missing_videos=missing_videos,
                                 ci_samples=ci_samples, seed=seed)
    summary = replace(summary, pred_warnings=checks.as_dict())
    write_score_files(Path(out), table, objects, summary, infos, attributes)
    return summary

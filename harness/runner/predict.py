"""The per-video predict loop and the work of one shard (runs inside a job or in-process).

Per video: the setting drives the method; every emitted frame is validated, merged into a label
map and handed to the background PNG writer; the per-video record (status, per-frame model and I/O
time, processed frames and model time, peak memory, prompts, the setting's typed details, code and
data identity) is written last and atomically, so a video is either complete or redone.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.errors import MosebenchError
from harness.runner.plan import Shard
from harness.runner.rundir import DONE, FAILED, CellDir, RunDir, append_line, write_json


class ShardFailed(RuntimeError):
    """Raised at the end of a shard when some of its videos failed (their records say why)."""


def _job_id() -> str:
    """The submitit job running this code (``<array>_<task>`` for a SLURM array task, the controller's
    pid for a local job), or ``inline-<pid>`` when the shard runs in the driver itself."""
    import submitit

    try:
        return str(submitit.JobEnvironment().job_id)
    except RuntimeError:  # not inside a submitit job: cluster=inline
        return f"inline-{os.getpid()}"


def _labels_from_boxes(boxes: Mapping[int, Any], shape: tuple[int, int]):
    """Box-only methods' boxes rasterised into ``(H, W) uint8`` ids (lower id wins overlaps, as masks_to_labels)."""
    import numpy as np

    from harness.boxes import mask_of_box

    out = np.zeros(shape, np.uint8)
    for oid in sorted(boxes, reverse=True):
        out[mask_of_box(boxes[oid], shape)] = oid
    return out


def predict_video(method: Any, setting: Any, video: Any, cell_dir: CellDir, *, device: str = "cpu",
                  attempt: int = 1, on_frame: Callable[[], None] | None = None, writers: int = 2,
                  provenance: Mapping[str, Any] | None = None) -> dict:
    """Predict one video and write its PNGs and record. Returns the record.

    Every result the method yields and the setting emits is validated (:mod:`harness.contract`):
    a bad id, shape, dtype or frame order raises ``MethodOutputError`` naming the method, video,
    frame and object, and the video is failed, not scored.

    Box-only methods (trackers) get their boxes rasterised into the PNGs and kept per frame in the
    record (``boxes``: obj_id -> list of ``[x, y, w, h]`` or None), which VOT scoring reads.
    ``provenance`` (code and data identity, retry overrides applied) is stored in the record.
    """
    from contextlib import ExitStack

    import numpy as np

    from harness.contract import MethodOutputError, checked_method, result_problems
    from harness.data.masks import masks_to_labels
    from harness.data.writer import PredictionWriter
    from harness.runner.memory import PeakRSS, gpu_peaks, reset_gpu_peaks
    from harness.timing import WorkLog

    n = len(video)
    shape = (video.height, video.width)
    model_s = np.full(n, np.nan)
    io_s = np.full(n, np.nan)
    boxes: dict[int, list] = {}
    emitted = [0]
    work = WorkLog()  # what FPS counts: docs/metrics.md, "Speed and memory"
    started = time.time()
    method = checked_method(method)  # validates what its sessions yield
    append_line(cell_dir.events, {"event": "start", "video": video.name, "job": _job_id(),
                                  "host": socket.gethostname(), "pid": os.getpid(), "attempt": attempt,
                                  "time": started})
    with ExitStack() as stack:
        # PNG encoding releases the GIL: `writers` background writers (frames round-robin, each
        # file written by exactly one) keep up with fast methods at 720p on two cores.
        pool = [stack.enter_context(PredictionWriter(cell_dir.predictions, video)) for _ in range(max(1, writers))]
        last = [time.perf_counter()]

        def emit(result: Any) -> None:
            bad = (result_problems(result, shape, None, expected_frame=emitted[0]) if emitted[0] < n
                   else [f"a result after all {n} frames"])
            if bad:
                raise MethodOutputError(f"setting '{setting.name}' emitted an invalid result for method "
                                        f"'{method.name}' on video '{video.name}' ({n} frames): "
                                        + "; ".join(map(str, bad[:3])))
            i = result.frame
            if result.masks:
                labels = masks_to_labels(result.masks, shape)
            else:
                labels = _labels_from_boxes(result.boxes, shape)
            pool[i % len(pool)].write(i, labels, copy=False)  # a fresh array per frame
            for oid, b in result.boxes.items():
                boxes.setdefault(int(oid), [None] * n)[i] = None if b is None else [float(x) for x in b]
            now = time.perf_counter()
            model_s[i] = result.model_time_s
            work.add(result)
            io_s[i] = max(0.0, now - last[0] - result.model_time_s)
            last[0] = now
            emitted[0] += 1
            if on_frame is not None:
                on_frame()

        reset_gpu_peaks(device)
        # out-of-process methods (adapters/trax_method.py) report their own processes' peaks and time source
        take_report = getattr(method, "take_video_report", None)
        if take_report is not None:
            take_report()  # drop what an earlier, failed video left
        t0 = time.perf_counter()
        with PeakRSS() as rss:
            outcome = setting.run(method, video, emit)
        loop_s = time.perf_counter() - t0
    wall_s = time.perf_counter() - t0
    if emitted[0] != n:
        missing = [int(i) for i in np.flatnonzero(np.isnan(model_s))[:10]]
        raise RuntimeError(f"video '{video.name}': setting '{setting.name}' emitted {emitted[0]} of {n} "
                           f"frames (missing e.g. {missing})")
    gpu = gpu_peaks(device)
    process = take_report() if take_report is not None else None
    gpu_alloc, gpu_reserved = (gpu.allocated, gpu.reserved) if gpu else (None, None)
    if process and process.get("peak_gpu_allocated_bytes") is not None:  # the tracker's GPU, added to ours
        gpu_alloc = (gpu_alloc or 0) + process["peak_gpu_allocated_bytes"]
        gpu_reserved = (gpu_reserved or 0) + (process.get("peak_gpu_reserved_bytes") or 0)
    done = outcome.work if outcome.work is not None else work.result()
    record = {
        "status": DONE, "video": video.name, "frames": n, "height": video.height, "width": video.width,
        "model_time_s": [round(float(x), 6) for x in model_s],
        "io_time_s": [round(float(x), 6) for x in io_s],
        "model_s": done.seconds, "model_frames": done.frames, "warmup_s": done.warmup_s,
        "warmup_frames": done.warmup_frames, "loop_s": loop_s, "wall_s": wall_s,
        "peak_host_rss_bytes": int(rss.peak_bytes),
        "peak_gpu_allocated_bytes": gpu_alloc, "peak_gpu_reserved_bytes": gpu_reserved,
        **({"tracker_process": process} if take_report is not None else {}),
        **outcome.record_fields(),  # prompts, sessions, typed details (JSON)
        "boxes": {str(k): v for k, v in boxes.items()} or None,
        "job": _job_id(), "host": socket.gethostname(), "attempt": attempt,
        "started_at": started, "finished_at": time.time(), **dict(provenance or {}),
    }
    write_json(cell_dir.record_path(video.name), record)
    return record


def run_shard(run_dir: str | os.PathLike, shard: Shard, *, method_overrides: Mapping[str, Any] | None = None,
              force_before: float | None = None, attempt: int = 1, progress: bool = False) -> None:
    """Predict every video of ``shard`` that has no complete record (or one older than
    ``force_before``). A failing video gets a ``failed`` record with its traceback; the others go
    on; :class:`ShardFailed` is raised at the end if any failed."""
    from harness import registry
    from harness.config import adapter_name
    from harness.contract import checked_method
    from harness.runner.identity import IdentityChanged, git_state, video_fingerprint
    from harness.runner.plan import make_setting, method_code, open_dataset, retry_overrides_for
    from harness.runner.rundir import cell_identity, load_run_config, run_cells

    run = RunDir(Path(run_dir))
    cfg = load_run_config(run)
    git = git_state()  # the code this shard runs, compared with the plan's before any prediction
    failed: list[str] = []
    tracebacks: list[str] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=shard.n_videos, unit="video", desc=f"shard {shard.index}", leave=False)
    cells = {c.name: c for c in run_cells(run)}
    for item in shard.items:
        method_name, setting_name, dataset_name = (cells[item.cell].method, cells[item.cell].setting,
                                                   cells[item.cell].dataset)
        cell_dir = run.cell(item.cell)
        todo = [v for v in item.videos if not cell_dir.is_done(v, newer_than=force_before)]
        if bar is not None:
            bar.update(len(item.videos) - len(todo))
        if not todo:
            continue
        raw = dict(cfg.method.get(method_name) or {})
        name = adapter_name(method_name, raw)
        cls = registry.get(name)
        applied = retry_overrides_for(cls, dict(method_overrides or {}))
        raw.update(applied)
        mcfg = registry.build_config(cls, {k: v for k, v in raw.items() if k != "adapter"})
        planned = cell_identity(run, item.cell)
        code = method_code(cfg, method_name, git)
        changed = planned.code.changes(code) if planned is not None else []
        # checked under its registered name: errors say `check-method NAME` with the name a user passes
        method = checked_method(registry.create(name, mcfg, cfg.device), name) if not changed else None
        setting = make_setting(cfg, setting_name)
        dataset = open_dataset(cfg.dataset[dataset_name])
        for v in todo:
            if bar is not None:
                bar.set_postfix_str(f"{item.cell} {v}")
            prov: dict[str, Any] = {"identity": {"code": code.digest, "data": None}, "code": asdict(code),
                                    "method_overrides": applied}
            try:
                if changed:
                    raise IdentityChanged(f"the code changed since the run was planned ({'; '.join(changed)}); "
                                          f"not predicted. Redo the run with the current code: mosebench resume "
                                          f"--force {run.root}")
                prov["identity"]["data"] = video_fingerprint(dataset, v)
                if planned is not None and prov["identity"]["data"] != planned.data.video(v):
                    raise IdentityChanged(f"the files of video '{v}' changed since the run was planned "
                                          f"(names, sizes or mtimes under {dataset.root}); not predicted. Redo "
                                          f"the run on the current data: mosebench resume --force {run.root}")
                predict_video(method, setting, dataset.video(v), cell_dir, device=cfg.device, attempt=attempt,
                              writers=cfg.writer_threads, provenance=prov)
            except Exception as exc:
                tb = traceback.format_exc()
                write_json(cell_dir.record_path(v), {"status": FAILED, "video": v, "error": repr(exc),
                                                     "traceback": tb, "job": _job_id(), "attempt": attempt,
                                                     "finished_at": time.time(), **prov})
                failed.append(f"{item.cell}/{v}")
                if isinstance(exc, MosebenchError):  # bad input: its message says it all (traceback in the record)
                    tracebacks.append(f"--- {item.cell}/{v}: {exc}")
                    print(f"[mosebench] {item.cell}/{v} failed: {exc}", flush=True)
                else:
                    tracebacks.append(f"--- {item.cell}/{v} ---\n" + "".join(tb.splitlines(True)[-15:]))
                    print(f"[mosebench] {item.cell}/{v} failed:\n{tb}", flush=True)
            if bar is not None:
                bar.update(1)
        del method
    if bar is not None:
        bar.close()
    if failed:
        raise ShardFailed(f"shard {shard.index}: {len(failed)} video(s) failed: {', '.join(failed)} "
                          "(full tracebacks in each video's record)\n" + "\n".join(tracebacks[:5]))

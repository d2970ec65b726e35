"""The aggregate step: score each complete cell, summarise timing/memory, log to MLflow.

It runs once per run (as a dependent SLURM job, or in the driver for local/inline) and is
idempotent: a cell whose records did not change since its summary is not rescored, a cell already
logged to the same MLflow store is not logged again.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
import traceback
from typing import Any

import numpy as np

from harness.config import Cell, ExperimentConfig
from harness.runner.rundir import DONE, RunDir, check_records, read_json, write_json

GIB = float(1 << 30)
SPEED_METRICS = ("fps", "fps_after_warmup", "fps_video_p10", "fps_video_median", "fps_video_p90", "harness_fps",
                 "host_rss_gib", "gpu_reserved_gib", "gpu_allocated_gib")
"""Every metric :func:`speed_metrics` may add (the measured, machine-dependent ones)."""


def cell_videos(run: RunDir, cell: str) -> list[str]:
    plan = read_json(run.plan, {}) or {}
    return list(plan.get("cells", {}).get(cell, {}).get("videos", []))


def cell_progress(run: RunDir, cell: str) -> dict[str, Any]:
    """Counts of done / failed / missing videos of a cell (from its records)."""
    cdir = run.cell(cell)
    done, failed, missing = [], [], []
    for v in cell_videos(run, cell):
        rec = cdir.record(v)
        (done if rec and rec.get("status") == DONE else failed if rec else missing).append(v)
    return {"cell": cell, "videos": len(done) + len(failed) + len(missing), "done": done,
            "failed": failed, "missing": missing}


def _digest(records: dict[str, dict]) -> str:
    h = hashlib.sha1()
    for v in sorted(records):
        h.update(f"{v}:{records[v].get('finished_at')}\n".encode())
    return h.hexdigest()


def _ratio(frames: float, seconds: float) -> float:
    return frames / seconds if frames > 0 and seconds > 0 else math.nan


def speed_metrics(records: list[dict]) -> dict[str, float]:
    """A cell's speed and memory columns from its videos' records (``docs/metrics.md``, "Speed and
    memory").

    ``fps`` = frames the model processed / model time spent on them (all videos pooled);
    ``fps_after_warmup`` leaves out each video's first processed frames (``warmup_*`` fields);
    ``fps_video_p10/median/p90``: the spread of per-video fps; ``harness_fps`` = all frames / the
    predict loop's wall time (decode, prompts, merge and PNG writing included). GPU peaks (GiB,
    max over videos) are left out when no video ran on a GPU, never reported as 0.
    """
    frames = sum(r["model_frames"] for r in records)
    model_s = sum(r["model_s"] for r in records)
    per_video = [_ratio(r["model_frames"], r["model_s"]) for r in records]
    per_video = [v for v in per_video if not math.isnan(v)]
    p10, median, p90 = np.percentile(per_video, [10, 50, 90]) if per_video else (math.nan,) * 3
    out = {
        "fps": _ratio(frames, model_s),
        "fps_after_warmup": _ratio(frames - sum(r["warmup_frames"] for r in records),
                                   model_s - sum(r["warmup_s"] for r in records)),
        "fps_video_p10": float(p10), "fps_video_median": float(median), "fps_video_p90": float(p90),
        "harness_fps": _ratio(sum(r["frames"] for r in records), sum(r["loop_s"] for r in records)),
        "host_rss_gib": max(r["peak_host_rss_bytes"] for r in records) / GIB,
    }
    for kind in ("reserved", "allocated"):  # reserved: the paper's "GPU memory usage" (pool incl. cache)
        peaks = [r[f"peak_gpu_{kind}_bytes"] for r in records if r.get(f"peak_gpu_{kind}_bytes") is not None]
        if peaks:
            out[f"gpu_{kind}_gib"] = max(peaks) / GIB
    return out


def aggregate_cell(run: RunDir, cfg: ExperimentConfig, cell: Cell, *, force: bool = False) -> dict | None:
    """Score one cell if all its videos are done; returns its summary (None if incomplete)."""
    from harness.runner.plan import make_setting, open_dataset

    prog = cell_progress(run, cell.name)
    if prog["failed"] or prog["missing"] or not prog["done"]:
        return None
    cdir = run.cell(cell.name)
    records = {v: cdir.record(v) for v in prog["done"]}
    check_records(run, cell.name, records)  # never score records of other code or data together
    digest = _digest(records)
    old = read_json(cdir.summary)
    if old and old.get("records_digest") == digest and not force:
        return old
    from harness.runner.scoring import score_cell

    dcfg = cfg.dataset[cell.dataset]
    dataset = open_dataset(dcfg)
    setting = make_setting(cfg, cell.setting)
    t0 = time.perf_counter()
    scored = score_cell(setting, dataset, dcfg, records, cdir.predictions, cdir.scores, label=cell.method)
    metrics = dict(scored["metrics"])
    frames = sum(r["frames"] for r in records.values())
    model_s = sum(r["model_s"] for r in records.values())
    loop_s = sum(r["loop_s"] for r in records.values())
    metrics.update(speed_metrics(list(records.values())))
    out = {
        "cell": cell.name, "method": cell.method, "setting": cell.setting, "dataset": cell.dataset,
        "videos": len(records), "frames": frames, "n_objects": scored.get("n_objects"),
        "model_frames": sum(r["model_frames"] for r in records.values()),
        "metrics": metrics, "model_s": model_s, "loop_s": loop_s, "score_s": time.perf_counter() - t0,
        "jobs": sorted({str(r.get("job")) for r in records.values()}),
        "records_digest": digest, "scored_at": time.time(),
        # the cell's predict span, so MLflow shows how long the cell really took
        "started_at": min(r.get("started_at", math.inf) for r in records.values()),
        "finished_at": max(r.get("finished_at", 0.0) for r in records.values()),
    }
    write_json(cdir.summary, out)
    return out


def aggregate_run(run_dir: str | os.PathLike, *, log_mlflow: bool = True, force: bool = False) -> dict:
    """Score every complete cell of the run, then log them to MLflow (unless disabled).

    Returns ``{"summaries": [...], "incomplete": [cell names], "mlflow": status string}``.
    """
    from harness.runner.rundir import load_run_config, run_cells

    run = RunDir.open(run_dir)
    cfg = load_run_config(run)
    summaries, incomplete = [], []
    for cell in run_cells(run):
        err = run.cell(cell.name).root / "score_error.json"
        try:
            s = aggregate_cell(run, cfg, cell, force=force)
        except Exception as exc:  # one cell's scoring problem must not hide the others
            write_json(err, {"error": repr(exc), "traceback": traceback.format_exc(), "time": time.time()})
            print(f"warning: scoring {cell.name} failed: {exc!r:.500} (details: {err})", flush=True)
            s = None
        else:
            err.unlink(missing_ok=True)
        (summaries.append(s) if s else incomplete.append(cell.name))
    if not cfg.mlflow.enabled:
        status = "disabled"
    elif not summaries:
        status = "nothing to log (no cell is scored)"
    elif log_mlflow:
        from harness.runner.mlflow_log import log_run_safely

        status = log_run_safely(run, cfg)
    else:  # logged elsewhere (the SLURM scoring job, `mosebench log`): keep what it said
        status = ((read_json(run.root / "aggregate.json", {}) or {}).get("mlflow")
                  or f"not logged yet (mosebench log {run.root})")
    write_json(run.root / "aggregate.json", {"cells": [s["cell"] for s in summaries],
                                             "incomplete": incomplete, "mlflow": status,
                                             "time": time.time()})
    return {"summaries": summaries, "incomplete": incomplete, "mlflow": status}

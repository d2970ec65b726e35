"""What a run directory says about its progress (for `mosebench status`)."""

from __future__ import annotations

import os

from harness.runner.cell_summary import cell_progress
from harness.runner.rundir import RunDir, read_json


def run_status(run_dir: str | os.PathLike) -> dict:
    """Per-cell done/failed/missing videos, failure details, live jobs, scoring and MLflow state."""
    from harness.runner.rundir import load_run_config, run_cells
    from harness.runner.submissions import live

    run = RunDir.open(run_dir)
    cfg = load_run_config(run)
    cells = []
    for cell in run_cells(run):
        prog = cell_progress(run, cell.name)
        cdir = run.cell(cell.name)
        failures = []
        for v in prog["failed"]:
            rec = cdir.record(v) or {}
            failures.append({"video": v, "job": rec.get("job"), "error": rec.get("error"),
                             "traceback": rec.get("traceback")})
        summary = read_json(cdir.summary)
        score_error = (read_json(cdir.root / "score_error.json") or {}).get("error")
        cells.append({**prog, "failures": failures, "scored": bool(summary), "score_error": score_error,
                      "logged": cdir.mlflow.is_file(), "metrics": (summary or {}).get("metrics")})
    folder = cfg.cluster.folder or run.job_logs
    jobs = live(run, cfg.cluster.executor, folder)
    alive = set(jobs) | {j.split("_")[0] for j in jobs}
    for c in cells:  # missing videos a live job has started: being predicted now
        last = {e["video"]: str(e.get("job")) for e in run.cell(c["cell"]).starts()}
        c["running"] = [v for v in c["missing"] if last.get(v) in alive or last.get(v, "").split("_")[0] in alive]
    pending = read_json(run.root / "mlflow_pending.json")
    return {"run_dir": str(run.root), "experiment": cfg.name, "cluster": cfg.cluster.name, "cells": cells,
            "live_jobs": jobs, "failed_shards": read_json(run.failures, []) or [],
            "mlflow_pending": (pending or {}).get("error"), "mlflow_enabled": cfg.mlflow.enabled}

"""Log a run directory to MLflow: one MLflow experiment per mosebench experiment, one run per cell.

Only the aggregate step (or ``mosebench log``) calls this, so a sqlite store never sees concurrent
writers. Each logged cell leaves ``<cell>/mlflow.json``; a cell already logged to the same store
with the same records is skipped, so logging is idempotent.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig, adapter_name, flatten, to_plain
from harness.runner.rundir import RunDir, read_json, write_json

ARTIFACTS = ("summary.json",)
SCORE_ARTIFACTS = ("per_object.csv", "per_frame.parquet", "metrics.json", "scores.txt", "summary.json")


def tracking_uri(cfg: ExperimentConfig) -> str:
    """The configured URI, else a sqlite file in the results folder."""
    if cfg.mlflow.tracking_uri:
        return cfg.mlflow.tracking_uri
    return f"sqlite:///{(Path(cfg.results) / 'mlflow.db').resolve()}"


def experiment_name(cfg: ExperimentConfig) -> str:
    return cfg.mlflow.experiment or cfg.name


def _method_params(cfg: ExperimentConfig, method: str) -> dict[str, Any]:
    raw = dict(cfg.method.get(method) or {})
    try:
        from harness import registry

        name = adapter_name(method, raw)
        typed = registry.build_config(registry.get(name), {k: v for k, v in raw.items() if k != "adapter"})
        if is_dataclass(typed):
            raw = {**asdict(typed), **({"adapter": name} if name != method else {})}
    except Exception:  # params are informative; never block logging on them
        pass
    return raw


def cell_params(cfg: ExperimentConfig, summary: dict, provenance: dict) -> dict[str, str]:
    """Flattened resolved config of one cell (its own method/setting/dataset, shared options)."""
    tree = {
        "experiment": cfg.name, "method": summary["method"], "setting": summary["setting"],
        "dataset": summary["dataset"], "device": cfg.device,
        "method_cfg": _method_params(cfg, summary["method"]),
        "setting_cfg": to_plain(cfg.setting[summary["setting"]]),
        "dataset_cfg": to_plain(cfg.dataset[summary["dataset"]]),
        "cluster": to_plain(cfg.cluster),
        "packages": provenance.get("packages", {}),
    }
    return {k: str(v)[:6000] for k, v in flatten(tree).items()}


def log_run(run: RunDir, cfg: ExperimentConfig, *, uri: str | None = None) -> list[str]:
    """Log every scored cell not yet logged to ``uri``; returns the MLflow run ids logged now."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    from harness.runner.rundir import cell_identity, load_provenance, run_cells

    # Fail fast on an unreachable server instead of MLflow's minutes of retries (users may override).
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    uri = uri or tracking_uri(cfg)
    client = MlflowClient(tracking_uri=uri)
    name = experiment_name(cfg)
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = None
        if uri.startswith("sqlite:"):
            location = (Path(cfg.results) / "mlartifacts" / name).resolve().as_uri()
        exp_id = client.create_experiment(name, artifact_location=location,
                                          tags={"mosebench.experiment": cfg.name})
    else:
        exp_id = exp.experiment_id
    prov = load_provenance(run)
    jobs = read_json(run.jobs, []) or []
    logged = []
    for cell in run_cells(run):
        cdir = run.cell(cell.name)
        summary = read_json(cdir.summary)
        if not summary:
            continue
        prev = read_json(cdir.mlflow) or {}
        if prev.get("tracking_uri") == uri and prev.get("records_digest") == summary["records_digest"]:
            continue
        tags = {
            "mosebench.run_dir": str(run.root.resolve()), "mosebench.cell": cell.name,
            "mlflow.source.git.commit": prov.get("git_commit", "unknown"),
            "git_commit": prov.get("git_commit", "unknown"), "git_dirty": str(prov.get("git_dirty")),
            "cluster": cfg.cluster.name, "executor": cfg.cluster.executor, "host": prov.get("host", ""),
            "method": cell.method, "setting": cell.setting, "dataset": cell.dataset,
            "job_ids": ",".join(summary.get("jobs", []))[:5000],
        }
        ident = cell_identity(run, cell.name)  # the code and data that made the cell's records
        if ident is not None:
            tags.update(ident.tags())
        slurm = sorted({j for sub in jobs if sub.get("executor") == "slurm" for j in sub.get("job_ids", [])})
        if slurm:
            tags["slurm_job_ids"] = ",".join(slurm)[:5000]
        if summary.get("source") == "server":  # `mosebench ingest`: the evaluation server's scores
            tags.update({"scores_source": "server", "server_result_sha256": summary["server_result"]["sha256"]})
        span = (summary.get("started_at"), summary.get("finished_at"))
        span_ok = all(isinstance(t, (int, float)) and math.isfinite(t) and t > 0 for t in span)
        mrun = client.create_run(exp_id, run_name=cell.name, tags=tags,
                                 start_time=int(span[0] * 1000) if span_ok else None)
        rid = mrun.info.run_id
        ts = int(time.time() * 1000)
        metrics = [Metric(k, float(v), ts, 0) for k, v in summary["metrics"].items()
                   if v is not None and math.isfinite(float(v))]
        params = [Param(k, v) for k, v in cell_params(cfg, summary, prov).items()]
        for i in range(0, max(len(params), len(metrics)), 100):  # MLflow batch limits
            client.log_batch(rid, metrics=metrics[i:i + 100], params=params[i:i + 100])
        client.log_artifact(rid, str(run.config))
        client.log_artifact(rid, str(cdir.summary), "cell")
        for fname in SCORE_ARTIFACTS:
            if (cdir.scores / fname).is_file():
                client.log_artifact(rid, str(cdir.scores / fname), "scores")
        for fpath in sorted((cdir.root / "server_scores").glob("*")):
            client.log_artifact(rid, str(fpath), "server_scores")
        for plot in sorted(cdir.scores.glob("*.png")):
            client.log_artifact(rid, str(plot), "plots")
        client.set_terminated(rid, end_time=int(span[1] * 1000) if span_ok else None)
        write_json(cdir.mlflow, {"tracking_uri": uri, "experiment_id": exp_id, "run_id": rid,
                                 "records_digest": summary["records_digest"], "logged_at": time.time()})
        logged.append(rid)
    return logged


def log_run_safely(run: RunDir, cfg: ExperimentConfig, *, uri: str | None = None) -> str:
    """:func:`log_run`, but an unreachable store leaves a note instead of failing the run."""
    uri = uri or tracking_uri(cfg)
    pending = run.root / "mlflow_pending.json"
    try:
        ids = log_run(run, cfg, uri=uri)
    except Exception as exc:
        write_json(pending, {"tracking_uri": uri, "error": repr(exc)[:2000], "time": time.time()})
        print(f"warning: could not log to MLflow at {uri}: {exc!r:.300}\n"
              f"  results are on disk; log them later with: mosebench log {run.root}", flush=True)
        return f"failed: {exc!r:.200}"
    pending.unlink(missing_ok=True)
    return f"logged {len(ids)} run(s) to {uri}"

"""Log a run directory to MLflow: one MLflow experiment per mosebench experiment, one parent run per run
directory, one child run per cell (what a child holds: :mod:`harness.runner.mlflow_cell`).

Only the aggregate step (or ``mosebench log``) calls this, so a sqlite store never sees concurrent
writers. Logging is idempotent: each logged cell leaves ``<cell>/mlflow.json`` and a cell already
logged to the same store with the same records is skipped without importing MLflow (a rerun of a
finished run stays fast); every MLflow run carries the tag ``mosebench.cell_key`` (the cell's run
directory and name), so a run left ``RUNNING`` by a killed logger is found and replaced, and a
``FINISHED`` one whose ``mlflow.json`` was never written is adopted, never duplicated.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from harness.config import Cell, ExperimentConfig
from harness.errors import ConfigError
from harness.metrics.names import MOSE_METRICS, ci_keys
from harness.runner import mlflow_cell
from harness.runner.rundir import RunDir, cell_identity, load_provenance, read_json, run_cells, write_json

VIEW_KEY = "mosebench"  # the experiment's shared view: <ui>/#/experiments/<id>/runs?viewStateShareKey=mosebench


def tracking_uri(cfg: ExperimentConfig) -> str:
    """The configured URI, else a sqlite file in the results folder."""
    if cfg.mlflow.tracking_uri:
        return cfg.mlflow.tracking_uri
    return f"sqlite:///{(Path(cfg.results) / 'mlflow.db').resolve()}"


def experiment_name(cfg: ExperimentConfig) -> str:
    return cfg.mlflow.experiment or cfg.name


# URI schemes MLflow's tracking client accepts (a plain path is its file store).
SCHEMES = ("sqlite", "http", "https", "file", "postgresql", "mysql", "mssql", "databricks", "databricks-uc")
_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_store(uri: str) -> None:
    """Refuse a tracking URI MLflow cannot use, in milliseconds and without importing MLflow.

    MLflow retries an unopenable sqlite file for about 50 s before it gives up (a directory, a
    read-only mount, a file that is not a database), and reports an unknown scheme only when it
    logs, after every prediction. Raises :class:`ConfigError` naming the store and the fix.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return
    if scheme.split("+")[0] not in SCHEMES:
        raise ConfigError(f"mlflow.tracking_uri={uri!r}: unknown scheme '{scheme}'; use sqlite:///<path>.db, "
                          f"http(s)://<host>:<port> or another MLflow store ({', '.join(SCHEMES)}), or "
                          "mlflow.enabled=false")
    if scheme != "sqlite" or not rest.startswith("/") or rest in ("/", "/:memory:"):
        return
    path = Path(rest[1:])
    fix = "point mlflow.tracking_uri at another sqlite file (sqlite:////abs/path/mlflow.db) or set mlflow.enabled=false"
    if path.is_dir():
        raise ConfigError(f"MLflow store {path} is a directory, not a sqlite file; {fix}")
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise ConfigError(f"MLflow store {path} is not writable (read-only file or filesystem); {fix}")
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
        if head and head != _SQLITE_MAGIC:
            raise ConfigError(f"MLflow store {path} is not a sqlite database; move it aside (MLflow creates a "
                              f"new one) or {fix}")
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"MLflow store {path} cannot be created: {parent} is not a writable folder; {fix}")


def cell_key(run: RunDir, cell: str) -> str:
    """The identity of a cell's MLflow run: its run directory and cell name (hashed: a filter value)."""
    return hashlib.sha1(f"{run.root.resolve()}\0{cell}".encode()).hexdigest()[:24]


def cells_to_log(run: RunDir, uri: str) -> list[tuple[Cell, dict]]:
    """Scored cells not yet logged to ``uri`` with their current records (read from the run dir only)."""
    out = []
    for cell in run_cells(run):
        cdir = run.cell(cell.name)
        summary = read_json(cdir.summary)
        if not summary:
            continue
        prev = read_json(cdir.mlflow) or {}
        if prev.get("tracking_uri") == uri and prev.get("records_digest") == summary["records_digest"]:
            continue
        out.append((cell, summary))
    return out


def default_columns() -> list[str]:
    """The runs page's columns for comparing methods: the dataset, method and setting, the paper's
    VOS metrics, J&F̂'s interval, the tracking metrics (TABLE 10), speed and memory (MLflow's column ids;
    the page shows metric columns in alphabetical order whatever the order here)."""
    metrics = [m.key for m in MOSE_METRICS] + list(ci_keys("JF_hat")) + ["P", "P_norm", "AUC", "fps",
                                                                           "gpu_reserved_gib"]
    return (["attributes.`Dataset`", "attributes.`Description`", "params.`method`", "params.`setting`"]
            + [f"metrics.`{k}`" for k in metrics])


def _experiment(client: Any, cfg: ExperimentConfig, uri: str) -> str:
    """The MLflow experiment's id (created on first use) with its shared view ``VIEW_KEY`` set: MLflow keeps
    a runs page's column choice in the browser, and a shared view (an experiment tag) is the one way a
    logger can offer one; open it with ``?viewStateShareKey=mosebench`` (``mosebench ui`` prints the link)."""
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
    view = json.dumps({"selectedColumns": default_columns(), "orderByKey": "metrics.`JF_hat`", "orderByAsc": False})
    tags = {} if exp is None else exp.tags
    if tags.get(f"mlflow.sharedViewState.{VIEW_KEY}") != view:
        client.set_experiment_tag(exp_id, f"mlflow.sharedViewState.{VIEW_KEY}", view)
    if "mlflow.note.content" not in tags:
        client.set_experiment_tag(exp_id, "mlflow.note.content", (
            f"mosebench experiment `{cfg.name}`: one parent run per `mosebench run` (its run directory), one "
            f"child run per cell (method x setting x dataset). The paper's metrics as columns: add "
            f"`?viewStateShareKey={VIEW_KEY}` to this page's address (`mosebench ui` prints it)."))
    return exp_id


def run_key(run: RunDir) -> str:
    """The identity of a run directory's parent MLflow run (hashed: a filter value)."""
    return hashlib.sha1(f"{run.root.resolve()}\0".encode()).hexdigest()[:24]


def _parent(client: Any, exp_id: str, run: RunDir, cfg: ExperimentConfig) -> str:
    """The run directory's parent MLflow run: the earliest one tagged with its ``mosebench.run_key`` (a
    killed logger's is adopted, whatever its status), else a new one; its description lists the cells."""
    key = run_key(run)
    found = client.search_runs([exp_id], filter_string=f"tags.`mosebench.run_key` = '{key}'", max_results=100,
                               order_by=["attributes.start_time ASC"])
    prov = load_provenance(run)
    cells = run_cells(run)
    note = "  \n".join([
        f"mosebench run `{run.root.name}` of experiment `{cfg.name}`: {len(cells)} cell(s), one child run each",
        f"methods {', '.join(sorted({c.method for c in cells}))}; settings "
        f"{', '.join(sorted({c.setting for c in cells}))}; datasets {', '.join(sorted({c.dataset for c in cells}))}",
        f"run directory `{run.root.resolve()}`; cluster `{cfg.cluster.name}`; commit `{prov.get('git_commit', '?')}`"])
    if found:
        rid = found[0].info.run_id
        if found[0].data.tags.get("mlflow.note.content") != note:
            client.set_tag(rid, "mlflow.note.content", note)
        return rid
    started = [s for c in cells if (s := (read_json(run.cell(c.name).summary) or {}).get("started_at"))]
    tags = {"mosebench.run_key": key, "mosebench.kind": "run", "mosebench.run_id": run.root.name,
            "mosebench.run_dir": str(run.root.resolve()), "mosebench.experiment": cfg.name,
            "mlflow.note.content": note, "git_commit": prov.get("git_commit", "unknown"),
            "mlflow.source.git.commit": prov.get("git_commit", "unknown"), "cluster": cfg.cluster.name}
    return client.create_run(exp_id, run_name=f"{cfg.name} {run.root.name}", tags=tags,
                             start_time=int(min(started) * 1000) if started else None).info.run_id


def log_run(run: RunDir, cfg: ExperimentConfig, *, uri: str | None = None) -> list[str]:
    """Log every scored cell not yet logged to ``uri`` as a child of the run directory's parent run;
    returns the MLflow run ids of the cells logged (or adopted) now.

    MLflow is imported only when a cell is left to log.
    """
    uri = uri or tracking_uri(cfg)
    todo = cells_to_log(run, uri)
    if not todo:
        return []
    check_store(uri)
    from mlflow.tracking import MlflowClient

    # Fail fast on an unreachable server instead of MLflow's minutes of retries (users may override).
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    client = MlflowClient(tracking_uri=uri)
    exp_id = _experiment(client, cfg, uri)
    parent = _parent(client, exp_id, run, cfg)
    logged = []
    for cell, summary in todo:
        rid = _log_cell(client, exp_id, parent, run, cfg, cell, summary)
        write_json(run.cell(cell.name).mlflow, {"tracking_uri": uri, "experiment_id": exp_id, "run_id": rid,
                                                "parent_run_id": parent, "records_digest": summary["records_digest"],
                                                "logged_at": time.time()})
        logged.append(rid)
    ends = [e for c in run_cells(run) if (e := (read_json(run.cell(c.name).summary) or {}).get("finished_at"))]
    client.set_terminated(parent, end_time=int(max(ends) * 1000) if ends else None)
    return logged


def _log_cell(client: Any, exp_id: str, parent: str, run: RunDir, cfg: ExperimentConfig, cell: Cell,
              summary: dict) -> str:
    """One cell's MLflow run (a child of ``parent``): adopt a finished one with the same records, finish an
    interrupted one (or replace it when the config it logged differs), else create it."""
    from mlflow.entities import Metric, Param

    key = cell_key(run, cell.name)
    digest = summary["records_digest"]
    earlier = client.search_runs([exp_id], filter_string=f"tags.`mosebench.cell_key` = '{key}'", max_results=1000)
    for r in earlier:  # logged, but killed before mlflow.json was written
        if r.info.status == "FINISHED" and r.data.tags.get("mosebench.records_digest") == digest:
            if r.data.tags.get("mlflow.parentRunId") != parent:  # logged before parents existed
                client.set_tag(r.info.run_id, "mlflow.parentRunId", parent)
            return r.info.run_id
    prov = load_provenance(run)
    params = mlflow_cell.cell_params(cfg, summary, prov)
    ts = int(time.time() * 1000)
    metrics = mlflow_cell.cell_metrics(run.cell(cell.name).scores, summary)
    resume = None
    for r in earlier:  # a logger killed (or failed) mid-way left this run incomplete
        if r.info.status == "FINISHED":
            continue
        same = r.data.tags.get("mosebench.records_digest") == digest and all(
            params.get(k) == v for k, v in r.data.params.items())
        if resume is None and same:
            resume = r
        else:
            client.delete_run(r.info.run_id)
    finished = sum(r.info.status == "FINISHED" for r in earlier)  # --force reruns: new records, new run
    jobs = read_json(run.jobs, []) or []
    tags = {
        "mosebench.run_dir": str(run.root.resolve()), "mosebench.cell": cell.name, "mosebench.cell_key": key,
        "mosebench.run_id": run.root.name, "mosebench.records_digest": digest, "mosebench.kind": "cell",
        "mosebench.experiment": cfg.name, "mosebench.videos": str(summary.get("videos", "")),
        "mlflow.parentRunId": parent,
        "mlflow.note.content": mlflow_cell.description(cfg, run, cell, summary),
        "mlflow.source.git.commit": prov.get("git_commit", "unknown"),
        "git_commit": prov.get("git_commit", "unknown"), "git_dirty": str(prov.get("git_dirty")),
        "cluster": cfg.cluster.name, "executor": cfg.cluster.executor, "host": prov.get("host", ""),
        "method": cell.method, "setting": cell.setting, "scores_source": summary.get("source", "local"),
        "job_ids": ",".join(summary.get("jobs", []))[:5000],
    }
    ident = cell_identity(run, cell.name)  # the code and data that made the cell's records
    if ident is not None:
        tags.update(ident.tags())
    tags.update(mlflow_cell.dataset_tags(cfg, run, cell))
    if summary.get("source") == "server":  # `mosebench ingest`: the evaluation server's scores
        tags["server_result_sha256"] = summary["server_result"]["sha256"]
    slurm = sorted({j for sub in jobs if sub.get("executor") == "slurm" for j in sub.get("job_ids", [])})
    if slurm:
        tags["slurm_job_ids"] = ",".join(slurm)[:5000]
    span = (summary.get("started_at"), summary.get("finished_at"))
    span_ok = all(isinstance(t, (int, float)) and math.isfinite(t) and t > 0 for t in span)
    if resume is not None:
        rid = resume.info.run_id
        params = {k: v for k, v in params.items() if k not in resume.data.params}
        metrics = {k: v for k, v in metrics.items() if resume.data.metrics.get(k) != v}
        for k, v in tags.items():  # tags are set at creation; a resumed run may predate some
            if resume.data.tags.get(k) != v:
                client.set_tag(rid, k, v)
    else:
        # unique and readable: the cell, the run id, and a count for --force reruns of the same run dir
        run_name = f"{cell.name} {run.root.name}" + (f" #{finished + 1}" if finished else "")
        rid = client.create_run(exp_id, run_name=run_name, tags=tags,
                                start_time=int(span[0] * 1000) if span_ok else None).info.run_id
    try:
        plist = [Param(k, v) for k, v in params.items()]
        mlist = [Metric(k, v, ts, 0) for k, v in metrics.items()]
        for i in range(0, max(len(plist), len(mlist)), 100):  # MLflow batch limits
            client.log_batch(rid, metrics=mlist[i:i + 100], params=plist[i:i + 100])
        client.log_inputs(rid, datasets=[mlflow_cell.dataset_input(cfg, run, cell)])  # the "Dataset" column
        mlflow_cell.log_artifacts(client, rid, run, cfg, cell)
    except BaseException:
        try:  # the next attempt finishes or replaces it; FAILED tells the UI's reader meanwhile
            client.set_terminated(rid, status="FAILED")
        except Exception:
            pass
        raise
    client.set_terminated(rid, end_time=int(span[1] * 1000) if span_ok else None)
    return rid


def log_run_safely(run: RunDir, cfg: ExperimentConfig, *, uri: str | None = None) -> str:
    """:func:`log_run`, but an unusable store leaves a note instead of failing the run."""
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
    return f"logged {len(ids)} run(s) to {uri}" if ids else f"every scored cell already logged to {uri}"

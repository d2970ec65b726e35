"""Read scored cells of runs that exist only in MLflow (the run directory deleted, or on another machine).

A RUN argument of `mosebench report` that is not a directory is looked up in the tracking store: as
``EXPERIMENT/RUN_ID`` (the tail of ``results/runs/<experiment>/<id>``, so the path of a deleted run
directory still works), a bare mosebench run id (``4be0f1bc02``), or an MLflow parent run id. Each cell
child run gives a :class:`CellResult` like the run directory would: its metrics, the 95% intervals
from the ``<key>_ci_low/_high`` metrics, and the attribute, long-video and VOT tables from its artifacts.
Of several logs of one cell (``--force`` reruns) the latest finished one counts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.metrics.names import CI_HIGH, CI_LOW
from harness.report.collect import CellResult, _attributes, _vot, long_table
from harness.runner.rundir import read_json


def _cell_runs(client: Any, ref: str) -> tuple[str, list[Any]]:
    """(a label ending with the run id, the finished cell runs of the mosebench run ``ref`` names)."""
    parts = [p for p in ref.replace("\\", "/").split("/") if p]
    if not parts:
        raise DataError(f"'{ref}': not a run directory or a run name")
    run_id, exp_name = parts[-1], (parts[-2] if len(parts) > 1 else None)
    exps = client.search_experiments()
    if exp_name is not None:
        named = [e for e in exps if e.name == exp_name]
        exps = named or exps  # the MLflow experiment may be named otherwise (mlflow.experiment=...)
    ids = [e.experiment_id for e in exps]
    found = client.search_runs(ids, filter_string=f"tags.`mosebench.run_id` = '{run_id}'", max_results=5000) \
        if ids else []
    if exp_name is not None:
        found = [r for r in found if r.data.tags.get("mosebench.experiment", exp_name) == exp_name
                 or r.info.experiment_id in {e.experiment_id for e in exps if e.name == exp_name}]
    if not found and len(run_id) == 32:  # an MLflow parent run id
        try:
            parent = client.get_run(run_id)
        except Exception:
            parent = None
        if parent is not None:
            found = client.search_runs([parent.info.experiment_id],
                                       filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'", max_results=5000)
            run_id = parent.data.tags.get("mosebench.run_id", run_id)
    cells = [r for r in found if "mosebench.cell" in r.data.tags and r.info.status == "FINISHED"]
    latest: dict[str, Any] = {}
    for r in sorted(cells, key=lambda r: r.info.start_time or 0):
        latest[r.data.tags["mosebench.cell"]] = r
    # in the run's order (a cell's MLflow start time is its first prediction's)
    return f"mlflow:{exp_name or '-'}/{run_id}", sorted(latest.values(), key=lambda r: r.info.start_time or 0)


def _artifact(client: Any, rid: str, path: str, dst: Path) -> Path | None:
    try:
        return Path(client.download_artifacts(rid, path, str(dst)))
    except Exception:  # not logged (older run, predict-only cell, other setting)
        return None


def cell_result(client: Any, label: str, r: Any, tmp: Path) -> CellResult:
    """One cell child run as the report's record (artifacts downloaded into ``tmp``)."""
    tags, m = r.data.tags, r.data.metrics
    metrics = {k: float(v) for k, v in m.items() if not k.endswith((CI_LOW, CI_HIGH))}
    ci = {k: (float(m[k + CI_LOW]), float(m[k + CI_HIGH])) for k in metrics if k + CI_LOW in m and k + CI_HIGH in m}
    dst = tmp / r.info.run_id
    dst.mkdir(parents=True, exist_ok=True)
    attrs = _artifact(client, r.info.run_id, "scores/attributes.csv", dst)
    long = _artifact(client, r.info.run_id, "scores/long_videos.json", dst) or \
        _artifact(client, r.info.run_id, "server_scores/long_videos.json", dst)
    vot = _artifact(client, r.info.run_id, "scores/vot.json", dst) if tags.get("setting") == "vot" else None
    return CellResult(
        run=label, cell=tags["mosebench.cell"], method=tags.get("method", tags["mosebench.cell"].split("--")[0]),
        setting=tags.get("setting", ""), dataset=tags.get("dataset.name", ""),
        videos=int(tags.get("mosebench.videos") or 0), metrics=metrics, ci=ci,
        source=tags.get("scores_source", "local"), attributes=_attributes(attrs) if attrs else (),
        long_videos=long_table(read_json(long) or {}) if long else {}, vot=_vot(vot) if vot else None)


def collect_mlflow(refs: list[str], uri: str) -> list[CellResult]:
    """Every logged cell of the named runs, in order; DataError naming the store when one has none."""
    import os

    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # the report goes to stdout/stderr
    client = MlflowClient(tracking_uri=uri)
    out: list[CellResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        for ref in refs:
            label, runs = _cell_runs(client, ref)
            if not runs:
                raise DataError(f"'{ref}' is not a run directory, and the MLflow store {uri} has no finished cell "
                                "run of that mosebench run (tag mosebench.run_id); pass the run directory, "
                                "EXPERIMENT/RUN_ID, or the store with --tracking-uri")
            out += [cell_result(client, label, r, Path(tmp)) for r in runs]
    return out

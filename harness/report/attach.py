"""Attach an evaluation-server result to a predicted cell as its scores (`mosebench ingest`).

Writes ``<cell>/server_scores/`` (the server's files as received + ``source.json`` with the sha256) and the
cell's ``summary.json`` (``"source": "server"``): the server's metrics plus the cell's own speed and memory
from its records, and the records' digest, so `mosebench resume`/`log` treat the cell as scored (not rescored
locally) and `mosebench report` gives it a row like a locally scored one (without CIs: the server returns
no per-video resampling).
"""

from __future__ import annotations

import time
from pathlib import Path

from harness.errors import DataError
from harness.report.server import OFFICIAL_KEYS, ServerResult
from harness.runner.rundir import RunDir, read_json, write_json


def _cell_of(cell_dir: str | Path) -> tuple[RunDir, str, dict]:
    p = Path(cell_dir).resolve()
    run = RunDir.open(p.parent)
    plan = (read_json(run.plan) or {}).get("cells") or {}
    if p.name not in plan:
        raise DataError(f"{p}: not a cell of run {run.root} (its cells: {', '.join(plan) or 'none'}); pass "
                        "RUN_DIR/<method>--<setting>--<dataset>")
    return run, p.name, plan[p.name]


def _check_objects(result: ServerResult, videos: list[str]) -> None:
    """The server's per-object keys (``<video>_<object>``) must cover every planned video and no other."""
    if not result.per_object:
        return
    seen = {v for v in videos if any(k.startswith(f"{v}_") for k in result.per_object)}
    missing = sorted(set(videos) - seen)
    if missing:
        raise DataError(f"{result.path}: the server scored no object of video(s) {', '.join(missing[:5])} of this "
                        f"cell ({len(missing)} of {len(videos)}); is this the result of this cell's submission?")
    planned = set(videos)
    extra = [k for k in result.per_object if not any(k.startswith(f"{v}_") for v in planned)]
    if extra:
        raise DataError(f"{result.path}: scores for objects not in this cell ({', '.join(extra[:5])}); "
                        "is this the result of this cell's submission?")


def ingest(cell_dir: str | Path, result: ServerResult, *, replace: bool = False) -> dict:
    """Attach ``result`` to the cell; returns the cell's new summary."""
    from harness.atomic import atomic_write_text
    from harness.runner.cell_summary import _digest, cell_progress, speed_metrics

    run, name, planned = _cell_of(cell_dir)
    cdir = run.cell(name)
    prog = cell_progress(run, name)
    if prog["failed"] or prog["missing"]:
        raise DataError(f"{cdir.root}: {len(prog['failed'])} failed and {len(prog['missing'])} missing video(s); "
                        f"finish the cell first (mosebench resume {run.root}), then pack, upload and ingest")
    old = read_json(cdir.summary)
    scored = any(k in (old or {}).get("metrics", {}) for k in OFFICIAL_KEYS.values())  # not just speed
    if old and scored and old.get("source", "local") != "server" and not replace:
        raise DataError(f"{cdir.summary}: the cell is already scored locally; pass --replace to use the server's "
                        "scores instead")
    _check_objects(result, list(planned.get("videos") or prog["done"]))
    records = {v: cdir.record(v) for v in prog["done"]}
    out_dir = cdir.root / "server_scores"
    atomic_write_text(out_dir / "scores.txt", result.scores_txt)
    if result.metrics_json is not None:
        atomic_write_text(out_dir / "metrics.json", result.metrics_json)
    if result.per_object:  # TABLE 11 from the server's per-object scores and the videos' frame counts
        from harness.report.server import long_video_scores

        write_json(out_dir / "long_videos.json",
                   long_video_scores(result.per_object, {v: int(r["frames"]) for v, r in records.items()}))
    source = {"file": str(Path(result.path).resolve()), "sha256": result.sha256, "ingested_at": time.time()}
    write_json(out_dir / "source.json", source)
    metrics = dict(result.metrics)
    metrics.update(speed_metrics(list(records.values())))
    summary = {
        "cell": name, "method": planned["method"], "setting": planned["setting"], "dataset": planned["dataset"],
        "videos": len(records), "frames": sum(r["frames"] for r in records.values()),
        "n_objects": len(result.per_object) or None, "metrics": metrics, "source": "server",
        "server_result": source, "model_s": sum(r["model_s"] for r in records.values()),
        "model_frames": sum(r["model_frames"] for r in records.values()),
        "loop_s": sum(r["loop_s"] for r in records.values()),
        "jobs": sorted({str(r.get("job")) for r in records.values()}), "records_digest": _digest(records),
        "scored_at": time.time(),
        "started_at": min(r.get("started_at", float("inf")) for r in records.values()),
        "finished_at": max(r.get("finished_at", 0.0) for r in records.values()),
    }
    write_json(cdir.summary, summary)  # last: its presence means the cell is scored
    cdir.mlflow.unlink(missing_ok=True)  # a run logged with other scores: `mosebench log` logs a new one
    return summary

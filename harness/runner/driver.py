"""The driver: plan a run, submit shards, wait, retry, aggregate. Safe to kill at any point.

Everything it knows lives in the run directory, so ``mosebench resume RUN_DIR`` (or rerunning the
same command) picks up where it stopped: live jobs of an earlier driver are waited for, not
duplicated, and only videos without a complete record are submitted again.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig, merge_into, to_plain
from harness.errors import ConfigError, MosebenchError
from harness.runner.identity import IdentityChanged
from harness.runner.lock import RunLock
from harness.runner.plan import Planned, plan_run, plan_shards
from harness.runner.rundir import (
    DONE,
    RunDir,
    cell_identity,
    clean_driver_temp,
    clean_job_temp,
    load_run_config,
    read_json,
    renew_provenance,
    run_cells,
    save_run_config,
    write_json,
)

# Keys that do not change the numbers: a run resumed with another cluster is the same run.
_VOLATILE = ("cluster", "mlflow", "retry", "force", "progress", "run_id", "description", "results",
             "writer_threads")


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    summaries: tuple[dict, ...]
    incomplete: tuple[str, ...]
    failures: tuple[dict, ...] = ()
    mlflow: str = ""
    cells: tuple[str, ...] = field(default_factory=tuple)


def _identity(cfg: ExperimentConfig) -> str:
    """Hash of what determines the numbers (not where or how the run executes)."""
    key = {k: v for k, v in to_plain(cfg).items() if k not in _VOLATILE}
    return hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def run_id_for(cfg: ExperimentConfig) -> str:
    return cfg.run_id or _identity(cfg)[:10]


def run_dir_for(cfg: ExperimentConfig) -> RunDir:
    return RunDir(Path(cfg.results) / "runs" / cfg.name / run_id_for(cfg))


def check_identity(run: RunDir, planned: Planned) -> None:
    """Refuse (:class:`IdentityChanged`, exit 2) to continue or reuse ``run`` when the code or data
    now differ from what its plan (or, without one, its records) says made its predictions."""
    problems = []
    for cell in planned.cells:
        new = planned.identities[cell.name]
        old = cell_identity(run, cell.name) if run.plan.is_file() else None
        if old is not None:
            problems += [f"{cell.name}: {c}" for c in old.changes(new)]
            continue
        cdir = run.cell(cell.name)
        bad = []  # no identity in the plan (no plan yet, or a run from before identities): the records
        for rec_path in sorted(cdir.records.glob("*.json")) if cdir.records.is_dir() else ():
            rec = cdir.record(rec_path.stem) or {}
            if rec.get("status") != DONE:
                continue  # redone anyway
            ident = rec.get("identity") or {}
            if ident.get("code") != new.code.digest or ident.get("data") != new.data.video(rec_path.stem):
                bad.append(rec_path.stem)
        if bad:
            problems.append(f"{cell.name}: {len(bad)} record(s) made by other (or unrecorded) code or data: "
                            f"{', '.join(bad[:5])}")
    if problems:
        raise IdentityChanged(
            f"{run.root}: the code or data differ from what made this run's predictions, and mosebench never "
            "mixes them:\n  " + "\n  ".join(problems[:20]) + "\nTo predict with the code and data as they are "
            "now: rerun with --force (`mosebench run ... --force` or `mosebench resume --force RUN_DIR` redoes "
            "every video of this run), or start a separate run with run_id=NEW_NAME (this one stays as it is). "
            "To finish this run as it was, restore the old code and data.")


def prepare(cfg: ExperimentConfig, *, run: RunDir | None = None, force: bool = False,
            planned: Planned | None = None, resuming: bool = False) -> RunDir:
    """Check capabilities, make datasets, check code and data identity against an existing run,
    write config.yaml (``resuming``: keep it, renew only a forced run's provenance) and plan.json.
    Returns the run dir. Callers hold the run's lock."""
    planned = planned or plan_run(cfg)
    run = run or run_dir_for(cfg)
    existing = run.config.is_file()
    if existing and _identity(load_run_config(run)) != _identity(cfg):
        raise ConfigError(f"{run.root} holds a run with a different configuration (cells, method, setting "
                          f"or dataset options, device); pick another run_id, or drop run_id to get one "
                          f"derived from the configuration")
    if existing and not force:
        check_identity(run, planned)
    run.root.mkdir(parents=True, exist_ok=True)
    clean_driver_temp(run)
    if not resuming:
        save_run_config(run, cfg, keep_provenance=existing and not force)
    elif force:
        renew_provenance(run)
    write_json(run.plan, planned.plan_json())
    return run


def pending_videos(run: RunDir, force_before: float | None) -> dict[str, list[str]]:
    plan = read_json(run.plan, {}) or {}
    out = {}
    for name, c in plan.get("cells", {}).items():
        cdir = run.cell(name)
        todo = [v for v in c["videos"] if not cdir.is_done(v, newer_than=force_before)]
        if todo:
            out[name] = todo
    return out


def _wait(jobs: list, run: RunDir, pending: dict[str, list[str]], cfg: ExperimentConfig, quiet: bool) -> None:
    total = sum(len(v) for v in pending.values())
    bar = None
    if cfg.progress and not quiet and cfg.cluster.executor != "inline":
        from tqdm import tqdm

        bar = tqdm(total=total, unit="video", desc="predict", file=sys.stderr)
    start = time.time() - 1
    while True:
        finished = all(j.done() for j in jobs)
        if bar is not None:
            n = 0
            for cell, vids in pending.items():
                rec = run.cell(cell).records
                for v in vids:
                    try:
                        n += (rec / f"{v}.json").stat().st_mtime >= start
                    except FileNotFoundError:
                        pass
            bar.update(n - bar.n)
        if finished:
            break
        time.sleep(cfg.cluster.poll_s)
    if bar is not None:
        bar.close()


def _failures(jobs: list, shards: list) -> list[dict]:
    out = []
    for job, shard in zip(jobs, shards):
        exc = job.exception()
        if exc is not None:
            out.append({"shard": shard.index, "job_id": str(job.job_id), "work": shard.describe(),
                        "log": str(job.paths.stderr), "error": str(exc)[-4000:]})
    return out


def execute(run: RunDir, cfg: ExperimentConfig, *, force_before: float | None = None,
            quiet: bool = False, score: bool = True,
            on_scored: Callable[[RunOutcome], None] | None = None) -> RunOutcome:
    """Predict what is missing (with the retry policy), score, call ``on_scored``, then log to MLflow.

    A full disk (ENOSPC/EDQUOT) anywhere in here is reported as a :class:`MosebenchError` naming the
    file and the resume command, not as a traceback: everything written so far is whole (atomic
    writes), so ``mosebench resume`` continues once space is freed.
    """
    with disk_full_is_an_error(run.root):
        return _execute(run, cfg, force_before=force_before, quiet=quiet, score=score, on_scored=on_scored)


@contextmanager
def disk_full_is_an_error(root: Path) -> Iterator[None]:
    """ENOSPC / EDQUOT -> a :class:`MosebenchError` naming the file and how to continue."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise MosebenchError(f"no space left on the device holding {exc.filename or root} ({exc.strerror}); "
                             f"free space, then: mosebench resume {root}") from exc


def _execute(run: RunDir, cfg: ExperimentConfig, *, force_before: float | None, quiet: bool, score: bool,
             on_scored: Callable[[RunOutcome], None] | None) -> RunOutcome:
    from harness.runner.cell_summary import aggregate_run
    from harness.runner.executors import clear_dependency, make_executor, submit_shards, with_dependency
    from harness.runner.shard import AggregateStep, ShardRunner
    from harness.runner.submissions import record_intent, record_jobs, report_interrupt, wait_for_live_jobs

    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    force_file = run.root / "force.json"
    if force_before is not None:
        write_json(force_file, {"before": force_before})
    else:  # a resumed --force run keeps redoing what predates it
        force_before = (read_json(force_file, {}) or {}).get("before")
    folder = Path(cfg.cluster.folder) if cfg.cluster.folder else run.job_logs
    where = {"executor": cfg.cluster.executor, "cluster": cfg.cluster.name, "folder": folder}
    wait_for_live_jobs(run, cfg.cluster.executor, folder, cfg.cluster.poll_s, quiet=quiet)
    if folder == run.job_logs:  # no job of this run is alive now: a temp file there is debris (B27)
        clean_job_temp(folder)
    executor = make_executor(cfg.cluster, folder, name=f"mosebench-{cfg.name}")
    failures: list[dict] = []
    submitted: list[str] = []
    agg_job = None
    for attempt in range(1, cfg.retry.attempts + 2):
        pending = pending_videos(run, force_before)
        if not pending:
            if attempt == 1:
                say("every video already has a complete record (--force redoes them)")
            break
        shards = plan_shards(pending, cfg.cluster)
        overrides = cfg.retry.method_overrides if attempt > 1 else {}
        say(f"attempt {attempt}: {sum(map(len, pending.values()))} video(s) in {len(pending)} cell(s) -> "
            f"{len(shards)} shard(s) on cluster '{cfg.cluster.name}' ({cfg.cluster.executor})"
            + (f" with method overrides {overrides}" if overrides else ""))
        runner = ShardRunner(str(run.root), method_overrides=overrides, force_before=force_before,
                             attempt=attempt, progress=cfg.progress and not quiet and cfg.cluster.executor == "inline")
        clear_dependency(executor, cfg.cluster)
        # recorded before anything starts: a resume after a kill here finds the jobs by their folder
        entry = record_intent(run, kind="predict", attempt=attempt, shards=[s.describe() for s in shards], **where)
        jobs = submit_shards(executor, cfg.cluster, runner, shards, device=cfg.device)
        record_jobs(run, entry, jobs)
        submitted += [str(j.job_id) for j in jobs]
        if cfg.cluster.executor == "slurm" and score:
            # scoring + logging as a dependent job: it runs even if this driver dies
            with_dependency(executor, cfg.cluster, submitted)
            entry = record_intent(run, kind="aggregate", attempt=attempt, shards=[], **where)
            agg_job = executor.submit(AggregateStep(str(run.root)))
            clear_dependency(executor, cfg.cluster)
            record_jobs(run, entry, [agg_job])
            submitted.append(str(agg_job.job_id))
        try:
            _wait(jobs, run, pending, cfg, quiet)
        except KeyboardInterrupt:
            if cfg.cluster.executor != "inline":
                report_interrupt(run, cfg.cluster.executor, folder, submitted)
            raise
        failures = _failures(jobs, shards)
        write_json(run.failures, failures)
        for f in failures:
            say(f"shard {f['shard']} (job {f['job_id']}: {f['work']}) failed; log: {f['log']}\n"
                f"{f['error'][-1500:]}")
        if not failures:
            break
    if not pending_videos(run, force_before):
        force_file.unlink(missing_ok=True)
    cells = tuple(c.name for c in run_cells(run))
    if not score:
        return RunOutcome(run.root, (), tuple(pending_videos(run, force_before)), tuple(failures), "", cells)
    if agg_job is not None:
        agg_job.exception()  # waits; its failure is visible in status and below
    # scores first (for SLURM: read what the scoring job wrote, and the MLflow status it left)
    result = aggregate_run(run.root, log_mlflow=False)
    outcome = RunOutcome(run.root, tuple(result["summaries"]), tuple(result["incomplete"]), tuple(failures),
                         result["mlflow"], cells)
    if on_scored is not None:  # e.g. print the table before MLflow (slow to import) is touched
        on_scored(outcome)
    if agg_job is None and cfg.mlflow.enabled and outcome.summaries:
        from harness.runner.mlflow_log import log_run_safely

        outcome = replace(outcome, mlflow=log_run_safely(run, cfg))
    return outcome


def _check_mlflow_store(cfg: ExperimentConfig) -> None:
    """An unusable MLflow store is refused before any work (not found after every prediction)."""
    if cfg.mlflow.enabled:
        from harness.runner.mlflow_log import check_store, tracking_uri

        check_store(tracking_uri(cfg))


def run_experiment(cfg: ExperimentConfig, *, quiet: bool = False, score: bool = True,
                   on_scored: Callable[[RunOutcome], None] | None = None) -> RunOutcome:
    """``mosebench run``: check and plan (nothing written), take the run's lock, prepare the run
    directory, then :func:`execute`."""
    if score:
        _check_mlflow_store(cfg)
    planned = plan_run(cfg)
    run = run_dir_for(cfg)
    with disk_full_is_an_error(run.root), RunLock(run.root):
        prepare(cfg, run=run, force=cfg.force, planned=planned)
        if not quiet:
            print(f"run directory: {run.root}", flush=True)
        return execute(run, cfg, force_before=time.time() if cfg.force else None, quiet=quiet, score=score,
                       on_scored=on_scored)


def resume(run_dir: str | os.PathLike, overrides: dict[str, Any] | None = None, *,
           quiet: bool = False, force: bool = False,
           on_scored: Callable[[RunOutcome], None] | None = None) -> RunOutcome:
    """``mosebench resume RUN_DIR``: continue a run from its directory alone. Its plan is made
    again (a driver killed before writing it left none) and checked against the run's code and
    data identity; ``force`` redoes every video with the code and data as they are now."""
    run = RunDir.open(run_dir)
    with disk_full_is_an_error(run.root), RunLock(run.root):
        cfg = load_run_config(run)
        if overrides:
            cfg = merge_into(ExperimentConfig, to_plain(cfg), overrides, where="resume overrides")
        _check_mlflow_store(cfg)
        prepare(cfg, run=run, force=force, resuming=True)
        return execute(run, cfg, force_before=time.time() if force else None, quiet=quiet, on_scored=on_scored)

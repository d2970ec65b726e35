"""``jobs.json``: every submission of a run, recorded *before* its jobs start.

An entry is written with ``state: "submitting"`` (executor, job folder, shards) before the executor
is asked to start anything, and completed with the job ids once it returns. A driver killed in
between leaves the intent; the jobs it did start are found again by their job folder
(:func:`harness.runner.executors.live_jobs`), so ``resume`` waits for them instead of submitting
their videos a second time.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.runner.rundir import RunDir, read_json, write_json


def record_intent(run: RunDir, *, kind: str, attempt: int, executor: str, cluster: str,
                  folder: str | os.PathLike, shards: Sequence[str]) -> int:
    """Append a ``submitting`` entry (before any job starts); returns its index for :func:`record_jobs`."""
    entries = read_json(run.jobs, []) or []
    entries.append({"kind": kind, "attempt": attempt, "executor": executor, "cluster": cluster,
                    "folder": str(Path(folder).absolute()), "state": "submitting", "job_ids": [], "logs": [],
                    "shards": list(shards), "time": time.time()})
    write_json(run.jobs, entries)
    return len(entries) - 1


def record_jobs(run: RunDir, index: int, jobs: Sequence[Any]) -> None:
    """Complete entry ``index`` with the started jobs' ids and log paths."""
    entries = read_json(run.jobs, []) or []
    entries[index].update(state="submitted", job_ids=[str(j.job_id) for j in jobs],
                          logs=[str(j.paths.stderr) for j in jobs])
    write_json(run.jobs, entries)


def live(run: RunDir, executor: str | None = None, folder: str | os.PathLike | None = None) -> list[str]:
    """Jobs of this run still queued or running (recorded ones, and unrecorded ones in a job folder)."""
    from harness.runner.executors import live_jobs

    return live_jobs(read_json(run.jobs, []) or [], executor=executor, folder=folder)


def wait_for_live_jobs(run: RunDir, executor: str, folder: str | os.PathLike, poll_s: float, *,
                       quiet: bool = False) -> None:
    """Wait for jobs an earlier (killed) driver started, so no video is predicted twice."""
    jobs = live(run, executor, folder)
    if jobs and not quiet:
        print(f"waiting for {len(jobs)} job(s) of an earlier driver still running: {', '.join(jobs[:8])}", flush=True)
    while jobs:
        time.sleep(poll_s)
        jobs = live(run, executor, folder)


def report_interrupt(run: RunDir, executor: str, folder: str | os.PathLike, submitted: Sequence[str],
                     grace_s: float = 2.0) -> None:
    """After Ctrl-C: say which submitted jobs really keep running and which stopped with the driver.

    A terminal's Ctrl-C signals its whole process group, which holds ``cluster=local`` jobs (they
    stop), not SLURM jobs (they go on); a signal sent to the driver alone leaves local jobs running.
    So the driver looks instead of assuming (after ``grace_s`` for stopping jobs to exit).
    """
    deadline = time.time() + grace_s
    running = set(live(run, executor, folder)) & set(submitted)
    while running and time.time() < deadline:
        time.sleep(0.2)
        running = set(live(run, executor, folder)) & set(submitted)
    stopped = [j for j in submitted if j not in running]
    lines = ["", "interrupted."]
    if running:
        lines.append(f"  still running: job(s) {', '.join(j for j in submitted if j in running)}; progress: "
                     f"mosebench status {run.root}; finish (waits for them): mosebench resume {run.root}")
    if stopped:
        why = " (Ctrl-C reaches the local jobs too)" if executor == "local" else ""
        lines.append(f"  not running any more: job(s) {', '.join(stopped)}{why}; mosebench resume {run.root} "
                     "redoes their unfinished videos")
    print("\n".join(lines), file=sys.stderr, flush=True)

"""cluster=local (submitit LocalExecutor): killing the driver mid-run and resuming gives the numbers of
an uninterrupted run, and no video is predicted twice (asserted on the per-video start events)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from _runner_common import PLUGIN, REPO, cli, smoke

from harness.config import load_experiment
from harness.data import open_dataset
from harness.runner.cell_summary import SPEED_METRICS
from harness.runner.driver import run_experiment
from harness.runner.rundir import RunDir

CELL = "slow-static--mask--synth-tiny"
SLOW = ("method=slow-static", "method.sleep_s=0.12", f"plugins=[{PLUGIN}]")
TIMING = SPEED_METRICS  # measured, machine-dependent: not compared across runs


def _scores(summary: dict) -> dict:
    return {k: v for k, v in summary["metrics"].items() if k not in TIMING}


def _start_and_kill(over: list[str], tmp: Path, *, whole_group: bool) -> Path:
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", *over], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 90
    records: list[Path] = []
    while time.time() < deadline and not records:
        records = list((tmp / "results" / "runs" / "smoke").glob(f"*/{CELL}/records/*.json"))
        time.sleep(0.05)
    assert records, "no video finished within 90 s"
    if whole_group:  # the node dies: driver and jobs
        os.killpg(proc.pid, signal.SIGKILL)
    else:  # only the driver dies; its jobs go on
        proc.kill()
    proc.wait()
    return records[0].parents[2]


def test_kill_driver_then_resume_equals_uninterrupted_run(tmp_path: Path, synth_data: Path) -> None:
    videos = open_dataset(synth_data).videos
    ref = run_experiment(load_experiment("smoke", smoke(tmp_path / "ref", synth_data, *SLOW)[1:]), quiet=True)

    over = smoke(tmp_path / "a", synth_data, *SLOW, "cluster=local", "cluster.jobs=2", "cluster.poll_s=0.2")
    run_dir = _start_and_kill(over, tmp_path / "a", whole_group=False)
    assert not (run_dir / CELL / "summary.json").exists()
    cell = RunDir(run_dir).cell(CELL)
    assert not all(cell.is_done(v) for v in videos)  # work was in flight when the driver died
    st = cli("status", str(run_dir)).stdout
    assert CELL in st
    out = cli("resume", str(run_dir)).stdout
    assert "complete" in cli("status", str(run_dir)).stdout, out
    starts = [e["video"] for e in RunDir(run_dir).cell(CELL).starts()]
    assert sorted(starts) == sorted(videos), f"a video was predicted twice: {starts}"
    import json

    summary = json.loads((run_dir / CELL / "summary.json").read_text())
    assert _scores(summary) == _scores(ref.summaries[0])


def test_kill_driver_and_jobs_then_resume_redoes_only_unfinished(tmp_path: Path, synth_data: Path) -> None:
    videos = open_dataset(synth_data).videos
    over = smoke(tmp_path, synth_data, *SLOW, "cluster=local", "cluster.jobs=2", "cluster.poll_s=0.2")
    run_dir = _start_and_kill(over, tmp_path, whole_group=True)
    cell = RunDir(run_dir).cell(CELL)
    finished = {v for v in videos if cell.is_done(v)}
    assert finished and finished != set(videos)
    cli("resume", str(run_dir))
    starts = [e["video"] for e in cell.starts()]
    for v in finished:  # complete before the crash: never redone
        assert starts.count(v) == 1, starts
    assert all(cell.is_done(v) for v in videos)
    assert (run_dir / CELL / "summary.json").is_file()

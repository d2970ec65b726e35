"""Faults around the driver: jobs started but not recorded (B6), Ctrl-C (B18), a full disk (B12),
status of an unscored run (B19), and `--dry-run` for every executor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _runner_common import PLUGIN, REPO, cli, main, smoke

from harness.config import load_experiment
from harness.data import open_dataset
from harness.runner.rundir import RunDir

CELL = "slow-static--mask--synth-tiny"
SLOW = ("method=slow-static", "method.sleep_s=0.12", f"plugins=[{PLUGIN}]")
LOCAL = ("cluster=local", "cluster.jobs=2", "cluster.poll_s=0.2")


def _controllers(folder: Path) -> list[int]:
    """Running submitit local controllers of a job folder."""
    from harness.runner.executors import _local_controllers

    return [int(pid) for pid, f in _local_controllers().items() if os.path.abspath(f) == os.path.abspath(folder)]


def _wait_gone(folder: Path, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while _controllers(folder) and time.time() < deadline:
        time.sleep(0.2)


def test_jobs_started_but_not_recorded_are_waited_for(tmp_path: Path, synth_data: Path) -> None:
    """B6: the driver died after its executor started the jobs, before their ids were recorded."""
    from harness.runner.driver import pending_videos, prepare, resume
    from harness.runner.executors import make_executor, submit_shards
    from harness.runner.plan import plan_shards
    from harness.runner.shard import ShardRunner

    cfg = load_experiment("smoke", smoke(tmp_path, synth_data, *SLOW, *LOCAL)[1:])
    run = prepare(cfg)
    shards = plan_shards(pending_videos(run, None), cfg.cluster)
    submit_shards(make_executor(cfg.cluster, run.job_logs), cfg.cluster, ShardRunner(str(run.root)), shards)
    assert not run.jobs.exists()
    outcome = resume(run.root, quiet=True)
    assert not outcome.incomplete
    starts = [e["video"] for e in run.cell(CELL).starts()]
    assert sorted(starts) == sorted(open_dataset(synth_data).videos), f"a video was predicted twice: {starts}"


def test_driver_killed_as_its_jobs_start_then_resume_predicts_each_video_once(tmp_path: Path,
                                                                              synth_data: Path) -> None:
    """B6 as the fault trial hit it: kill -9 when the first file appears in the job folder."""
    over = smoke(tmp_path, synth_data, *SLOW, *LOCAL)
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", *over], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    files: list[Path] = []
    while time.time() < deadline and not files:
        files = [p for p in (tmp_path / "results" / "runs" / "smoke").glob("*/jobs/*") if p.is_file()]
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    assert files, "no job started within 120 s"
    run_dir = files[0].parents[1]
    cli("resume", str(run_dir))
    starts = [e["video"] for e in RunDir(run_dir).cell(CELL).starts()]
    assert sorted(starts) == sorted(open_dataset(synth_data).videos), f"a video was predicted twice: {starts}"


@pytest.mark.parametrize("group", [True, False], ids=["ctrl-c-whole-group", "signal-to-driver-only"])
def test_interrupt_says_which_jobs_really_keep_running(tmp_path: Path, synth_data: Path, group: bool) -> None:
    """B18: Ctrl-C in a terminal stops the local jobs too; a SIGINT to the driver alone does not."""
    over = smoke(tmp_path, synth_data, *SLOW, *LOCAL, "method.sleep_s=0.6")  # jobs outlast the check
    log = tmp_path / "driver.err"  # a file, not a pipe: the jobs inherit it and outlive the driver
    with open(log, "w") as f:
        # SIGINT as in a terminal: a suite started in the background (nohup, `cmd &` in a script)
        # inherits SIGINT ignored, and the driver would never see the Ctrl-C this test sends
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", *over], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=f, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    jobs: list[Path] = []
    while time.time() < deadline and not jobs:
        jobs = list((tmp_path / "results" / "runs" / "smoke").glob("*/jobs.json"))
        if jobs and not json.loads(jobs[0].read_text())[-1]["job_ids"]:
            jobs = []
        time.sleep(0.05)
    assert jobs, "no submission within 120 s"
    time.sleep(1.0)  # the jobs are working
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    err = log.read_text()
    folder = jobs[0].parent / "jobs"
    alive = _controllers(folder)
    try:
        assert proc.returncode == 130, err
        if group:
            assert not alive and "not running any more" in err and "still running" not in err, err
        else:
            assert alive and "still running" in err, err
            st = json.loads(cli("status", "--json", str(jobs[0].parent)).stdout)
            assert st["live_jobs"] and st["cells"][0]["running"], st  # videos being predicted now
            assert "job(s) still running" in cli("status", str(jobs[0].parent)).stdout
    finally:
        for pid in alive:  # the jobs this test left running
            os.kill(pid, signal.SIGTERM)
        _wait_gone(folder)


def test_full_disk_is_a_clear_error_and_resume_finishes(tmp_path: Path, synth_data: Path) -> None:
    """B12: no OSError traceback; the message names the device problem and how to continue."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    from harness.cli import main as cli_main
    from harness.runner.driver import prepare

    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        cfg = load_experiment("smoke", [f"results={mnt / 'results'}", f"dataset.root={synth_data}"])
        run = prepare(cfg)
        filler = mnt / "filler"
        with open(filler, "wb") as f:  # the disk fills up (with something else) after the run started
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "resume", str(run.root)], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and "no space left" in proc.stderr, proc.stderr
        assert f"mosebench resume {run.root}" in proc.stderr
        filler.unlink()
        assert cli_main(["resume", str(run.root)]) == 0
        assert (run.root / "static--mask--synth-tiny" / "summary.json").is_file()
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_status_of_a_predicted_but_unscored_run_is_not_complete(tmp_path: Path, synth_data: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """B19: the driver died after predicting: nothing is scored, so the run is not complete."""
    from harness.runner.driver import run_experiment

    cfg = load_experiment("smoke", smoke(tmp_path, synth_data)[1:])
    outcome = run_experiment(cfg, quiet=True, score=False)
    rc, out = main(capsys, "status", str(outcome.run_dir))
    last = out.strip().splitlines()[-1]
    assert rc == 0 and "not scored yet" in last and f"mosebench resume {outcome.run_dir}" in last, out


@pytest.mark.parametrize("cluster", ["inline", "local", "slurm"])
def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path, synth_data: Path, cluster: str,
                                                    capsys: pytest.CaptureFixture) -> None:
    data = tmp_path / "data"  # a synthetic set that does not exist yet: not generated either
    rc, out = main(capsys, "run", "experiment=smoke", "method=flow", f"cluster={cluster}",
                   f"results={tmp_path / 'results'}", f"dataset.synth-tiny.root={data}", "--dry-run")
    assert rc == 0, out
    assert "flow--mask--synth-tiny" in out and "3 video(s) synth000, synth001, synth002" in out
    assert "shards (" in out and "would be generated" in out
    if cluster == "slurm":
        assert "#SBATCH --array=0-" in out and "#SBATCH --dependency=afterany:ARRAY_JOB_ID" in out
        assert "#SBATCH --job-name=mosebench-smoke" in out
    else:
        assert f"executor {cluster}" in out and "#SBATCH" not in out
    assert not (tmp_path / "results").exists() and not data.exists()


def test_resume_dry_run_lists_only_what_is_left(tmp_path: Path, synth_data: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    from harness.runner.driver import run_experiment

    outcome = run_experiment(load_experiment("smoke", smoke(tmp_path, synth_data)[1:]), quiet=True)
    cell = RunDir(outcome.run_dir).cell("static--mask--synth-tiny")
    cell.record_path("synth001").unlink()
    before = sorted(p.name for p in outcome.run_dir.rglob("*"))
    rc, out = main(capsys, "resume", str(outcome.run_dir), "cluster=slurm", "--dry-run")
    assert rc == 0 and "static--mask--synth-tiny: 1 video(s) synth001" in out and "#SBATCH --array=0-0" in out, out
    assert sorted(p.name for p in outcome.run_dir.rglob("*")) == before

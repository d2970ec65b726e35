"""One driver per run directory (B7), a run killed between config.yaml and plan.json (B2), temp
files of a killed driver (B27)."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _runner_common import PLUGIN, REPO, cli, run_dir_from, smoke

from harness.runner.lock import LOCK_NAME, STALE_AFTER_S, RunLock, RunLocked


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock(root: Path, **owner) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    path.write_text(json.dumps({"pid": 1, "host": socket.gethostname(), "started": time.time(), "argv": ["x"],
                                **owner}))
    return path


def test_second_driver_in_the_same_process_is_refused_naming_the_owner(tmp_path: Path) -> None:
    with RunLock(tmp_path / "run"):
        with pytest.raises(RunLocked, match=rf"pid {os.getpid()} on host {socket.gethostname()}"):
            RunLock(tmp_path / "run").acquire()
    assert not (tmp_path / "run" / LOCK_NAME).exists()  # released
    with RunLock(tmp_path / "run"):  # and free again
        pass


def test_stale_lock_of_a_dead_pid_on_this_host_is_taken_over(tmp_path: Path) -> None:
    path = _write_lock(tmp_path, pid=_dead_pid(), started=time.time() - 5)
    with RunLock(tmp_path) as lock:
        assert json.loads(path.read_text())["pid"] == os.getpid()
        assert lock.path == path


def test_reused_pid_does_not_keep_a_lock_alive(tmp_path: Path) -> None:
    # our own (live) pid, but the record predates this process: the pid was reused
    _write_lock(tmp_path, pid=os.getpid(), started=time.time() - 10 * 365 * 86400)
    with RunLock(tmp_path):
        pass


def test_other_host_lock_is_stale_only_without_heartbeat(tmp_path: Path) -> None:
    path = _write_lock(tmp_path, host="some-other-node", pid=4242)
    with pytest.raises(RunLocked, match="some-other-node"):
        RunLock(tmp_path).acquire()
    old = time.time() - STALE_AFTER_S - 60
    os.utime(path, (old, old))
    with RunLock(tmp_path):
        assert json.loads(path.read_text())["host"] == socket.gethostname()


def test_heartbeat_refreshes_the_lock(tmp_path: Path) -> None:
    with RunLock(tmp_path, heartbeat_s=0.05) as lock:
        old = time.time() - 1000
        os.utime(lock.path, (old, old))
        time.sleep(0.3)
        assert time.time() - lock.path.stat().st_mtime < 5


def test_many_contenders_for_a_stale_lock_exactly_one_wins(tmp_path: Path) -> None:
    _write_lock(tmp_path, pid=_dead_pid(), started=time.time() - 5)
    wins, refusals, barrier = [], [], threading.Barrier(6)
    locks = [RunLock(tmp_path) for _ in range(6)]

    def contend(lock: RunLock) -> None:
        barrier.wait()
        try:
            lock.acquire()
            wins.append(lock)
        except RunLocked:
            refusals.append(lock)

    threads = [threading.Thread(target=contend, args=(lk,)) for lk in locks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(refusals) == 5
    wins[0].release()


def test_two_concurrent_drivers_one_refused_each_video_predicted_once(tmp_path: Path, make_synth) -> None:
    """Regression B7: two identical `mosebench run` at once each submitted every video."""
    data = make_synth()
    args = [sys.executable, "-m", "harness.cli", "run", *smoke(tmp_path, data, "method=slow-static",
                                                               "method.sleep_s=0.3"), "--plugin", PLUGIN]
    first = subprocess.Popen(args, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not list((tmp_path / "results").glob(f"runs/*/*/{LOCK_NAME}")):
            time.sleep(0.05)
        second = subprocess.run(args, cwd=REPO, text=True, capture_output=True, timeout=120)
        out, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 0, out + err
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"pid {first.pid}" in second.stderr and "only one driver" in second.stderr
    run_dir = run_dir_from(out)
    starts = [json.loads(line)["video"] for line in
              (run_dir / "slow-static--mask--synth-tiny" / "events.jsonl").read_text().splitlines()]
    assert sorted(starts) == sorted(set(starts)) and len(starts) == 2
    assert not (run_dir / LOCK_NAME).exists()


def test_run_killed_between_config_and_plan_is_planned_by_resume(tmp_path: Path, synth_data: Path) -> None:
    """Regression B2 + B27: config.yaml without plan.json (and a plan temp file) made `resume` finish
    nothing with rc 0 and `status` say "complete"."""
    done = run_dir_from(cli("run", *smoke(tmp_path, synth_data)).stdout)
    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_bytes((done / "config.yaml").read_bytes())
    (run_dir / ".plan.json.x1y2.tmp").write_text('{"cells": {')  # the killed driver's half-written plan
    status = cli("status", str(run_dir), check=False)
    assert status.returncode == 2 and "no plan" in status.stderr and "mosebench resume" in status.stderr
    assert "complete" not in status.stdout
    resumed = cli("resume", str(run_dir))
    assert "every video already has" not in resumed.stdout
    cell = "static--mask--synth-tiny"
    recs = list((run_dir / cell / "records").glob("*.json"))
    assert len(recs) == 3 and all(json.loads(p.read_text())["status"] == "done" for p in recs)
    assert not list(run_dir.glob(".*.tmp"))
    assert cli("status", str(run_dir)).stdout.strip().endswith("complete")


def test_resume_removes_submitit_temp_files_of_dead_jobs(tmp_path: Path, synth_data: Path) -> None:
    """Regression B27 (second part): a job that died writing its result pickle (ENOSPC) left
    ``jobs/*_result.pkl.save_tmp`` for good; once no job of the run is alive they are debris."""
    run_dir = run_dir_from(cli("run", *smoke(tmp_path, synth_data, "cluster=local")).stdout)
    jobs = run_dir / "jobs"
    debris = jobs / "4242_0_result.pkl.save_tmp"
    debris.write_bytes(b"half a pickle")
    keep = sorted(p.name for p in jobs.iterdir() if p != debris)
    cli("resume", str(run_dir))
    assert not debris.exists()
    assert sorted(p.name for p in jobs.iterdir()) == keep  # logs and submitit's own files stay


def test_deleting_a_corrupt_plan_as_advised_replans_the_run(tmp_path: Path, synth_data: Path) -> None:
    """Regression B2: the corrupt-plan message says "delete it"; doing so led to an rc-0 no-op."""
    run_dir = run_dir_from(cli("predict", *smoke(tmp_path, synth_data, "dataset.max_videos=1")).stdout)
    (run_dir / "plan.json").write_text("{not json")
    proc = cli("resume", str(run_dir), check=False)
    assert proc.returncode == 2 and "plan.json" in proc.stderr and "delete it" in proc.stderr
    (run_dir / "plan.json").unlink()
    proc = cli("resume", str(run_dir))
    assert json.loads((run_dir / "plan.json").read_text())["cells"]
    assert (run_dir / "static--mask--synth-tiny" / "summary.json").is_file()
    assert "not scored" not in cli("status", str(run_dir)).stdout


def test_status_does_not_call_an_unscored_run_complete(tmp_path: Path, synth_data: Path) -> None:
    run_dir = run_dir_from(cli("predict", *smoke(tmp_path, synth_data, "dataset.max_videos=1")).stdout)
    out = cli("status", str(run_dir)).stdout
    assert "not scored yet" in out and not out.strip().endswith("complete")


@pytest.mark.parametrize("seed", [1, 2])
def test_driver_killed_at_a_random_moment_then_resumed(tmp_path: Path, synth_data: Path, seed: int) -> None:
    """A kill -9 anywhere (before, between or after config.yaml and plan.json, mid-prediction) and a
    resume or rerun always ends complete, with no temp file and no lock left."""
    args = smoke(tmp_path, synth_data, "method=slow-static", "method.sleep_s=0.02")
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", *args, "--plugin", PLUGIN], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.Random(seed).uniform(1.0, 4.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    runs = list((tmp_path / "results").glob("runs/*/*"))
    if runs and (runs[0] / "config.yaml").is_file():
        cli("resume", str(runs[0]))
    else:  # killed before the run directory had a config: the same command starts it again
        cli("run", *args, "--plugin", PLUGIN)
    (run_dir,) = list((tmp_path / "results").glob("runs/*/*"))
    assert cli("status", str(run_dir)).stdout.strip().endswith("complete")
    assert not list(run_dir.glob(".*.tmp")) and not (run_dir / LOCK_NAME).exists()

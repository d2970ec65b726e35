"""SLURM: a job array started by a driver that died before recording it is found by its job folder
(one `squeue`), so `resume` waits for it instead of predicting its videos again (B6), and `status`
answers with one query, not one `sacct` per job."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _runner_common import PLUGIN, cli

from harness.config import load_experiment
from harness.data import open_dataset

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(300)]

CELL = "slow-static--mask--synth-tiny"
SMALL = ("cluster=slurm", "cluster.cpus=1", "cluster.mem=1G", "cluster.gpus=1", "cluster.poll_s=0.5",
         "cluster.videos_per_shard=1", "progress=false")


def test_unrecorded_array_is_found_and_waited_for(slurm_cluster, tmp_path: Path, synth_data: Path) -> None:
    from harness.runner.driver import pending_videos, prepare
    from harness.runner.executors import make_executor, submit_shards
    from harness.runner.plan import plan_shards
    from harness.runner.shard import ShardRunner
    from harness.runner.submissions import live

    cfg = load_experiment("smoke", ["experiment=smoke", f"results={tmp_path / 'results'}", f"dataset.root={synth_data}",
                                    "method=slow-static", "method.sleep_s=0.3", f"plugins=[{PLUGIN}]", *SMALL][1:])
    run = prepare(cfg)
    shards = plan_shards(pending_videos(run, None), cfg.cluster)
    jobs = submit_shards(make_executor(cfg.cluster, run.job_logs, name="mosebench-smoke"), cfg.cluster,
                         ShardRunner(str(run.root)), shards)
    assert not run.jobs.exists()  # the driver "died" before recording anything
    found = live(run, "slurm", run.job_logs)
    assert found and {j.split("_")[0] for j in found} == {jobs[0].job_id.split("_")[0]}, (found, jobs)

    t0 = time.perf_counter()
    st = cli("status", str(run.root)).stdout
    assert time.perf_counter() - t0 < 15 and "still running" in st, st

    cli("resume", str(run.root), timeout=240)
    starts = [e["video"] for e in run.cell(CELL).starts()]
    assert sorted(starts) == sorted(open_dataset(synth_data).videos), f"a video was predicted twice: {starts}"

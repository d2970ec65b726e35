"""Cluster config -> submitit executor, and how work is cut into shards."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import ClusterConfig, load_experiment
from harness.errors import ConfigError
from harness.runner.executors import InlineExecutor, make_executor, sbatch_extra
from harness.runner.plan import plan_shards


def test_slurm_executor_gets_every_cluster_option(tmp_path: Path) -> None:
    cfg = load_experiment("demo", ["cluster=slurm", "cluster.partition=gpu", "cluster.account=vos",
                                   "cluster.qos=high", "cluster.constraint=a100", "cluster.gpus=2",
                                   "cluster.cpus=6", "cluster.mem=40G", "cluster.timeout_min=90",
                                   "cluster.array_parallelism=5",
                                   "cluster.extra_sbatch=[--exclusive,--reservation=bench]",
                                   "cluster.setup=[module load cuda]"])
    ex = make_executor(cfg.cluster, tmp_path, name="mosebench-demo")
    from submitit.slurm.slurm import _make_sbatch_string

    # what map_array submits for a 12-shard array
    text = _make_sbatch_string(command="python -m x", folder=tmp_path, map_count=12, **ex.parameters)
    for line in ("--partition=gpu", "--account=vos", "--qos=high", "--constraint=a100", "--gpus-per-node=2",
                 "--cpus-per-task=6", "--mem=40G", "--time=90", "--array=0-11%5", "--exclusive",
                 "--reservation=bench", "--job-name=mosebench-demo"):
        assert f"#SBATCH {line}" in text, line
    assert "module load cuda" in text


def test_sbatch_extra_lines_and_unknown_executor() -> None:
    assert sbatch_extra(["--exclusive", "#SBATCH --mail-type=END", "--gres=gpu:a100:1"]) == {
        "exclusive": True, "mail_type": "END", "gres": "gpu:a100:1"}
    with pytest.raises(ConfigError, match="--key=value"):
        sbatch_extra(["exclusive"])
    with pytest.raises(ConfigError, match="unknown executor 'k8s'"):
        make_executor(ClusterConfig(name="x", executor="k8s"), ".")
    assert isinstance(make_executor(ClusterConfig(name="inline", executor="inline"), "."), InlineExecutor)


def test_shards_per_cell_chunks_or_contiguous_jobs() -> None:
    pending = {"a": ["v1", "v2", "v3"], "b": ["v1", "v2"]}
    per_cell = plan_shards(pending, ClusterConfig(videos_per_shard=2))
    assert [s.describe() for s in per_cell] == ["a[2]", "a[1]", "b[2]"]
    jobs = plan_shards(pending, ClusterConfig(jobs=2))
    assert [s.describe() for s in jobs] == ["a[3]", "b[2]"]
    assert sum(s.n_videos for s in plan_shards(pending, ClusterConfig(jobs=10))) == 5
    assert plan_shards({}, ClusterConfig()) == []


def test_local_jobs_get_their_own_gpus(tmp_path: Path) -> None:
    """submitit's LocalExecutor would give every job GPU 0 (or hide GPUs when gpus=0): each local
    job gets its own CUDA_VISIBLE_DEVICES, round-robin over cluster.gpu_ids."""
    from harness.runner.executors import submit_shards

    class Recorder:
        def __init__(self) -> None:
            self.params: dict = {}
            self.submitted: list = []

        def update_parameters(self, **kw) -> None:
            self.params.update(kw)

        def submit(self, fn, shard):
            self.submitted.append((shard, self.params["visible_gpus"], self.params["gpus_per_node"]))
            return shard

        def map_array(self, fn, shards):
            return ["array", *shards]

    shards = [f"s{i}" for i in range(3)]
    rec = Recorder()
    submit_shards(rec, ClusterConfig(executor="local", gpus=1, gpu_ids=[2, 3]), None, shards)
    assert rec.submitted == [("s0", (2,), 1), ("s1", (3,), 1), ("s2", (2,), 1)]
    rec = Recorder()
    submit_shards(rec, ClusterConfig(executor="local", gpus=0), None, shards[:2], device="cuda:0")
    assert rec.submitted == [("s0", (0,), 1), ("s1", (1,), 1)]  # device=cuda implies a GPU per job
    assert submit_shards(Recorder(), ClusterConfig(executor="local"), None, shards)[0] == "array"  # CPU
    assert submit_shards(Recorder(), ClusterConfig(executor="slurm", gpus=1), None, shards)[0] == "array"

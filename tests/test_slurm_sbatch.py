"""The sbatch scripts that `cluster=slurm` makes (via harness.runner.executors and submitit): the
options that matter (array size and parallelism, GPUs, time, signal, dependency) checked against the
config that asked for them, then the whole text against golden files (a submitit snapshot: it catches
unintended changes, the option checks say what must hold), and the same scripts accepted and run by
the real test cluster.

Paths that vary (the job folder, the interpreter, job ids) are normalised to {FOLDER}, {PYTHON},
{JOBID}. To accept a deliberate change: MOSEBENCH_UPDATE_GOLDEN=1 pytest tests/test_slurm_sbatch.py
and review the diff of tests/golden/sbatch/.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest
from _slurm import sacct

from harness.config import load_experiment
from harness.runner.executors import make_executor, with_dependency

GOLDEN = Path(__file__).parent / "golden" / "sbatch"
# Every SLURM option of the cluster config, set as a user would on the command line. The values exist
# on the test cluster (partition gpu, account mosebench, qos normal, feature fakegpu).
OVERRIDES = ["cluster=slurm", "cluster.partition=gpu", "cluster.account=mosebench", "cluster.qos=normal",
             "cluster.constraint=fakegpu", "cluster.gpus=1", "cluster.cpus=2", "cluster.mem=2G",
             "cluster.timeout_min=30", "cluster.signal_delay_s=90", "cluster.array_parallelism=2",
             "cluster.extra_sbatch=[--comment=mosebench-golden,'#SBATCH --mail-type=END']",
             "cluster.setup=['export OMP_NUM_THREADS=2']"]
N_TASKS = 3


def _cluster():
    return load_experiment("smoke", OVERRIDES).cluster


def _normalise(text: str, folder: Path) -> str:
    text = text.replace(str(folder), "{FOLDER}").replace(sys.executable, "{PYTHON}")
    return re.sub(r"(--dependency=afterany:)[0-9:]+", r"\1{JOBID}", text)


def _array_text(folder: Path) -> str:
    """What submitit writes for a map_array of N_TASKS calls (without submitting)."""
    import submitit

    ex = make_executor(_cluster(), folder, name="mosebench-golden")
    array_ex = submitit.SlurmExecutor(ex.folder, ex.max_num_timeout)
    array_ex.update_parameters(**ex.parameters)
    array_ex.parameters["map_count"] = N_TASKS
    return array_ex._make_submission_file_text(array_ex._submitit_command_str, "uid")


def _dependent_text(folder: Path) -> str:
    """The scoring job submitted after the array (afterany dependency)."""
    ex = with_dependency(make_executor(_cluster(), folder, name="mosebench-golden"), _cluster(), ["17_0", "17_1"])
    return ex._make_submission_file_text(ex._submitit_command_str, "uid")


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MOSEBENCH_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"{path} missing: run with MOSEBENCH_UPDATE_GOLDEN=1 once"
    assert text == path.read_text(), f"sbatch script differs from {path} (MOSEBENCH_UPDATE_GOLDEN=1 to accept)"


def _options(text: str) -> dict[str, str]:
    """``#SBATCH --key=value`` lines as ``{key: value}`` (``--flag`` alone: value ``""``)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#SBATCH --"):
            key, _, value = line[len("#SBATCH --"):].partition("=")
            assert key not in out, f"--{key} given twice"
            out[key] = value
    return out


def _asked(cluster) -> dict[str, str]:
    """The options every job must carry, from the config's own values (not from a snapshot)."""
    return {"partition": cluster.partition, "account": cluster.account, "qos": cluster.qos,
            "constraint": cluster.constraint, "cpus-per-task": str(cluster.cpus), "mem": cluster.mem,
            "time": str(cluster.timeout_min), "signal": f"USR2@{cluster.signal_delay_s}",
            "comment": "mosebench-golden", "mail-type": "END"}


def test_array_script_asks_for_what_the_config_says(tmp_path: Path) -> None:
    cluster = _cluster()
    text = _array_text(tmp_path / "jobs")
    opts = _options(text)
    assert {k: opts.get(k) for k in _asked(cluster)} == _asked(cluster)
    # one task per shard, at most array_parallelism at once; each task gets its GPUs
    assert opts["array"] == f"0-{N_TASKS - 1}%{cluster.array_parallelism}"
    assert opts["gpus-per-node"] == str(cluster.gpus) and opts["nodes"] == "1"
    assert "dependency" not in opts
    # the checkpoint signal comes before the time limit kills the job
    assert int(opts["signal"].split("@")[1]) < int(opts["time"]) * 60
    assert "\n# setup\nexport OMP_NUM_THREADS=2\n" in text
    _check("array.sh", _normalise(text, tmp_path / "jobs"))


def test_dependent_script_waits_for_the_whole_array_on_cpu(tmp_path: Path) -> None:
    cluster = _cluster()
    ex = with_dependency(make_executor(cluster, tmp_path / "jobs", name="mosebench-golden"), cluster,
                         ["17_0", "17_1", "18_2"])
    text = ex._make_submission_file_text(ex._submitit_command_str, "uid")
    opts = _options(text)
    assert opts["dependency"] == "afterany:17:18"  # every task of both arrays, whatever their outcome
    assert "array" not in opts and "gpus-per-node" not in opts  # scoring runs on CPU: no GPU held idle
    assert {k: opts.get(k) for k in _asked(cluster)} == _asked(cluster)
    _check("dependent.sh", _normalise(_dependent_text(tmp_path / "jobs"), tmp_path / "jobs"))


@pytest.mark.slurm
@pytest.mark.timeout(180)
def test_the_cluster_accepts_and_runs_the_golden_script(slurm_cluster, tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    ex = make_executor(_cluster(), folder, name="mosebench-golden")
    t0 = time.time()
    # os.getenv pickles by reference, so the job needs nothing from the tests folder on its path
    keys = ["CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "SLURM_JOB_ACCOUNT"]
    assert len(keys) == N_TASKS
    jobs = ex.map_array(os.getenv, keys)
    gpu, omp, account = [j.result() for j in jobs]
    array_id = jobs[0].job_id.split("_")[0]
    submitted = (folder / f"{array_id}_submission.sh").read_text()
    assert _normalise(submitted, folder) == (GOLDEN / "array.sh").read_text()
    assert gpu not in (None, "")  # SLURM gave the task one (fake) GPU
    assert (omp, account) == ("2", "mosebench")  # the setup lines ran; the account was used
    deadline = time.time() + 20
    while True:  # sacct lags the controller by a second or two
        rows = sacct("-X", "-j", array_id, "-o", "JobID,Partition,QOS,AllocTRES")
        if len(rows) >= N_TASKS or time.time() > deadline:
            break
        time.sleep(0.5)
    assert len(rows) == N_TASKS and all(r["Partition"] == "gpu" and r["QOS"] == "normal" for r in rows), rows
    assert all("gres/gpu=1" in r["AllocTRES"] for r in rows), rows
    assert time.time() - t0 < 120


def test_signal_delay_not_below_the_time_limit_is_a_config_error(tmp_path: Path) -> None:
    from harness.errors import ConfigError

    cluster = load_experiment("smoke", ["cluster=slurm", "cluster.timeout_min=1", "cluster.signal_delay_s=60"]).cluster
    with pytest.raises(ConfigError, match=r"cluster.signal_delay_s=60 must be below cluster.timeout_min\*60=60"):
        make_executor(cluster, tmp_path)

"""Executors: where shards run. ``inline`` (this process), ``local`` and ``slurm`` (submitit).

:func:`make_executor` is the one place a cluster config becomes an executor; ``cluster=slurm`` is
just another submitit executor. Every executor offers ``map_array(fn, items) -> jobs`` and
``submit(fn) -> job``; jobs offer ``job_id``, ``done()``, ``result()``, ``exception()`` and
``paths.stderr`` like submitit's.

:func:`live_jobs` answers "which jobs of this run are still queued or running" in one query per
executor (one ``squeue``, one process-table scan), also for jobs a killed driver started but never
recorded: a local job is a ``submitit.local._local <folder>`` process, a SLURM job's script lives
in the job folder, so both are found by the run's job folder.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.config import ClusterConfig
from harness.errors import ConfigError

EXECUTORS = ("inline", "local", "slurm")


def sbatch_extra(lines: Iterable[str]) -> dict[str, Any]:
    """``["--exclusive", "--reservation=x", "#SBATCH --mail-type=END"]`` -> submitit's
    ``additional_parameters`` (``{"exclusive": True, "reservation": "x", ...}``)."""
    out: dict[str, Any] = {}
    for line in lines:
        text = line.strip()
        if text.startswith("#SBATCH"):
            text = text[len("#SBATCH"):].strip()
        if not text.startswith("--"):
            raise ConfigError(f"cluster.extra_sbatch entry '{line}' must look like '--key=value' or '--flag'")
        key, sep, value = text[2:].partition("=")
        out[key.strip().replace("-", "_")] = value.strip() if sep else True
    return out


def slurm_parameters(cluster: ClusterConfig) -> dict[str, Any]:
    """submitit SlurmExecutor parameters from the cluster config."""
    # SLURM sends the time-out signal (submitit's checkpoint/requeue) at its first ~30 s check with
    # fewer than signal_delay_s left; a delay as long as the limit fires before the job step exists
    # and is lost, and the shard is killed at the limit without requeue.
    if int(cluster.signal_delay_s) >= int(cluster.timeout_min) * 60:
        raise ConfigError(f"cluster '{cluster.name}': cluster.signal_delay_s={cluster.signal_delay_s} must be "
                          f"below cluster.timeout_min*60={int(cluster.timeout_min) * 60} s (shards are signalled "
                          f"that long before their time limit to checkpoint and requeue); lower "
                          f"cluster.signal_delay_s or raise cluster.timeout_min")
    params: dict[str, Any] = {
        "time": int(cluster.timeout_min),
        "cpus_per_task": int(cluster.cpus),
        "array_parallelism": int(cluster.array_parallelism),
        "signal_delay_s": int(cluster.signal_delay_s),
        "nodes": 1,
        "ntasks_per_node": 1,
    }
    if cluster.gpus:
        params["gpus_per_node"] = int(cluster.gpus)
    for key in ("partition", "account", "qos", "constraint", "mem"):
        value = getattr(cluster, key)
        if value:
            params[key] = str(value)
    if cluster.setup:
        params["setup"] = list(cluster.setup)
    extra = sbatch_extra(cluster.extra_sbatch)
    if extra:
        params["additional_parameters"] = extra
    return params


def make_executor(cluster: ClusterConfig, folder: str | os.PathLike, *, name: str = "mosebench") -> Any:
    """Build the executor for ``cluster`` writing job files and logs under ``folder``."""
    folder = Path(folder)
    if cluster.executor == "inline":
        return InlineExecutor(folder)
    import submitit

    if cluster.executor == "local":
        ex = submitit.LocalExecutor(folder=folder, max_num_timeout=cluster.max_num_timeout)
        ex.update_parameters(timeout_min=int(cluster.timeout_min), signal_delay_s=int(cluster.signal_delay_s))
        if cluster.setup:
            ex.update_parameters(setup=list(cluster.setup))
        return ex
    if cluster.executor == "slurm":
        ex = submitit.SlurmExecutor(folder=folder, max_num_timeout=cluster.max_num_timeout)
        ex.update_parameters(job_name=name, **slurm_parameters(cluster))
        return ex
    raise ConfigError(f"cluster '{cluster.name}': unknown executor '{cluster.executor}'; "
                      f"valid: {', '.join(EXECUTORS)}")


def submit_shards(executor: Any, cluster: ClusterConfig, runner: Any, shards: list, *,
                  device: str = "cpu") -> list:
    """Submit one job per shard (a SLURM job array via ``map_array``).

    submitit's LocalExecutor gives every job ``CUDA_VISIBLE_DEVICES=0..gpus-1`` (and hides all GPUs
    when ``gpus`` is 0), so local jobs are submitted one by one, each with its own GPUs taken
    round-robin from ``cluster.gpu_ids`` (default ``0 .. jobs*gpus-1``).
    """
    gpus = max(int(cluster.gpus), 1 if str(device).startswith("cuda") else 0)
    if cluster.executor != "local" or gpus == 0:
        return executor.map_array(runner, shards)
    pool = list(cluster.gpu_ids) or list(range(gpus * max(1, len(shards))))
    jobs = []
    for k, shard in enumerate(shards):
        ids = tuple(pool[(k * gpus + i) % len(pool)] for i in range(gpus))
        executor.update_parameters(gpus_per_node=gpus, visible_gpus=ids)
        jobs.append(executor.submit(runner, shard))
    return jobs


def with_dependency(executor: Any, cluster: ClusterConfig, job_ids: Iterable[str]) -> Any:
    """For SLURM, a copy-free way to make the next submission wait for ``job_ids`` (afterany).

    The dependent job (scoring + MLflow logging) runs on CPU, so it asks for no GPU: on a real
    cluster a GPU held just to score would sit idle.
    """
    ids = sorted({str(j).split("_")[0] for j in job_ids})
    if cluster.executor == "slurm" and ids:
        executor.update_parameters(dependency="afterany:" + ":".join(ids), gpus_per_node=None)
    return executor


def clear_dependency(executor: Any, cluster: ClusterConfig) -> None:
    """Undo :func:`with_dependency` for the next predict submission (GPUs back as configured)."""
    if cluster.executor == "slurm":
        executor.update_parameters(dependency=None, gpus_per_node=int(cluster.gpus) or None)


def _local_controllers() -> dict[str, Path]:
    """pid -> job folder of every running submitit local job controller on this machine."""
    import psutil

    out: dict[str, Path] = {}
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            cmd = proc.info["cmdline"] or []
            if proc.info["status"] == psutil.STATUS_ZOMBIE or "submitit.local._local" not in cmd:
                continue
            folder = Path(cmd[cmd.index("submitit.local._local") + 1])
            out[str(proc.info["pid"])] = folder if folder.is_absolute() else Path(proc.cwd()) / folder
        except (psutil.Error, IndexError, ValueError):
            continue
    return out


def _local_alive(job_id: str) -> bool:
    """A recorded local job id (the controller's pid, or its shell's with ``cluster.setup``) still runs."""
    import psutil

    try:
        proc = psutil.Process(int(job_id))
        return proc.status() != psutil.STATUS_ZOMBIE and "submitit" in " ".join(proc.cmdline())
    except (psutil.Error, ValueError):
        return False


# squeue states of jobs whose work is over (COMPLETING: the job ended, SLURM is cleaning up)
_ENDED = {"COMPLETING", "COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL",
          "DEADLINE", "OUT_OF_MEMORY"}


def _squeue() -> list[tuple[str, str, Path]] | None:
    """``(job id, array job id, script path)`` of this user's queued or running SLURM jobs (one call);
    None when squeue cannot answer."""
    try:
        proc = subprocess.run(["squeue", "-h", "-u", getpass.getuser(), "-o", "%i|%A|%T|%Z|%o"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    out = []
    for line in proc.stdout.splitlines():
        parts = line.strip().split("|", 4)
        if len(parts) == 5 and parts[2] not in _ENDED:
            jid, array_id, _, workdir, script = parts
            path = Path(script.split()[0]) if script.strip() else Path()
            out.append((jid, array_id, path if path.is_absolute() else Path(workdir) / path))
    return out


def _inside(path: Path, folder: Path) -> bool:
    try:
        return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))
    except (OSError, ValueError):
        return False


def live_jobs(entries: Sequence[Mapping[str, Any]], *, executor: str | None = None,
              folder: str | os.PathLike | None = None) -> list[str]:
    """Ids of the jobs that are still queued or running among ``entries`` (``jobs.json``: dicts with
    ``executor``, ``folder``, ``job_ids``), and of any other job whose job folder is one of theirs or
    ``folder`` (for ``executor``): a driver killed between starting jobs and recording them."""
    kinds: dict[str, set[Path]] = {}
    for e in entries:
        if e.get("folder"):
            kinds.setdefault(str(e.get("executor")), set()).add(Path(e["folder"]))
    if executor and folder is not None:
        kinds.setdefault(executor, set()).add(Path(folder))
    known: dict[str, list[str]] = {}
    for e in entries:
        known.setdefault(str(e.get("executor")), []).extend(str(j) for j in e.get("job_ids", []))
    live: list[str] = []
    if "local" in kinds or "local" in known:
        found = _local_controllers()
        live += [j for j in known.get("local", []) if j in found or _local_alive(j)]
        mine = {os.path.abspath(d) for d in kinds.get("local", ())}
        live += [pid for pid, f in found.items() if pid not in live and os.path.abspath(f) in mine]
    if "slurm" in kinds or "slurm" in known:
        queue = _squeue()
        if queue is None:  # squeue unavailable: ask per recorded job (slow: sacct each)
            import submitit

            for e in entries:
                for j in e.get("job_ids", []) if e.get("executor") == "slurm" else []:
                    try:
                        if not submitit.SlurmJob(e["folder"], j).done(force_check=True):
                            live.append(str(j))
                    except Exception:
                        pass
            return live
        ids = {jid for jid, _, _ in queue}
        arrays = {array_id for _, array_id, _ in queue}
        live += [j for j in known.get("slurm", []) if j in ids or j.split("_")[0] in arrays]
        recorded = {j.split("_")[0] for j in known.get("slurm", [])}
        live += [jid for jid, array_id, script in queue if array_id not in recorded
                 and any(_inside(script, d) for d in kinds.get("slurm", ()))]
    return live


class _InlinePaths:
    def __init__(self, folder: Path, job_id: str) -> None:
        self.stdout = folder / f"{job_id}_log.out"
        self.stderr = folder / f"{job_id}_log.err"


class InlineJob:
    """A finished in-process job with submitit's result/exception surface."""

    def __init__(self, folder: Path, job_id: str, fn: Callable[[], Any]) -> None:
        self.job_id = job_id
        self.paths = _InlinePaths(folder, job_id)
        self._result: Any = None
        self._error: BaseException | None = None
        self._tb = ""
        try:
            self._result = fn()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # reported like a failed submitit job
            self._error = exc
            self._tb = traceback.format_exc()
            folder.mkdir(parents=True, exist_ok=True)
            self.paths.stderr.write_text(self._tb)

    state = property(lambda self: "FAILED" if self._error else "COMPLETED")

    def done(self, force_check: bool = False) -> bool:
        return True

    def exception(self) -> BaseException | None:
        return self._error

    def traceback(self) -> str:
        return self._tb

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._result


class InlineExecutor:
    """Runs each submission immediately in this process (debugging, benchmarks)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._count = 0

    def _next_id(self) -> str:
        self._count += 1
        return f"inline-{os.getpid()}-{self._count}"

    def submit(self, fn: Callable[..., Any], *args: Any) -> InlineJob:
        return InlineJob(self.folder, self._next_id(), lambda: fn(*args))

    def map_array(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> list[InlineJob]:
        return [self.submit(fn, *args) for args in zip(*iterables)]

    def update_parameters(self, **kwargs: Any) -> None:
        pass

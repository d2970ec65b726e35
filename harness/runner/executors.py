"""Executors: where shards run. ``inline`` (this process), ``local`` and ``slurm`` (submitit).

:func:`make_executor` is the one place a cluster config becomes an executor; ``cluster=slurm`` is
just another submitit executor. Every executor offers ``map_array(fn, items) -> jobs`` and
``submit(fn) -> job``; jobs offer ``job_id``, ``done()``, ``result()``, ``exception()`` and
``paths.stderr`` like submitit's.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterable
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

"""The callables submitted to executors: one checkpointable shard runner and the aggregate step.

Both are tiny picklable objects (paths and small tuples); heavy imports happen inside
``__call__`` on the worker. On preemption or timeout submitit calls :meth:`checkpoint`, which
resubmits the same shard: completed videos have records and are skipped, so the requeued shard
resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import submitit

from harness.runner.plan import Shard


class ShardRunner(submitit.helpers.Checkpointable):
    """``runner(shard)`` predicts the shard's missing videos (see :func:`harness.runner.predict.run_shard`)."""

    def __init__(self, run_dir: str, *, method_overrides: Mapping[str, Any] | None = None,
                 force_before: float | None = None, attempt: int = 1, progress: bool = False) -> None:
        self.run_dir = str(run_dir)
        self.method_overrides = dict(method_overrides or {})
        self.force_before = force_before
        self.attempt = attempt
        self.progress = progress

    def __call__(self, shard: Shard) -> Any:
        from harness.runner.predict import run_shard

        return run_shard(self.run_dir, shard, method_overrides=self.method_overrides,
                         force_before=self.force_before, attempt=self.attempt, progress=self.progress)

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        # Nothing to save: per-video records are the checkpoint. Resubmit the same shard.
        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


class AggregateStep(submitit.helpers.Checkpointable):
    """Score every complete cell of a run and log it to MLflow (the only MLflow writer)."""

    def __init__(self, run_dir: str) -> None:
        self.run_dir = str(run_dir)

    def __call__(self) -> Any:
        from harness.runner.cell_summary import aggregate_run

        return aggregate_run(self.run_dir)

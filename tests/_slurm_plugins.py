"""A method plugin for the SLURM tests: the real static baseline that, on its job's first SLURM
attempt, stalls on one video until the job runs out of time (so that SLURM signals the time-out,
submitit checkpoints and requeues the shard, and the requeued attempt resumes and finishes)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from adapters.static_baseline import StaticBaseline, StaticSession
from harness.api import FrameSource, Session


@dataclass(frozen=True)
class StallStaticConfig:
    stall_on: str = ""  # video name that stalls on the first attempt of its job
    stall_s: float = 600.0
    sleep_s: float = 0.0  # per frame, every attempt


class _Session(StaticSession):
    def __init__(self, method: StallStatic, video: FrameSource) -> None:
        super().__init__(method, video)
        self._cfg = method.cfg

    def propagate(self):
        # SLURM sets SLURM_RESTART_COUNT from the first requeue on.
        first_attempt = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) == 0
        for fr in super().propagate():
            if first_attempt and self.video.name == self._cfg.stall_on and fr.frame == 1:
                time.sleep(self._cfg.stall_s)
            time.sleep(self._cfg.sleep_s)
            yield fr


class StallStatic(StaticBaseline):
    name = "stall-static"
    Config = StallStaticConfig

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return _Session(self, video)


MOSEBENCH_ADAPTERS = {"stall-static": StallStatic}

"""A method plugin for the runner tests: the real static baseline, optionally slowed down or made to
fail on one video (to exercise kill/resume, failure reporting and the retry policy)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from adapters.static_baseline import StaticBaseline, StaticSession
from harness.api import FrameSource, Session


@dataclass(frozen=True)
class SlowStaticConfig:
    sleep_s: float = 0.0  # per frame
    fail_on: str = ""  # video name whose session raises


class _Session(StaticSession):
    def __init__(self, method: SlowStatic, video: FrameSource) -> None:
        super().__init__(method, video)
        self._cfg = method.cfg

    def propagate(self):
        if self._cfg.fail_on and self.video.name == self._cfg.fail_on:
            raise RuntimeError(f"injected failure on {self.video.name}")
        for fr in super().propagate():
            time.sleep(self._cfg.sleep_s)
            yield fr


class SlowStatic(StaticBaseline):
    name = "slow-static"
    Config = SlowStaticConfig

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return _Session(self, video)


MOSEBENCH_ADAPTERS = {"slow-static": SlowStatic}

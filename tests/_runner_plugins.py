"""A method plugin for the runner tests: the real static baseline, optionally slowed down or made to
fail on one video (to exercise kill/resume, failure reporting and the retry policy)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from adapters.static_baseline import StaticBaseline, StaticSession
from harness.api import Capabilities, FrameSource, PromptKind, Session


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


class _DiscSession(Session):
    """Each object's mask = discs around its positive clicks so far, on every frame."""

    def __init__(self, video: FrameSource, radius: int) -> None:
        self.video = video
        self.radius = radius
        self.points: dict[int, list[tuple[float, float]]] = {}

    def add_prompt(self, prompt):
        self.points.setdefault(prompt.obj_id, [])
        self.points[prompt.obj_id] += [p for p, lab in zip(prompt.points, prompt.labels) if lab == 1]
        return None

    def _mask(self, oid: int):
        import numpy as np

        yy, xx = np.mgrid[: self.video.height, : self.video.width]
        m = np.zeros((self.video.height, self.video.width), bool)
        for x, y in self.points.get(oid, []):
            m |= (xx - x) ** 2 + (yy - y) ** 2 <= self.radius ** 2
        return m

    def propagate(self):
        from harness.api import FrameResult

        masks = {oid: self._mask(oid) for oid in self.points}
        for t in range(len(self.video)):
            yield FrameResult(frame=t, masks={o: m.copy() for o, m in masks.items()})


@dataclass(frozen=True)
class DiscsConfig:
    radius: int = 6


class ClickDiscs(StaticBaseline):
    """A click-driven method for the interactive setting: discs around positive clicks."""

    name = "click-discs"
    Config = DiscsConfig
    capabilities = Capabilities(prompts=frozenset({PromptKind.POINTS}), reprompt=True)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return _DiscSession(video, self.cfg.radius)


class _ProposalSession(Session):
    def __init__(self, video: FrameSource) -> None:
        self.video = video

    def add_prompt(self, prompt):
        raise AssertionError("unprompted method")

    def propagate(self):
        import numpy as np

        from harness.api import FrameResult

        h, w = self.video.height, self.video.width
        left = np.zeros((h, w), bool)
        left[:, : w // 2] = True
        for t in range(len(self.video)):
            yield FrameResult(frame=t, masks={1: left.copy(), 2: ~left})


class HalvesProposals(StaticBaseline):
    """An unsupervised 'method' proposing the left and right halves of every frame as two objects."""

    name = "halves"
    capabilities = Capabilities(prompts=frozenset(), unprompted=True)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return _ProposalSession(video)


MOSEBENCH_ADAPTERS.update({"click-discs": ClickDiscs, "halves": HalvesProposals})

"""Deliberately broken method plugins: the real static baseline with one adapter bug each, as a
newcomer writes them. ``mosebench check-method`` must name each bug and the runner must refuse
their outputs per video (``only_video`` limits the bug to one video, so the others must succeed)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from adapters.static_baseline import StaticBaseline, StaticSession
from harness.api import FrameResult, FrameSource, Session


@dataclass(frozen=True)
class FlawConfig:
    only_video: str = ""  # apply the flaw on this video only ("" = every video)


class _FlawedSession(StaticSession):
    def __init__(self, method: _Flawed, video: FrameSource) -> None:
        super().__init__(method, video)
        self._flaw = method.flaw
        self._on = not method.cfg.only_video or video.name == method.cfg.only_video

    def propagate(self):
        for fr in super().propagate():
            yield self._flaw(fr) if self._on else fr


class _Flawed(StaticBaseline):
    Config = FlawConfig

    @staticmethod
    def flaw(fr: FrameResult) -> FrameResult | None:
        raise NotImplementedError

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return _FlawedSession(self, video)


def _masks(fr: FrameResult, fn) -> FrameResult:
    return dataclasses.replace(fr, masks={o: fn(o, m) for o, m in fr.masks.items()})


class WrongIds(_Flawed):
    """Returns each object under its internal index + 101 instead of the dataset's id."""

    name = "wrong-ids"

    @staticmethod
    def flaw(fr):
        return dataclasses.replace(fr, masks={o + 100: m for o, m in fr.masks.items()})


class ShortMasks(_Flawed):
    """Masks one row short (an off-by-one crop)."""

    name = "short-masks"

    @staticmethod
    def flaw(fr):
        return _masks(fr, lambda o, m: m[:-1])


class HalfResMasks(_Flawed):
    """Masks at half resolution (forgot to upsample)."""

    name = "half-res"

    @staticmethod
    def flaw(fr):
        return _masks(fr, lambda o, m: m[::2, ::2])


class ByteMasks(_Flawed):
    """uint8 0/255 masks instead of bool."""

    name = "byte-masks"

    @staticmethod
    def flaw(fr):
        return _masks(fr, lambda o, m: m.astype(np.uint8) * 255)


class _SkipSession(_FlawedSession):
    def propagate(self):
        for fr in StaticSession.propagate(self):
            if not (self._on and fr.frame == 2):
                yield fr


class MissingFrame(_Flawed):
    """Skips frame 2 (e.g. a stride bug)."""

    name = "missing-frame"

    def open_session(self, video, max_objects=20):
        return _SkipSession(self, video)


class _EarlySession(StaticSession):
    def propagate(self):
        firsts = {o: by_frame[min(by_frame)] for o, by_frame in self._masks.items()}
        for fr in super().propagate():
            yield dataclasses.replace(fr, masks={**fr.masks, **{o: m.copy() for o, m in firsts.items()
                                                                 if not fr.masks[o].any()}})


class EarlyObjects(StaticBaseline):
    """Shows every object on all frames, also before its prompt (propagates backwards)."""

    name = "early"

    def open_session(self, video, max_objects=20):
        return _EarlySession(self, video)


class _GreedySession(StaticSession):
    def add_prompt(self, prompt):
        if hasattr(prompt, "mask"):
            return super().add_prompt(prompt)
        return None  # silently ignores prompt kinds it does not support


class GreedyPrompts(StaticBaseline):
    """Accepts box/point/scribble prompts without refusing them (and ignores them)."""

    name = "greedy"

    def open_session(self, video, max_objects=20):
        return _GreedySession(self, video)


class LeakyState(StaticBaseline):
    """Keeps prompts in the method, not the session: the next video sees the last one's objects."""

    name = "leaky"

    def open_session(self, video, max_objects=20):
        session = StaticSession(self, video)
        if not hasattr(self, "_shared"):
            self._shared = session._masks
        session._masks = self._shared
        return session


class _NoTimeSession(StaticSession):
    def propagate(self):
        for fr in super().propagate():
            yield dataclasses.replace(fr, model_time_s=0.0)


class NoTiming(StaticBaseline):
    """Never reports model time."""

    name = "no-timing"

    def open_session(self, video, max_objects=20):
        return _NoTimeSession(self, video)


MOSEBENCH_ADAPTERS = {cls.name: cls for cls in (WrongIds, ShortMasks, HalfResMasks, ByteMasks, MissingFrame,
                                                 EarlyObjects, GreedyPrompts, LeakyState, NoTiming)}

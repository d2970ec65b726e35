"""Method plugins of known cost for the FPS and memory tests (loaded with ``--plugin`` / ``plugins=``).

``metered``: sleeps ``model_s`` inside its model timer on every frame it processes (frames from its
first prompt on) and ``prompt_s`` per ``add_prompt``; ``other_s`` per frame outside the timer stands
for work that is not the model's (decoding). Every model sleep is appended, as measured, to the
JSON-lines file ``log``, so a test knows the exact model time and processed frames to expect.

``child-rss``: the static baseline, whose ``propagate`` first runs a child process that holds
``child_mib`` MiB resident for ``hold_s`` seconds (a method running in its own process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

from adapters.static_baseline import StaticBaseline, StaticSession
from harness.api import Capabilities, FrameResult, FrameSource, MaskPrompt, Method, PromptKind, Session
from harness.timing import ModelTimer


@dataclass(frozen=True)
class MeteredConfig:
    model_s: float = 0.02
    prompt_s: float = 0.01
    other_s: float = 0.0
    log: str = ""


class _MeteredSession(Session):
    def __init__(self, cfg: MeteredConfig, video: FrameSource) -> None:
        self.cfg, self.video = cfg, video
        self.masks: dict[int, np.ndarray] = {}
        self.first: int | None = None
        self.passes = 0

    def _log(self, kind: str, frame: int, seconds: float) -> None:
        if self.cfg.log:
            with open(self.cfg.log, "a") as f:
                f.write(json.dumps({"video": self.video.name, "kind": kind, "frame": frame,
                                    "pass": self.passes, "s": seconds}) + "\n")

    def _sleep(self, seconds: float) -> float:
        t0 = time.perf_counter()
        time.sleep(seconds)
        return time.perf_counter() - t0

    def add_prompt(self, prompt):
        dt = self._sleep(self.cfg.prompt_s)
        self._log("prompt", prompt.frame, dt)
        shape = (self.video.height, self.video.width)
        if isinstance(prompt, MaskPrompt):
            mask = prompt.mask.astype(bool)
        else:  # points: a 9x9 square around each positive click
            mask = self.masks.get(prompt.obj_id, np.zeros(shape, bool)).copy()
            for (x, y), label in zip(prompt.points, prompt.labels):
                if label == 1:
                    mask[max(0, int(y) - 4):int(y) + 5, max(0, int(x) - 4):int(x) + 5] = True
        self.masks[prompt.obj_id] = mask
        self.first = prompt.frame if self.first is None else min(self.first, prompt.frame)
        return None

    def propagate(self):
        self.passes += 1
        timer = ModelTimer("cpu")
        for t in range(len(self.video)):
            time.sleep(self.cfg.other_s)  # not the model's work: outside the timer
            masks = {o: m.copy() for o, m in self.masks.items()}
            if self.first is None or t < self.first:
                yield FrameResult(frame=t, masks={o: np.zeros_like(m) for o, m in masks.items()},
                                  processed=False)
                continue
            with timer:
                dt = self._sleep(self.cfg.model_s)
            self._log("frame", t, dt)
            yield FrameResult(frame=t, masks=masks, model_time_s=timer.pop())


class Metered(Method):
    """A method of known cost (see the module docstring)."""

    name = "metered"
    Config = MeteredConfig
    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK, PromptKind.POINTS}), reprompt=True)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return _MeteredSession(self.cfg or MeteredConfig(), video)


@dataclass(frozen=True)
class ChildRSSConfig:
    child_mib: int = 200
    hold_s: float = 0.6


_CHILD = "import sys, time; b = bytearray(int(sys.argv[1]) << 20); b[::4096] = b'x' * len(b[::4096]); " \
         "time.sleep(float(sys.argv[2]))"


class _ChildSession(StaticSession):
    def __init__(self, method: ChildRSS, video: FrameSource) -> None:
        super().__init__(method, video)
        self._cfg: ChildRSSConfig = method.cfg

    def propagate(self):
        subprocess.run([sys.executable, "-c", _CHILD, str(self._cfg.child_mib), str(self._cfg.hold_s)],
                       check=True)
        yield from super().propagate()


class ChildRSS(StaticBaseline):
    name = "child-rss"
    Config = ChildRSSConfig

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return _ChildSession(self, video)


MOSEBENCH_ADAPTERS = {"metered": Metered, "child-rss": ChildRSS}

"""Model time: the one timer methods and settings use, and the per-video account of the model's work.

Part of the method interface (next to :mod:`harness.api`): adapters import it, never the runner.

* :class:`ModelTimer` accumulates device-synchronised wall time of model work (CUDA kernels are
  asynchronous: without ``torch.cuda.synchronize`` a timer measures only the launch).
* :class:`WorkLog` / :class:`ModelWork`: which frames the model processed and the model time
  spent on them, from which the runner computes FPS (definition: ``docs/metrics.md``, "Speed and
  memory").

Nothing here imports torch unless torch is already imported (a CPU-only baseline never pays for it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from harness.api import FrameResult

R = TypeVar("R")

WARMUP_FRAMES = 5
"""Processed frames at the start of each video reported separately as warm-up (``docs/metrics.md``)."""


def _torch_cuda(device: str | None):
    """The torch module if ``device`` is a CUDA device and torch is loaded with CUDA, else None."""
    if not device or not str(device).startswith("cuda"):
        return None
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch


def synchronize(device: str | None) -> None:
    """Wait for queued kernels on ``device`` (no-op on CPU or without torch)."""
    torch = _torch_cuda(device)
    if torch is not None:
        torch.cuda.synchronize(device)


class ModelTimer:
    """Accumulates device-synchronised wall time of model work.

    >>> timer = ModelTimer("cpu")
    >>> with timer:
    ...     pass                      # the model's work
    >>> timer.call(sorted, [2, 1])    # same as a ``with`` block around one call
    [1, 2]
    >>> seconds = timer.pop()         # seconds since the previous pop (a frame's model time)

    ``total`` keeps every second ever timed. Blocks may not nest.
    """

    def __init__(self, device: str | None = "cpu") -> None:
        self.device = device
        self._pending = 0.0
        self.total = 0.0
        self._t0: float | None = None

    def __enter__(self) -> ModelTimer:
        if self._t0 is not None:
            raise RuntimeError("ModelTimer blocks may not nest (the inner block would be counted twice)")
        synchronize(self.device)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        assert self._t0 is not None
        dt = time.perf_counter() - self._t0
        self._t0 = None
        self._pending += dt
        self.total += dt

    def call(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)`` timed (also when it raises, e.g. ``StopIteration`` from ``next``)."""
        with self:
            return fn(*args)

    def pop(self) -> float:
        """Seconds accumulated since the previous :meth:`pop` (then resets that counter)."""
        dt, self._pending = self._pending, 0.0
        return dt


@dataclass(frozen=True)
class ModelWork:
    """The model's work on one video.

    Attributes:
        frame_s: model seconds of each frame the model processed, in processing order; a frame
            processed in several passes (interactive rounds) appears once per pass. Work done for a
            frame but outside its propagation step (prompt encoding, SAM2's preflight, proposals) is
            in the entry of the frame it was charged to.
        other_s: model seconds charged to no processed frame (e.g. prompt encoding of an
            interactive round); part of the total and of the warm-up, never a frame.
    """

    frame_s: tuple[float, ...] = ()
    other_s: float = 0.0

    @property
    def frames(self) -> int:
        return len(self.frame_s)

    @property
    def seconds(self) -> float:
        return float(sum(self.frame_s)) + self.other_s

    @property
    def warmup_frames(self) -> int:
        return min(WARMUP_FRAMES, len(self.frame_s))

    @property
    def warmup_s(self) -> float:
        """Seconds of the first :data:`WARMUP_FRAMES` processed frames plus :attr:`other_s`."""
        return float(sum(self.frame_s[:WARMUP_FRAMES])) + self.other_s


class WorkLog:
    """Builds a :class:`ModelWork` from frame results as they are produced.

    A frame counts as processed when its :attr:`FrameResult.processed` is true; the model time a
    method reports on a frame it did not process still counts (as :attr:`ModelWork.other_s`).
    """

    def __init__(self) -> None:
        self._frame_s: list[float] = []
        self._other_s = 0.0

    def add(self, result: FrameResult) -> None:
        """Account one frame result."""
        s = float(result.model_time_s)
        if result.processed:
            self._frame_s.append(s)
        else:
            self._other_s += s

    def add_other(self, seconds: float) -> None:
        self._other_s += float(seconds)

    def result(self) -> ModelWork:
        return ModelWork(tuple(self._frame_s), self._other_s)

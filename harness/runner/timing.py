"""Model-time and peak-memory measurement (TABLE 4's FPS and memory columns).

* :class:`ModelTimer` times the model's work with device synchronisation (CUDA kernels are
  asynchronous: without ``torch.cuda.synchronize`` a timer measures only the launch).
* :class:`PeakRSS` measures the peak resident set size of this process over a block, using the
  kernel's high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``) where available,
  else a sampling thread.
* :func:`reset_cuda_peak` / :func:`cuda_peak_bytes` wrap ``torch.cuda`` peak-memory statistics.

Nothing here imports torch unless torch is already imported (a CPU-only baseline never pays for it).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass


def _torch_cuda_device(device: str | None):
    """The torch module if ``device`` is a CUDA device and torch is loaded, else None."""
    if not device or not str(device).startswith("cuda"):
        return None
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch


def synchronize(device: str | None) -> None:
    """Wait for queued kernels on ``device`` (no-op on CPU)."""
    torch = _torch_cuda_device(device)
    if torch is not None:
        torch.cuda.synchronize(device)


class ModelTimer:
    """Accumulates device-synchronised wall time of model work.

    >>> timer = ModelTimer("cuda:0")
    >>> with timer:            # doctest: +SKIP
    ...     run_model()
    >>> timer.pop()            # seconds since the last pop   # doctest: +SKIP
    """

    def __init__(self, device: str | None = "cpu") -> None:
        self.device = device
        self._pending = 0.0
        self.total = 0.0
        self._t0: float | None = None

    def __enter__(self) -> ModelTimer:
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

    def pop(self) -> float:
        """Seconds accumulated since the previous :meth:`pop` (then resets that counter)."""
        dt, self._pending = self._pending, 0.0
        return dt


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return int(psutil.Process().memory_info().rss)


def _read_hwm_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # "5" resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


@dataclass
class PeakRSS:
    """Context manager: ``peak_bytes`` = peak resident memory of this process inside the block.

    ``interval_s`` is used only where the kernel high-water mark cannot be reset.
    """

    interval_s: float = 0.02
    peak_bytes: int = 0

    def __enter__(self) -> PeakRSS:
        self._kernel = _reset_hwm() and _read_hwm_bytes() is not None
        self.peak_bytes = current_rss_bytes()
        if not self._kernel:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_bytes = max(self.peak_bytes, current_rss_bytes())

    def __exit__(self, *exc: object) -> None:
        if self._kernel:
            self.peak_bytes = max(self.peak_bytes, _read_hwm_bytes() or 0)
        else:
            self._stop.set()
            self._thread.join()
            self.peak_bytes = max(self.peak_bytes, current_rss_bytes())


def reset_cuda_peak(device: str | None) -> None:
    """Reset ``torch.cuda`` peak statistics for ``device`` (no-op without CUDA)."""
    torch = _torch_cuda_device(device)
    if torch is not None:
        torch.cuda.reset_peak_memory_stats(device)


def cuda_peak_bytes(device: str | None) -> int | None:
    """``torch.cuda.max_memory_allocated`` since the last reset, or None without CUDA."""
    torch = _torch_cuda_device(device)
    if torch is None:
        return None
    return int(torch.cuda.max_memory_allocated(device))

"""Peak memory of one video's prediction (TABLE 4's memory column and the host-memory column).

* :class:`PeakRSS`: peak resident memory of the harness process **and its child processes** over a
  block. The harness process's own peak is exact (the kernel high-water mark ``VmHWM``, reset per
  block through ``/proc/self/clear_refs``); the whole process tree (this process plus every live
  descendant, their RSS summed) is sampled every ``interval_s``; a child reaped inside the block
  whose peak exceeds every earlier child's is also seen exactly (``RUSAGE_CHILDREN``'s
  ``ru_maxrss``). The result is the largest of the three. A child's peak shorter than the sampling
  interval can be missed when that child is still alive or is not the largest child so far.
* :func:`reset_gpu_peaks` / :func:`gpu_peaks`: ``torch.cuda`` peak statistics of this process,
  both allocated (tensors) and reserved (the caching allocator's pool: what ``nvidia-smi`` shows,
  minus the CUDA context). ``None`` on CPU: never a fake 0.

Nothing here imports torch unless torch is already imported.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_bytes(pid: int | str = "self") -> int:
    """Current RSS of a process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        if pid == "self":
            import psutil

            return int(psutil.Process().memory_info().rss)
        return 0


def current_rss_bytes() -> int:
    """RSS of this process now."""
    return _rss_bytes("self")


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (every thread's ``children`` file; psutil where it is missing)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            out += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except FileNotFoundError:  # kernel without CONFIG_PROC_CHILDREN
            import psutil

            try:
                return [c.pid for c in psutil.Process(pid).children()]
            except psutil.Error:
                return []
        except OSError:  # the thread ended meanwhile
            continue
    return out


def tree_rss_bytes(pid: int | None = None) -> int:
    """RSS of ``pid`` (default: this process) plus all its live descendants, summed."""
    root = os.getpid() if pid is None else pid
    total, todo, seen = 0, [root], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss_bytes(p)
        todo += _children(p)
    return total


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


def _children_maxrss_bytes() -> int:
    """Largest peak RSS of any child this process has waited for (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return int(kib) * (1 if sys.platform == "darwin" else 1024)


@dataclass
class PeakRSS:
    """Context manager: ``peak_bytes`` = peak resident memory of this process and its children
    inside the block (see the module docstring for how each part is measured)."""

    interval_s: float = 0.05
    peak_bytes: int = 0

    def __enter__(self) -> PeakRSS:
        self._kernel = _reset_hwm() and _read_hwm_bytes() is not None
        self._reaped0 = _children_maxrss_bytes()
        self.peak_bytes = tree_rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="mosebench-peak-rss", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_bytes = max(self.peak_bytes, tree_rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        peaks = [self.peak_bytes, tree_rss_bytes()]
        if self._kernel:
            peaks.append(_read_hwm_bytes() or 0)
        reaped = _children_maxrss_bytes()
        if reaped > self._reaped0:  # a child waited for in the block set a new maximum
            peaks.append(reaped)
        self.peak_bytes = max(peaks)


@dataclass(frozen=True)
class GpuPeaks:
    """Peak ``torch.cuda`` memory of this process since the last reset, in bytes."""

    allocated: int
    reserved: int


def _torch_cuda(device: str | None):
    from harness.timing import _torch_cuda as find

    return find(device)


def reset_gpu_peaks(device: str | None) -> None:
    """Reset ``torch.cuda`` peak statistics for ``device`` (no-op without CUDA)."""
    torch = _torch_cuda(device)
    if torch is not None:
        torch.cuda.reset_peak_memory_stats(device)


def gpu_peaks(device: str | None) -> GpuPeaks | None:
    """``max_memory_allocated`` / ``max_memory_reserved`` since the last reset, None without CUDA."""
    torch = _torch_cuda(device)
    if torch is None:
        return None
    return GpuPeaks(int(torch.cuda.max_memory_allocated(device)), int(torch.cuda.max_memory_reserved(device)))

"""harness.runner.timing: synchronised model timer, per-block peak RSS, CUDA helpers on CPU."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from harness.runner.timing import ModelTimer, cuda_peak_bytes, reset_cuda_peak


def test_model_timer_accumulates_and_pops():
    timer = ModelTimer("cpu")
    with timer:
        time.sleep(0.02)
    with timer:
        time.sleep(0.01)
    first = timer.pop()
    assert 0.025 < first < 0.5 and timer.pop() == 0.0
    assert timer.total >= first


_PEAK_SCRIPT = """
import numpy as np
from harness.runner.timing import PeakRSS, current_rss_bytes
base = current_rss_bytes()
with PeakRSS() as outer:
    block = np.ones(80 * 2**20, np.uint8)  # 80 MiB, touched, then freed
    del block
with PeakRSS() as small:  # a later block does not inherit the earlier peak
    np.ones(2**20, np.uint8)
print(base, outer.peak_bytes, small.peak_bytes)
"""


def test_peak_rss_sees_a_transient_allocation():
    # a fresh process: in a long test session freed-but-resident heap pages would absorb the block
    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    base, outer, small = (int(v) for v in out.stdout.split())
    assert outer - base > 60 * 2**20
    assert small < outer - 40 * 2**20


def test_cuda_helpers_are_noops_without_cuda():
    reset_cuda_peak("cpu")
    assert cuda_peak_bytes("cpu") is None
    assert cuda_peak_bytes(None) is None

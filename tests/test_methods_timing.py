"""harness.runner.timing: synchronised model timer, per-block peak RSS, CUDA helpers on CPU."""

from __future__ import annotations

import time

import numpy as np

from harness.runner.timing import ModelTimer, PeakRSS, cuda_peak_bytes, current_rss_bytes, reset_cuda_peak


def test_model_timer_accumulates_and_pops():
    timer = ModelTimer("cpu")
    with timer:
        time.sleep(0.02)
    with timer:
        time.sleep(0.01)
    first = timer.pop()
    assert 0.025 < first < 0.5 and timer.pop() == 0.0
    assert timer.total >= first


def test_peak_rss_sees_a_transient_allocation():
    base = current_rss_bytes()
    with PeakRSS() as outer:
        block = np.ones(80 * 2**20, np.uint8)  # 80 MiB, touched
        del block
    assert outer.peak_bytes - base > 60 * 2**20
    with PeakRSS() as small:  # a later block does not inherit the earlier peak
        np.ones(2**20, np.uint8)
    assert small.peak_bytes < outer.peak_bytes - 40 * 2**20


def test_cuda_helpers_are_noops_without_cuda():
    reset_cuda_peak("cpu")
    assert cuda_peak_bytes("cpu") is None
    assert cuda_peak_bytes(None) is None

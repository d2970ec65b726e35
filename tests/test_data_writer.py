"""PredictionWriter: palette PNGs, background thread, atomic files, errors surfacing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data import open_dataset
from harness.data.masks import read_label_png
from harness.data.writer import PredictionWriter


def test_writes_palette_pngs(synth_data: Path, tmp_path: Path) -> None:
    v = open_dataset(synth_data).video("synth000")
    buf = np.zeros((v.height, v.width), np.uint8)
    with PredictionWriter(tmp_path, v) as w:
        for i in range(len(v)):
            buf[:] = v.gt(i)
            w.write(i, buf)  # reusing the buffer is allowed: write copies
            buf[:] = 0
    assert w.written == len(v)
    for i in range(len(v)):
        path = tmp_path / "synth000" / f"{v.frame_names[i]}.png"
        with Image.open(path) as im:
            assert im.mode == "P" and im.size == (v.width, v.height)
        assert np.array_equal(read_label_png(path), v.gt(i))
    assert not [p for p in (tmp_path / "synth000").iterdir() if p.suffix != ".png"]


def test_rejects_bad_arrays(synth_data: Path, tmp_path: Path) -> None:
    v = open_dataset(synth_data).video("synth000")
    with PredictionWriter(tmp_path, v) as w:
        with pytest.raises(ValueError, match="shape"):
            w.write(0, np.zeros((5, 5), np.uint8))
        with pytest.raises(ValueError, match="0..255"):
            w.write(0, np.full((v.height, v.width), 300, np.int32))
        with pytest.raises(IndexError):
            w.write(len(v), np.zeros((v.height, v.width), np.uint8))


def test_encode_failure_leaves_no_file_and_reraises(synth_data: Path, tmp_path: Path, monkeypatch) -> None:
    import harness.data.masks as masks

    v = open_dataset(synth_data).video("synth000")
    real = masks.encode_label_png
    calls = []

    def flaky(labels):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full (simulated)")
        return real(labels)

    monkeypatch.setattr(masks, "encode_label_png", flaky)
    w = PredictionWriter(tmp_path, v)
    for i in range(5):
        try:
            w.write(i, v.gt(i))
        except OSError:
            break
    with pytest.raises(OSError, match="disk full"):
        w.close()
    files = sorted(p.name for p in (tmp_path / "synth000").iterdir())
    assert files == ["00000.png", "00001.png"]  # nothing partial, nothing after the failure


def test_write_failure_midway_leaves_no_partial_png(synth_data: Path, tmp_path: Path, monkeypatch) -> None:
    """A write that dies after some bytes hit the temp file leaves neither a PNG nor the temp."""
    import harness.data.masks as masks

    v = open_dataset(synth_data).video("synth000")
    real_fdopen = os.fdopen

    class Dying:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(data[:10])
            raise OSError("killed mid-write (simulated)")

    monkeypatch.setattr(masks.os, "fdopen", lambda fd, mode: Dying(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="mid-write"):
        with PredictionWriter(tmp_path, v) as w:
            w.write(0, v.gt(0))
            w.close()
    assert list((tmp_path / "synth000").iterdir()) == []


KILLED_WRITER = r"""
import sys, numpy as np
from harness.data import open_dataset
from harness.data.writer import PredictionWriter
v = open_dataset(sys.argv[1]).video("synth000")
big = type("V", (), {"name": "big", "frame_names": tuple(f"{i:05d}" for i in range(100000)),
                     "height": 720, "width": 1280})()
rng = np.random.default_rng(0)
labels = rng.integers(0, 8, (720, 1280), dtype=np.uint8)  # noisy: slow to encode, big files
with PredictionWriter(sys.argv[2], big) as w:
    for i in range(100000):
        w.write(i, labels)
        if i == 3:
            print("writing", flush=True)
"""


def test_killed_process_leaves_only_complete_pngs(synth_data: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(synth_data), str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    deadline = time.time() + 20
    while len(list((tmp_path / "big").glob("*.png"))) < 2 and time.time() < deadline:
        time.sleep(0.02)  # kill while the writer is busy with later frames
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = tmp_path / "big"
    pngs = sorted(folder.glob("*.png"))
    assert pngs, "the writer should have finished some frames before the kill"
    for p in pngs:
        assert read_label_png(p).shape == (720, 1280)  # every visible PNG is whole
    # A later writer for the same video cleans up a temp file the killed one may have left.
    (folder / ".00009.png.abc.tmp").write_bytes(b"\x89PNG partial")
    PredictionWriter(tmp_path, type("V", (), {"name": "big", "frame_names": ("00000",),
                                               "height": 720, "width": 1280})()).close()
    assert not list(folder.glob(".*.tmp"))

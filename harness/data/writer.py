"""Prediction writer: palette PNGs written atomically on a background thread.

``out_root/<video>/<frame_name>.png``, mode ``P`` with the DAVIS palette, pixel value = object id.
Each file goes through a temp file in the same folder and ``os.replace``, so a job killed at any
moment leaves only complete PNGs (plus possibly a hidden ``.<name>.png.*.tmp`` that the next writer
for that video removes).
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from harness.data.masks import write_label_png


class _VideoLike(Protocol):
    name: str
    frame_names: tuple[str, ...]
    height: int
    width: int


def remove_stale_temp_files(folder: Path) -> int:
    """Delete temp files a killed writer left in ``folder``; returns how many."""
    n = 0
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    for name in names:
        if name.startswith(".") and name.endswith(".tmp"):
            try:
                os.unlink(folder / name)
                n += 1
            except FileNotFoundError:
                pass
    return n


class PredictionWriter:
    """Write one video's predicted label maps; use as a context manager.

    Args:
        out_root: predictions folder; files go to ``out_root/<video.name>/<frame_name>.png``.
        video: anything with ``name``, ``frame_names``, ``height``, ``width`` (a :class:`Video`).
        queue_size: label maps waiting for the writer thread (bounds memory; ``write`` blocks when full).

    ``write`` copies the array, so the caller may reuse its buffer. An error on the writer thread is
    re-raised by every later ``write`` and by ``close``; frames queued after it are not written.
    """

    def __init__(self, out_root: str | os.PathLike, video: _VideoLike, *, queue_size: int = 8) -> None:
        self.video = video
        self.folder = Path(out_root) / video.name
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(self.folder)
        self.written = 0
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"writer-{video.name}", daemon=True)
        self._thread.start()

    def path(self, index: int) -> Path:
        return self.folder / f"{self.video.frame_names[index]}.png"

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain without writing after a failure
            index, labels = item
            try:
                write_label_png(self.path(index), labels)
                self.written += 1
            except BaseException as exc:  # re-raised in the caller's thread
                self._error = exc

    def _raise_pending(self) -> None:
        # Sticky: once a frame failed, every later write and close raises it again.
        if self._error is not None:
            raise self._error

    def write(self, index: int, labels: np.ndarray, *, copy: bool = True) -> None:
        """Queue frame ``index``'s ``(H, W)`` integer object ids (< 256) for writing.

        ``copy=False`` hands the array over (the caller must not touch it again): saves a frame
        copy on the model's thread when the caller built the array for this call alone."""
        if self._closed:
            raise RuntimeError(f"PredictionWriter for {self.video.name!r} is closed")
        self._raise_pending()
        if not 0 <= index < len(self.video.frame_names):
            raise IndexError(f"frame {index} out of range for video {self.video.name!r}")
        labels = np.asarray(labels)
        if labels.shape != (self.video.height, self.video.width):
            raise ValueError(f"prediction for frame {index} of {self.video.name!r} has shape {labels.shape}, "
                             f"expected {(self.video.height, self.video.width)}")
        if labels.dtype != np.uint8:
            if labels.size and (labels.min() < 0 or labels.max() > 255):
                raise ValueError("object ids must be in 0..255 to fit a palette PNG")
            labels = labels.astype(np.uint8)
        elif copy:
            labels = labels.copy()
        self._queue.put((index, labels))

    def close(self) -> None:
        """Wait until every queued frame is on disk; re-raise a writer-thread error."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
        self._raise_pending()

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:  # don't mask the body's exception; what was queued still lands (whole files only)
            try:
                self.close()
            except BaseException:
                pass

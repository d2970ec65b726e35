"""Lazy JPEG frames with a bounded prefetch thread.

:class:`JpegFrames` implements :class:`harness.api.FrameSource`. ``frame(i)`` decodes one file;
``stream()`` decodes up to ``prefetch`` frames ahead on one background thread, so decoding overlaps
the model's work while memory stays bounded by ``prefetch + 2`` frames whatever the video length.

Decoding uses OpenCV (``cv2.imdecode`` straight to RGB; imported lazily): on 720p JPEGs it is
faster than Pillow (``benchmarks/bench_reader.py`` measures both). libjpeg silently returns a grey
lower half for a truncated file, so the byte stream is checked for its end-of-image marker first.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from harness.errors import DataError

_SOI = b"\xff\xd8"
_EOI = b"\xff\xd9"


def _check_jpeg_bytes(data: bytes, path: Path) -> None:
    if not data.startswith(_SOI):
        raise DataError(f"frame {path} is not a JPEG file (bad header); re-extract or re-download the video")
    # Some encoders pad after EOI; a truncated download ends inside the entropy-coded data.
    if _EOI not in data[-64:]:
        raise DataError(f"frame {path} is truncated (no JPEG end marker); re-extract or re-download the video")


def decode_jpeg(path: str | os.PathLike, *, backend: str = "cv2") -> np.ndarray:
    """Decode a JPEG to ``(H, W, 3) uint8`` RGB. ``backend``: ``"cv2"`` or ``"pil"``.

    Raises:
        DataError: missing, truncated or corrupt file (naming it).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"frame {path} does not exist; the video folder is incomplete") from None
    except IsADirectoryError:
        raise DataError(f"frame {path} is a folder, not a JPEG file; replace it with the frame") from None
    except OSError as exc:  # a symlink loop (ELOOP), no permission, an I/O error
        raise DataError(f"frame {path} cannot be read ({exc.strerror or exc}); re-extract or re-download "
                        "the video") from None
    _check_jpeg_bytes(data, path)
    if backend == "cv2":
        import cv2

        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
        if img is None:
            raise DataError(f"frame {path} could not be decoded (corrupt JPEG); re-extract or re-download it")
        return img
    if backend == "pil":
        import io

        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:
                return np.asarray(im.convert("RGB"))
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(f"frame {path} could not be decoded ({exc}); re-extract or re-download it") from None
    raise ValueError(f"unknown JPEG backend {backend!r} (use 'cv2' or 'pil')")


class JpegFrames:
    """The frames of one video as a :class:`harness.api.FrameSource`.

    Args:
        name: video name.
        frame_names: frame stems in order (``"00000"``, ...).
        paths: one JPEG path per frame.
        height, width: expected frame size; a frame of another size raises :class:`DataError`.
        prefetch: how many decoded frames ``stream`` may hold ahead of the consumer.
    """

    def __init__(self, name: str, frame_names: Sequence[str], paths: Sequence[Path], height: int, width: int,
                 *, prefetch: int = 4, backend: str = "cv2") -> None:
        if len(frame_names) != len(paths):
            raise ValueError("one path per frame name")
        self.name = name
        self.frame_names = tuple(frame_names)
        self.paths = tuple(paths)
        self.height = int(height)
        self.width = int(width)
        self.prefetch = max(1, int(prefetch))
        self.backend = backend

    def __len__(self) -> int:
        return len(self.frame_names)

    def __repr__(self) -> str:
        return f"JpegFrames({self.name!r}, {len(self)} frames, {self.width}x{self.height})"

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(H, W, 3) uint8`` RGB."""
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"frame {index} out of range for video {self.name!r} with {n} frames")
        img = decode_jpeg(self.paths[index], backend=self.backend)
        if img.shape[:2] != (self.height, self.width):
            raise DataError(
                f"frame {self.paths[index]} is {img.shape[1]}x{img.shape[0]} (WxH) but video {self.name!r} "
                f"is {self.width}x{self.height} according to its meta; fix meta.json or the frame"
            )
        return img

    def stream(self, start: int = 0, stop: int | None = None,
               reverse: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, frame)`` for ``start <= index < stop`` (descending if ``reverse``).

        Frames are decoded on a background thread at most ``prefetch`` ahead. Breaking out of the
        loop (or closing the generator) stops the thread; a decode error is raised in the consumer
        at the frame where it happened.
        """
        n = len(self)
        stop = n if stop is None else min(stop, n)
        start = max(0, start)
        indices = range(stop - 1, start - 1, -1) if reverse else range(start, stop)
        return self._stream(indices)

    def _stream(self, indices: range) -> Iterator[tuple[int, np.ndarray]]:
        if len(indices) == 0:
            return
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def put(item: object) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            for i in indices:
                try:
                    item: object = (i, self.frame(i))
                except BaseException as exc:  # handed to the consumer, raised there
                    put(exc)
                    return
                if not put(item):
                    return
            put(None)

        worker = threading.Thread(target=produce, name=f"frames-{self.name}", daemon=True)
        worker.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            worker.join()

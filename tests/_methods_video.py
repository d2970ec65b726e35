"""In-memory synthetic videos for the method tests (no files, no dataset reader needed)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class ArrayVideo:
    """A :class:`harness.api.FrameSource` over a ``(T, H, W, 3) uint8`` array."""

    def __init__(self, name: str, frames: np.ndarray) -> None:
        self.name = name
        self._frames = frames
        self.frame_names = tuple(f"{i:05d}" for i in range(len(frames)))
        self.height, self.width = frames.shape[1:3]
        self.reads = 0

    def __len__(self) -> int:
        return len(self._frames)

    def frame(self, index: int) -> np.ndarray:
        self.reads += 1
        return self._frames[index].copy()

    def stream(self, start: int = 0, stop: int | None = None, reverse: bool = False
               ) -> Iterator[tuple[int, np.ndarray]]:
        stop = len(self) if stop is None else stop
        order = range(stop - 1, start - 1, -1) if reverse else range(start, stop)
        for i in order:
            yield i, self.frame(i)


def _texture(rng: np.random.Generator, h: int, w: int, cell: int, lo: int, hi: int) -> np.ndarray:
    small = rng.integers(lo, hi, size=(h // cell + 2, w // cell + 2, 3))
    return np.kron(small, np.ones((cell, cell, 1)))[:h, :w].astype(np.uint8)


def moving_objects(frames: int = 12, size: tuple[int, int] = (64, 96), seed: int = 0,
                   late_start: int | None = 5, speed: int = 3) -> tuple[ArrayVideo, np.ndarray]:
    """A textured background with a textured square moving right by ``speed`` px per frame
    (object 1) and, from frame ``late_start``, a textured disk moving down (object 2).

    Returns the video and its ground-truth labels ``(T, H, W) uint8``.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    bg = _texture(rng, h, w, 4, 0, 110)
    tex1 = _texture(rng, h, w, 3, 150, 255)
    tex2 = _texture(rng, h, w, 2, 120, 230)
    tex2[..., 0] = 250
    out = np.empty((frames, h, w, 3), np.uint8)
    gt = np.zeros((frames, h, w), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    side = h // 3
    for t in range(frames):
        img = bg.copy()
        x0, y0 = 4 + speed * t, h // 3
        m1 = (xx >= x0) & (xx < x0 + side) & (yy >= y0) & (yy < y0 + side)
        # the texture moves with the object, as a real object's appearance does
        img[m1] = np.roll(tex1, (0, speed * t), axis=(0, 1))[m1]
        gt[t][m1] = 1
        if late_start is not None and t >= late_start:
            cy, cx, r = 6 + 2 * (t - late_start) + h // 8, (3 * w) // 4, h // 7
            m2 = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            img[m2] = np.roll(tex2, (2 * (t - late_start), 0), axis=(0, 1))[m2]
            gt[t][m2] = 2
        out[t] = img
    return ArrayVideo(f"moving{seed}", out), gt


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)

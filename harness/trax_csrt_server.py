"""TraX server around OpenCV's CSRT tracker (``trax-csrt``; the CI test tracker).

Run in any interpreter with ``vot-trax``, ``opencv-contrib-python-headless`` and ``numpy``::

    python harness/trax_csrt_server.py            # started by the harness, TRAX_SOCKET set

The init frame is answered with the given box; a frame where CSRT loses the target is answered
with the last box (box trackers never say "absent"), unlike the in-process ``csrt`` which reports
``None`` there.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # trax_server.py beside this file

from trax_server import serve  # noqa: E402


def _int_box(box, shape, min_side=8):
    """``(x, y, w, h)`` floats -> ints inside the ``(H, W)`` image, a side under ``min_side`` grown
    about its centre: the same rounding as ``adapters.prompt_masks.int_box`` (used by the in-process
    ``csrt``), written out here because this file runs without mosebench."""
    h_img, w_img = shape
    x, y, w, h = (float(v) for v in box)
    if w < min_side:
        x, w = x + w / 2 - min_side / 2, min_side
        x = min(max(x, 0), max(w_img - w, 0))
    if h < min_side:
        y, h = y + h / 2 - min_side / 2, min_side
        y = min(max(y, 0), max(h_img - h, 0))
    x0 = int(min(max(round(x), 0), w_img - 1))
    y0 = int(min(max(round(y), 0), h_img - 1))
    x1 = int(min(max(round(x + w), x0 + 1), w_img))
    y1 = int(min(max(round(y + h), y0 + 1), h_img))
    return x0, y0, x1 - x0, y1 - y0


class CSRT:
    """CSRT on the frames at the given paths. A mask target (TraX mask region) is tracked by its
    bounding box and answered as the filled box, full frame size."""

    def __init__(self) -> None:
        import cv2

        self.cv2 = cv2
        self.tracker = cv2.TrackerCSRT.create()
        self.box = (0.0, 0.0, 0.0, 0.0)
        self.masks = False

    def _read(self, path: str):
        img = self.cv2.imread(path, self.cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f"cannot read frame {path}")
        self.shape = img.shape[:2]
        return img

    def _answer(self):
        if not self.masks:
            return self.box
        import numpy as np

        x0, y0, w, h = _int_box(self.box, self.shape, min_side=1)
        mask = np.zeros(self.shape, np.uint8)
        mask[y0:y0 + h, x0:x0 + w] = 1
        return mask

    def initialize(self, path: str, target) -> None:
        img = self._read(path)
        if hasattr(target, "shape"):  # a mask: its pixel-inclusive bounding box
            import numpy as np

            ys, xs = np.nonzero(target)
            if not len(xs):
                raise ValueError("empty mask target")
            target = (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1))
            self.masks = True
        self.tracker.init(img, _int_box(target, img.shape[:2]))
        self.box = tuple(float(v) for v in target)

    def track(self, path: str):
        ok, b = self.tracker.update(self._read(path))
        if ok:
            self.box = tuple(float(v) for v in b)
        return self._answer()  # a box tracker never says "absent": the last box stands (TABLE 10 semantics)


if __name__ == "__main__":
    serve(CSRT, name="csrt", description="OpenCV TrackerCSRT behind TraX (mosebench)", masks=True)

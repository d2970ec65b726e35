"""A complete mosebench method in one file: each mask follows its object by template matching.

Use it with ``mosebench run --plugin docs/example_adapter.py method=shift ...`` or
``mosebench methods --plugin docs/example_adapter.py``. See docs/adding_a_method.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.api import Capabilities, FrameResult, MaskPrompt, Method, PromptKind, Session
from harness.errors import CapabilityError
from harness.timing import ModelTimer


@dataclass(frozen=True)
class ShiftConfig:
    margin: int = 16  # how far (pixels) an object may move between two frames


class ShiftSession(Session):
    def __init__(self, video, cfg: ShiftConfig) -> None:
        self.video, self.cfg, self.prompts = video, cfg, {}

    def add_prompt(self, prompt):
        if not isinstance(prompt, MaskPrompt):
            raise CapabilityError(f"method 'shift' accepts mask prompts only, got {prompt.kind.value}")
        self.prompts.setdefault(prompt.frame, {})[prompt.obj_id] = prompt.mask.astype(bool)

    def propagate(self):
        import cv2

        masks, prev, timer = {}, None, ModelTimer()  # ModelTimer(device) for GPU work
        for t, frame in self.video.stream():  # decoding: not model time
            with timer:
                gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
                for oid, m in masks.items():
                    ys, xs = np.nonzero(m)
                    if xs.size == 0:
                        continue
                    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
                    sy0, sx0 = max(y0 - self.cfg.margin, 0), max(x0 - self.cfg.margin, 0)
                    search = gray[sy0:y1 + self.cfg.margin, sx0:x1 + self.cfg.margin]
                    score = cv2.matchTemplate(search, prev[y0:y1, x0:x1], cv2.TM_CCOEFF_NORMED)
                    _, _, _, (bx, by) = cv2.minMaxLoc(score)  # best top-left corner in `search`
                    shift = np.float32([[1, 0, sx0 + bx - x0], [0, 1, sy0 + by - y0]])
                    masks[oid] = cv2.warpAffine(m.astype(np.uint8), shift, m.shape[::-1]) > 0
                masks.update(self.prompts.get(t, {}))
                prev = gray
            # before the first prompt nothing is tracked: not a processed frame (FPS counts processed ones)
            yield FrameResult(frame=t, masks=dict(masks), model_time_s=timer.pop(), processed=bool(masks))


class ShiftMethod(Method):
    """Each mask is moved to where its previous appearance matches best (normalised correlation)."""

    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK}))
    Config = ShiftConfig
    requires = {"cv2": "pip install opencv-contrib-python-headless"}

    def open_session(self, video, max_objects=20):
        return ShiftSession(video, self.cfg or ShiftConfig())


MOSEBENCH_ADAPTERS = {"shift": ShiftMethod}

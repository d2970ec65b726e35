"""``csrt`` and ``mil``: OpenCV (contrib) single-object box trackers, one tracker per object.

Box output (VOT setting). A mask prompt is reduced to its bounding box. Each frame also reports
the filled box as the object's mask, for viewers; the capabilities say ``output=BOX`` so mask
settings do not score these as segmentations.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from adapters.prompt_masks import box_of_mask, check_prompt, int_box, mask_of_box
from harness.api import (
    Box,
    BoxPrompt,
    Capabilities,
    FrameResult,
    FrameSource,
    MaskPrompt,
    Method,
    OutputKind,
    Prompt,
    PromptKind,
    Session,
)
from harness.errors import ConfigError


class TrackerSession(Session):
    def __init__(self, method: OpenCVTracker, video: FrameSource) -> None:
        self.video = video
        self.method = method
        self._inits: dict[int, dict[int, Box]] = {}  # frame -> obj_id -> init box

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        check_prompt(self.method.capabilities, prompt, self.method.name)
        if isinstance(prompt, MaskPrompt):
            box = box_of_mask(prompt.mask)
            if box is None:
                raise ConfigError(f"empty mask prompt for object {prompt.obj_id} on frame {prompt.frame} "
                                  f"of '{self.video.name}': a box tracker needs a non-empty target")
        else:
            assert isinstance(prompt, BoxPrompt)
            box = prompt.box
        self._inits.setdefault(prompt.frame, {})[prompt.obj_id] = box
        return None

    def propagate(self) -> Iterator[FrameResult]:
        import cv2

        shape = (self.video.height, self.video.width)
        trackers: dict[int, Any] = {}
        boxes: dict[int, Box | None] = {}
        for t, frame in self.video.stream():
            t0 = time.perf_counter()
            bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
            scores: dict[int, float] = {}
            for oid, tracker in trackers.items():
                ok, b = tracker.update(bgr)
                boxes[oid] = tuple(float(v) for v in b) if ok else None
                scores[oid] = 1.0 if ok else 0.0
            for oid, box in self._inits.get(t, {}).items():
                tracker = self.method.make_tracker()
                # OpenCV's MIL never returns from init() on some boxes under ~6 px a side
                ib = int_box(box, shape, min_side=self.method.min_side)
                tracker.init(bgr, ib)
                trackers[oid] = tracker
                # the init frame reports the given box (as pytracking trackers do), not the grown one
                boxes[oid] = tuple(float(v) for v in box)
                scores[oid] = 1.0
            dt = time.perf_counter() - t0
            masks = {oid: mask_of_box(b, shape) for oid, b in boxes.items()}
            yield FrameResult(frame=t, masks=masks, boxes=dict(boxes), scores=scores, model_time_s=dt,
                              processed=bool(trackers))  # before the first init: nothing tracked


class OpenCVTracker(Method):
    """Base for OpenCV box trackers; subclasses name the tracker factory."""

    name: ClassVar[str]
    factory: ClassVar[str]
    min_side: ClassVar[int] = 8
    deterministic: ClassVar[bool] = True
    capabilities = Capabilities(
        prompts=frozenset({PromptKind.BOX, PromptKind.MASK}),
        output=OutputKind.BOX,
        reprompt=True,
    )
    requires = {"cv2": "pip install opencv-contrib-python-headless (the contrib build has the trackers)"}

    def make_tracker(self):
        import cv2

        return getattr(cv2, self.factory).create()

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return TrackerSession(self, video)


class CSRTTracker(OpenCVTracker):
    """Discriminative correlation filter with channel and spatial reliability (Lukezic et al. 2017)."""

    name = "csrt"
    factory = "TrackerCSRT"


class MILTracker(OpenCVTracker):
    """Multiple-instance-learning tracker (Babenko et al. 2009)."""

    name = "mil"
    factory = "TrackerMIL"
    # OpenCV's MIL samples training patches from an RNG that cv2.setRNGSeed does not reach:
    # two runs on the same video give slightly different boxes.
    deterministic = False

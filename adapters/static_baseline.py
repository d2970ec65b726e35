"""``static``: each object's prompted mask carried forward unchanged (the classic lower bound)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

import numpy as np

from adapters.prompt_masks import check_prompt
from harness.api import (
    Capabilities,
    FrameResult,
    FrameSource,
    Method,
    Prompt,
    PromptKind,
    Session,
)
from harness.errors import CapabilityError


class StaticSession(Session):
    def __init__(self, method: StaticBaseline, video: FrameSource) -> None:
        self.video = video
        self._who = method.name
        self._caps = method.capabilities
        # obj_id -> {frame: mask}; at frame t an object shows its latest prompted mask at <= t
        self._masks: dict[int, dict[int, np.ndarray]] = {}

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        check_prompt(self._caps, prompt, self._who)
        shape = (self.video.height, self.video.width)
        if prompt.mask.shape != shape:
            raise CapabilityError(f"mask for object {prompt.obj_id} has shape {prompt.mask.shape}, "
                                  f"video '{self.video.name}' frames are {shape}")
        self._masks.setdefault(prompt.obj_id, {})[prompt.frame] = prompt.mask.astype(bool).copy()
        return None

    def propagate(self) -> Iterator[FrameResult]:
        shape = (self.video.height, self.video.width)
        empty = np.zeros(shape, bool)
        current: dict[int, np.ndarray] = {oid: empty for oid in self._masks}
        first = min((f for by_frame in self._masks.values() for f in by_frame), default=None)
        for t in range(len(self.video)):
            t0 = time.perf_counter()
            for oid, by_frame in self._masks.items():
                if t in by_frame:
                    current[oid] = by_frame[t]
            masks = {oid: m.copy() for oid, m in current.items()}
            yield FrameResult(frame=t, masks=masks, model_time_s=time.perf_counter() - t0,
                              processed=first is not None and t >= first)  # nothing to carry before


class StaticBaseline(Method):
    """Copies the mask each object was prompted with to every later frame (no image is read)."""

    name = "static"
    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK}), reprompt=True)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return StaticSession(self, video)

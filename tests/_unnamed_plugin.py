"""A plugin method as most users write one: no ``name`` attribute, registered as 'my-tracker' by
``MOSEBENCH_ADAPTERS``, with a bug (object ids shifted by 100). Errors must name it 'my-tracker'
(what `run method=` and `check-method` take), not its class."""

from __future__ import annotations

from harness.api import Capabilities, FrameResult, MaskPrompt, Method, PromptKind, Session
from harness.errors import CapabilityError


class _Session(Session):
    def __init__(self, video) -> None:
        self.video, self.prompts = video, {}

    def add_prompt(self, prompt):
        if not isinstance(prompt, MaskPrompt):
            raise CapabilityError(f"mask prompts only, got a {prompt.kind.value} prompt")
        self.prompts.setdefault(prompt.frame, {})[prompt.obj_id] = prompt.mask.astype(bool)

    def propagate(self):
        masks = {}
        for t in range(len(self.video)):
            masks.update(self.prompts.get(t, {}))
            yield FrameResult(frame=t, masks={o + 100: m for o, m in masks.items()}, model_time_s=0.001,
                              processed=bool(masks))


class Tracker(Method):
    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK}))

    def open_session(self, video, max_objects=20):
        return _Session(video)


MOSEBENCH_ADAPTERS = {"my-tracker": Tracker}

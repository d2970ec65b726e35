"""A third-party setting as a plugin, written against the public interface only (harness.api and
harness.settings.base): one positive click on the mask pixel nearest each object's centroid on its
first annotated frame, one session per object (valid for any method that accepts clicks)."""

from __future__ import annotations

from contextlib import ExitStack

import numpy as np

from harness.api import FrameResult, PointsPrompt, PromptKind
from harness.settings.base import Requirements, Setting, SettingOutcome


class CentreClickSetting(Setting):
    name = "centre-click"
    requirements = Requirements(prompt_kinds=frozenset({PromptKind.POINTS}))
    metrics = ("JF_hat", "J", "F_hat")
    scoring = "vos"

    def run(self, method, video, emit):
        starts = {int(o): int(f) for o, f in video.objects.items()}
        records = []
        with ExitStack() as stack:
            iters = []
            for obj, f in sorted(starts.items()):
                ys, xs = np.nonzero(video.gt(f) == obj)
                k = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
                prompt = PointsPrompt(frame=f, obj_id=obj, points=((float(xs[k]), float(ys[k])),), labels=(1,))
                session = stack.enter_context(method.open_session(video.frames))
                session.add_prompt(prompt)
                records.append({"kind": "points", "frame": f, "obj_id": obj, "points": [list(prompt.points[0])]})
                iters.append(iter(session.propagate()))
            for t in range(len(video)):
                parts = [next(it) for it in iters]
                emit(FrameResult(t, masks={o: m for p in parts for o, m in p.masks.items()},
                                 model_time_s=sum(p.model_time_s for p in parts)))
        return SettingOutcome(prompts=tuple(records))


MOSEBENCH_SETTINGS = {"centre-click": CentreClickSetting}

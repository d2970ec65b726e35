"""A third-party setting as a plugin: one positive click on the mask pixel nearest each object's
centroid on its first annotated frame (a plausible protocol the built-ins do not have)."""

from __future__ import annotations

import numpy as np

from harness.api import PointsPrompt, PromptKind
from harness.settings import _drive
from harness.settings.base import Requirements
from harness.settings.semi import SemiSupervisedSetting


class CentreClickSetting(SemiSupervisedSetting):
    name = "centre-click"
    requirements = Requirements(prompt_kinds=frozenset({PromptKind.POINTS}))

    def prompt_object(self, session, method, frame, obj_id, mask):
        ys, xs = np.nonzero(mask)
        k = int(np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2))
        p = PointsPrompt(frame=frame, obj_id=obj_id, points=((float(xs[k]), float(ys[k])),), labels=(1,))
        session.add_prompt(p)
        return [_drive.prompt_record(p)]


MOSEBENCH_SETTINGS = {"centre-click": CentreClickSetting}

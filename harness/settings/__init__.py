"""Evaluation settings (protocols): mask/box/point-initialised, unsupervised, interactive VOS, VOT.

A setting turns ground truth into the prompts a method receives, drives the method's session and
names the metrics it reports. Methods never see ground truth; settings never write files.

Settings are looked up by name through a lazy ``name -> "module:Class"`` table, so importing
``harness.settings`` stays light (no numpy/scipy/cv2 until a setting is used).
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.settings.base import Setting

_TABLE: dict[str, str] = {
    "mask": "harness.settings.semi:MaskSetting",
    "box": "harness.settings.semi:BoxSetting",
    "point1": "harness.settings.semi:Point1Setting",
    "point3": "harness.settings.semi:Point3Setting",
    "point5": "harness.settings.semi:Point5Setting",
    "unsupervised": "harness.settings.unsupervised:UnsupervisedSetting",
    "interactive": "harness.settings.interactive:InteractiveSetting",
    "vot": "harness.settings.vot:VOTSetting",
}


def names() -> tuple[str, ...]:
    """All setting names, in the paper's table order."""
    return tuple(_TABLE)


def get(name: str) -> type[Setting]:
    """The :class:`~harness.settings.base.Setting` subclass registered as ``name``.

    Raises :class:`harness.errors.ConfigError` (with a "did you mean") for an unknown name.
    """
    target = _TABLE.get(name)
    if target is None:
        from harness.errors import ConfigError

        close = difflib.get_close_matches(str(name), list(_TABLE), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"unknown setting '{name}' (key: setting).{hint} Known settings: {', '.join(_TABLE)}."
        )
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)

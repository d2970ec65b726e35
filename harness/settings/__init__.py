"""Evaluation settings (protocols): mask/box/point-initialised, unsupervised, interactive VOS, VOT.

A setting turns ground truth into the prompts a method receives, drives the method's session and
names the metrics it reports. Methods never see ground truth; settings never write files.

Settings are registered like methods (:class:`harness.lazy_registry.LazyRegistry`), so importing
``harness.settings`` stays light (no numpy/scipy/cv2 until a setting is used):

* built-ins: the lazy ``name -> "module:Class"`` table :data:`BUILTINS`;
* third-party packages: entry points in the group ``mosebench.settings`` (entry name = setting
  name, value = ``"module:Class"``, a :class:`~harness.settings.base.Setting` subclass);
* unpublished code: a plugin module (``--plugin`` / ``plugins: [...]``, :func:`harness.registry.load_plugin`)
  defining ``MOSEBENCH_SETTINGS = {"name": SettingClass}``.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from harness.errors import ConfigError, MosebenchError
from harness.lazy_registry import LazyRegistry

if TYPE_CHECKING:
    from harness.settings.base import Setting

ENTRY_POINT_GROUP = "mosebench.settings"

BUILTINS: dict[str, str] = {
    "mask": "harness.settings.semi:MaskSetting",
    "box": "harness.settings.semi:BoxSetting",
    "point1": "harness.settings.semi:Point1Setting",
    "point3": "harness.settings.semi:Point3Setting",
    "point5": "harness.settings.semi:Point5Setting",
    "unsupervised": "harness.settings.unsupervised:UnsupervisedSetting",
    "interactive": "harness.settings.interactive:InteractiveSetting",
    "vot": "harness.settings.vot:VOTSetting",
}


class SettingRegistry(LazyRegistry):
    """The setting table (name -> :class:`~harness.settings.base.Setting` subclass)."""

    noun = "setting"
    plugin_table = "MOSEBENCH_SETTINGS"
    docs = "docs/settings.md"

    def __init__(self, builtins: dict[str, str] | None = None, *,
                 entry_point_group: str | None = ENTRY_POINT_GROUP) -> None:
        super().__init__(builtins, entry_point_group=entry_point_group)
        self._order = list(builtins or {})

    def base_class(self) -> type:
        from harness.settings.base import Setting

        return Setting

    def ordered(self) -> tuple[str, ...]:
        """Built-ins in the paper's table order, then the others sorted."""
        names = self.names()
        first = [n for n in self._order if n in names]
        return tuple(first + [n for n in names if n not in first])

    def _unknown_error(self, name: str) -> MosebenchError:
        known = self.ordered()
        close = difflib.get_close_matches(str(name), list(known), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return ConfigError(f"unknown setting '{name}' (key: setting).{hint} Known settings: {', '.join(known)} "
                           "(third-party settings: install their package or pass --plugin MODULE).")


registry = SettingRegistry(BUILTINS)
"""The process-wide setting registry used by the CLI and runner."""


def names() -> tuple[str, ...]:
    """All setting names: the built-ins in the paper's table order, then registered others."""
    return registry.ordered()


def get(name: str) -> type[Setting]:
    """The :class:`~harness.settings.base.Setting` subclass registered as ``name``.

    Raises :class:`harness.errors.ConfigError` (with a "did you mean") for an unknown name.
    """
    return registry.get(name)


def register(name: str, target: str | type, *, replace: bool = False) -> None:
    registry.register(name, target, replace=replace)

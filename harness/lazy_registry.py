"""The lazy name -> class registry mechanism shared by methods (:mod:`harness.registry`) and
settings (:mod:`harness.settings`).

A :class:`LazyRegistry` resolves names from three sources: built-in ``"module:Class"`` targets
(imported on first use, so importing :mod:`harness` stays light), the entry points of a group
(loaded on the first lookup) and plugin modules' tables (:meth:`LazyRegistry.load_plugin`,
:func:`import_plugin`). Unknown names get a did-you-mean.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from harness.errors import ConfigError, MissingDependencyError, MosebenchError


def _import_target(name: str, target: str, noun: str = "method") -> type:
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ConfigError(f"{noun} '{name}': target '{target}' must look like 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{noun} '{name}': cannot import its module '{module_name}' ({exc}); "
            "install the package that provides it"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(f"{noun} '{name}': module '{module_name}' has no class '{attr}'") from exc


class LazyRegistry:
    """A name -> class table resolved lazily, shared by methods and settings.

    Sources: built-in ``"module:Class"`` targets (imported on first use), the entry points of
    ``entry_point_group`` (loaded on the first lookup) and plugin modules' :attr:`plugin_table`
    mappings (:meth:`load_plugin`). Subclasses set :attr:`noun`, :attr:`plugin_table` and
    :meth:`base_class`.
    """

    noun: ClassVar[str] = "class"
    plugin_table: ClassVar[str] = ""
    docs: ClassVar[str] = "docs/adding_a_method.md"

    def __init__(self, builtins: Mapping[str, str] | None = None, *,
                 entry_point_group: str | None = None) -> None:
        self._targets: dict[str, str | type] = dict(builtins or {})
        self._group = entry_point_group
        self._entry_points_loaded = entry_point_group is None
        self._classes: dict[str, type] = {}

    def base_class(self) -> type:
        """Every registered class must subclass this."""
        raise NotImplementedError

    # -- registration ------------------------------------------------------------------------
    def register(self, name: str, target: str | type, *, replace: bool = False) -> None:
        """Register ``target`` (a class or ``"module:Class"``) under ``name``."""
        if not name or any(c.isspace() for c in name):
            raise ConfigError(f"invalid {self.noun} name {name!r}")
        if name in self._targets and not replace and self._targets[name] != target:
            raise ConfigError(f"{self.noun} '{name}' is already registered ({self._describe(name)}); "
                              "pick another name")
        self._targets[name] = target
        self._classes.pop(name, None)

    def register_table(self, mod: Any, where: str) -> list[str]:
        """Register the entries of ``mod``'s :attr:`plugin_table` (none: ``[]``); returns their names."""
        table = getattr(mod, self.plugin_table, None)
        if table is None:
            return []
        if not isinstance(table, Mapping) or not table:
            raise ConfigError(f"plugin '{where}': {self.plugin_table} must be a non-empty mapping "
                              f"{{'name': {self.noun.capitalize()}Class}}")
        for name, cls in table.items():
            self._check_class(name, cls)
            self.register(name, cls, replace=self._targets.get(name) is cls)
        return list(table)

    def load_plugin(self, module: str) -> list[str]:
        """Import a module (dotted name) or a ``.py`` file and register its :attr:`plugin_table`.

        Returns the names registered.
        """
        names = self.register_table(import_plugin(module), module)
        if not names:
            raise ConfigError(
                f"plugin '{module}' defines no {self.plugin_table}; add "
                f"{self.plugin_table} = {{'my-{self.noun}': My{self.noun.capitalize()}}} at module level "
                f"(see {self.docs})"
            )
        return names

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self._group):
            self._targets.setdefault(ep.name, ep.value)

    # -- lookup ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """All registered names, sorted."""
        self._load_entry_points()
        return sorted(self._targets)

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name in self._targets

    def get(self, name: str) -> type:
        """The class registered as ``name`` (imports its module, not its heavy packages)."""
        self._load_entry_points()
        if name in self._classes:
            return self._classes[name]
        if name not in self._targets:
            raise self._unknown_error(name)
        target = self._targets[name]
        cls = _import_target(name, target, self.noun) if isinstance(target, str) else target
        self._check_class(name, cls)
        self._classes[name] = cls
        return cls

    # -- helpers -----------------------------------------------------------------------------
    def _unknown_error(self, name: str) -> MosebenchError:
        avail = self.names()
        close = difflib.get_close_matches(name, avail, n=3, cutoff=0.5)
        did = f"did you mean {' / '.join(repr(c) for c in close)}? " if close else ""
        return ConfigError(f"unknown {self.noun} '{name}'; {did}available: {', '.join(avail)}")

    def _describe(self, name: str) -> str:
        t = self._targets[name]
        return t if isinstance(t, str) else f"{t.__module__}:{t.__qualname__}"

    def _check_class(self, name: str, cls: object) -> None:
        base = self.base_class()
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ConfigError(f"{self.noun} '{name}': {cls!r} is not a subclass of {base.__module__}.{base.__qualname__}")


def import_plugin(module: str) -> Any:
    """Import a dotted module name or a ``.py`` file (once per path) and return the module."""
    path = Path(module)
    if module.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"plugin file '{module}' does not exist")
        mod_name = f"mosebench_plugin_{path.stem}"
        if mod_name in sys.modules and getattr(sys.modules[mod_name], "__file__", None) == str(path.resolve()):
            return sys.modules[mod_name]
        spec = importlib.util.spec_from_file_location(mod_name, path.resolve())
        if spec is None or spec.loader is None:
            raise ConfigError(f"cannot load plugin file '{module}'")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = mod
        try:
            spec.loader.exec_module(mod)
        except Exception:
            sys.modules.pop(mod_name, None)
            raise
        return mod
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"plugin module '{module}' not found ({exc}); pass a dotted module name on "
                          "PYTHONPATH or a path to a .py file") from exc

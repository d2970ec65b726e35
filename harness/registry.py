"""Method registry: name -> adapter class, resolved lazily.

Three sources, in priority order:

* built-ins: a ``name -> "module:Class"`` table (:data:`BUILTINS`), imported only when used, so
  importing :mod:`harness` never imports torch;
* third-party packages: entry points in the group ``mosebench.adapters`` (entry name = method
  name, value = ``"module:Class"``);
* unpublished code: :func:`load_plugin` (CLI ``--plugin MODULE_OR_FILE``) imports a module or a
  ``.py`` file and registers every entry of its ``MOSEBENCH_ADAPTERS = {"name": MethodClass}``.

:func:`create` checks ``Method.requires`` with :func:`importlib.util.find_spec` *before* the
constructor runs (which is where weights load), so a missing package is a one-line
:class:`~harness.errors.MissingDependencyError` with the install hint.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, MissingDependencyError, UnknownMethodError

if TYPE_CHECKING:
    from harness.api import Method

ENTRY_POINT_GROUP = "mosebench.adapters"

BUILTINS: dict[str, str] = {
    "static": "adapters.static_baseline:StaticBaseline",
    "flow": "adapters.flow_baseline:FlowBaseline",
    "proposals": "adapters.motion_proposals:MotionProposals",
    "csrt": "adapters.opencv_trackers:CSRTTracker",
    "mil": "adapters.opencv_trackers:MILTracker",
    "sam2": "adapters.sam2_vos:SAM2",
    "sam2-t": "adapters.sam2_vos:SAM2Tiny",
    "sam2-s": "adapters.sam2_vos:SAM2Small",
    "sam2-b+": "adapters.sam2_vos:SAM2BasePlus",
    "sam2-l": "adapters.sam2_vos:SAM2Large",
    "cutie": "adapters.cutie_vos:Cutie",
    "cutie-b": "adapters.cutie_vos:CutieBase",
    "cutie-s": "adapters.cutie_vos:CutieSmall",
}


def _import_target(name: str, target: str) -> type:
    module_name, _, attr = target.partition(":")
    if not attr:
        raise ConfigError(f"method '{name}': target '{target}' must look like 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"method '{name}': cannot import its adapter module '{module_name}' ({exc}); "
            "install the package that provides it"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(f"method '{name}': module '{module_name}' has no class '{attr}'") from exc


_RESERVED_KEYS = ("adapter", "defaults")  # method-YAML keys read by harness.config, not options


def build_config(cls: type[Method], cfg: Any) -> Any:
    """Turn ``cfg`` (None, a mapping or an instance) into ``cls.Config``; unknown keys are errors."""
    schema = getattr(cls, "Config", None)
    if schema is None or not dataclasses.is_dataclass(schema):
        if cfg and not isinstance(cfg, Mapping):
            return cfg
        cfg = {k: v for k, v in (cfg or {}).items() if k not in _RESERVED_KEYS}
        if cfg:
            raise ConfigError(f"{cls.__name__} takes no options, got {sorted(cfg)}")
        return None
    if cfg is None:
        return schema()
    if isinstance(cfg, schema):
        return cfg
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{cls.__name__} options must be a mapping, got {type(cfg).__name__}")
    known = [f.name for f in dataclasses.fields(schema)]
    cfg = {k: v for k, v in cfg.items() if k not in _RESERVED_KEYS}
    for key in cfg:
        if key not in known:
            hint = difflib.get_close_matches(str(key), known, n=1)
            did = f"did you mean '{hint[0]}'? " if hint else ""
            raise ConfigError(f"{cls.__name__}: unknown option '{key}'; {did}known: {', '.join(known)}")
    try:
        return schema(**dict(cfg))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{cls.__name__}: invalid options {dict(cfg)}: {exc}") from exc


class Registry:
    """A name -> method class table. Tests build their own; the CLI uses :data:`default`."""

    def __init__(self, builtins: Mapping[str, str] | None = None, *,
                 entry_point_group: str | None = ENTRY_POINT_GROUP) -> None:
        self._targets: dict[str, str | type] = dict(builtins or {})
        self._group = entry_point_group
        self._entry_points_loaded = entry_point_group is None
        self._classes: dict[str, type] = {}

    # -- registration ------------------------------------------------------------------------
    def register(self, name: str, target: str | type, *, replace: bool = False) -> None:
        """Register ``target`` (a Method subclass or ``"module:Class"``) under ``name``."""
        if not name or any(c.isspace() for c in name):
            raise ConfigError(f"invalid method name {name!r}")
        if name in self._targets and not replace and self._targets[name] != target:
            raise ConfigError(f"method '{name}' is already registered ({self._describe(name)}); "
                              "pick another name")
        self._targets[name] = target
        self._classes.pop(name, None)

    def load_plugin(self, module: str) -> list[str]:
        """Import a module (dotted name) or a ``.py`` file and register its ``MOSEBENCH_ADAPTERS``.

        Returns the names registered.
        """
        mod = _import_plugin(module)
        table = getattr(mod, "MOSEBENCH_ADAPTERS", None)
        if not isinstance(table, Mapping) or not table:
            raise ConfigError(
                f"plugin '{module}' defines no MOSEBENCH_ADAPTERS; add "
                "MOSEBENCH_ADAPTERS = {'my-method': MyMethod} at module level (see docs/adding_a_method.md)"
            )
        for name, cls in table.items():
            self._check_class(name, cls)
            self.register(name, cls, replace=self._targets.get(name) is cls)
        return list(table)

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self._group):
            self._targets.setdefault(ep.name, ep.value)

    # -- lookup ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """All registered method names, sorted."""
        self._load_entry_points()
        return sorted(self._targets)

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name in self._targets

    def get(self, name: str) -> type[Method]:
        """The method class for ``name`` (imports its adapter module, not its heavy packages)."""
        self._load_entry_points()
        if name in self._classes:
            return self._classes[name]
        if name not in self._targets:
            raise UnknownMethodError(self._unknown_message(name))
        target = self._targets[name]
        cls = _import_target(name, target) if isinstance(target, str) else target
        self._check_class(name, cls)
        self._classes[name] = cls
        return cls

    def missing_requirements(self, name: str) -> dict[str, str]:
        """``module -> install hint`` for each of the method's ``requires`` that does not import."""
        cls = self.get(name)
        return {mod: hint for mod, hint in cls.requires.items() if not _importable(mod)}

    def create(self, name: str, cfg: Any = None, device: str = "cpu") -> Method:
        """Check the method's dependencies, validate ``cfg`` against its ``Config``, construct it."""
        cls = self.get(name)
        missing = self.missing_requirements(name)
        if missing:
            lines = "; ".join(f"module '{m}' is not importable: {hint}" for m, hint in missing.items())
            raise MissingDependencyError(f"method '{name}' needs {', '.join(missing)}: {lines}")
        return cls(build_config(cls, cfg), device)

    # -- helpers -----------------------------------------------------------------------------
    def _unknown_message(self, name: str) -> str:
        avail = self.names()
        close = difflib.get_close_matches(name, avail, n=3, cutoff=0.5)
        did = f"did you mean {' / '.join(repr(c) for c in close)}? " if close else ""
        return (f"unknown method '{name}'; {did}available: {', '.join(avail)} "
                "(third-party methods: install their package or pass --plugin MODULE)")

    def _describe(self, name: str) -> str:
        t = self._targets[name]
        return t if isinstance(t, str) else f"{t.__module__}:{t.__qualname__}"

    @staticmethod
    def _check_class(name: str, cls: object) -> None:
        from harness.api import Method

        if not (isinstance(cls, type) and issubclass(cls, Method)):
            raise ConfigError(f"method '{name}': {cls!r} is not a subclass of harness.api.Method")
        if not hasattr(cls, "capabilities"):
            raise ConfigError(f"method '{name}': class {cls.__qualname__} declares no `capabilities`")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _import_plugin(module: str):
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


default = Registry(BUILTINS)
"""The process-wide registry used by the CLI and runner."""


def get(name: str) -> type[Method]:
    return default.get(name)


def names() -> list[str]:
    return default.names()


def create(name: str, cfg: Any = None, device: str = "cpu") -> Method:
    return default.create(name, cfg, device)


def load_plugin(module: str) -> list[str]:
    return default.load_plugin(module)


def missing_requirements(name: str) -> dict[str, str]:
    return default.missing_requirements(name)


def register(name: str, target: str | type, *, replace: bool = False) -> None:
    default.register(name, target, replace=replace)


def load_plugins(modules: Iterable[str]) -> list[str]:
    """Load several ``--plugin`` values; returns every name registered."""
    out: list[str] = []
    for m in modules:
        out.extend(load_plugin(m))
    return out

"""Method registry: name -> adapter class, resolved lazily.

Three sources, in priority order:

* built-ins: a ``name -> "module:Class"`` table (:data:`BUILTINS`), imported only when used, so
  importing :mod:`harness` never imports torch;
* third-party packages: entry points in the group ``mosebench.adapters`` (entry name = method
  name, value = ``"module:Class"``);
* unpublished code: :func:`load_plugin` (CLI ``--plugin MODULE_OR_FILE``) imports a module or a
  ``.py`` file and registers every entry of its ``MOSEBENCH_ADAPTERS = {"name": MethodClass}``
  (and of its ``MOSEBENCH_SETTINGS`` in :mod:`harness.settings`: one import, both tables).

:func:`create` checks ``Method.requires`` with :func:`importlib.util.find_spec` *before* the
constructor runs (which is where weights load), so a missing package is a one-line
:class:`~harness.errors.MissingDependencyError` with the install hint.

The mechanism (lazy targets, entry points, plugin tables, did-you-mean) is
:class:`harness.lazy_registry.LazyRegistry`; :class:`Registry` specialises it for methods and
:mod:`harness.settings` for settings (entry-point group ``mosebench.settings``, plugin table
``MOSEBENCH_SETTINGS``).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, MissingDependencyError, MosebenchError, UnknownMethodError
from harness.lazy_registry import LazyRegistry, import_plugin

if TYPE_CHECKING:
    from harness.api import Method

ENTRY_POINT_GROUP = "mosebench.adapters"

BUILTINS: dict[str, str] = {
    "static": "adapters.static_baseline:StaticBaseline",
    "flow": "adapters.flow_baseline:FlowBaseline",
    "proposals": "adapters.motion_proposals:MotionProposals",
    "csrt": "adapters.opencv_trackers:CSRTTracker",
    "mil": "adapters.opencv_trackers:MILTracker",
    "trax": "adapters.trax_method:TraxMethod",
    "trax-csrt": "adapters.trax_method:TraxCSRT",
    "trax-mask": "adapters.trax_method:TraxMaskMethod",
    "seqtrack": "adapters.ostrack_family:SeqTrack",
    "aqatrack": "adapters.ostrack_family:AQATrack",
    "odtrack": "adapters.ostrack_family:ODTrack",
    "sutrack": "adapters.ostrack_family:SUTrack",
    "lorat": "adapters.lorat:LoRAT",
    "sam2": "adapters.sam2_vos:SAM2",
    "sam2-t": "adapters.sam2_vos:SAM2Tiny",
    "sam2-s": "adapters.sam2_vos:SAM2Small",
    "sam2-b+": "adapters.sam2_vos:SAM2BasePlus",
    "sam2-l": "adapters.sam2_vos:SAM2Large",
    "rcms": "adapters.sam2_rcms:RCMS",
    "rcms-b+": "adapters.sam2_rcms:RCMSBasePlus",
    "rcms-l": "adapters.sam2_rcms:RCMSLarge",
    "samurai": "adapters.sam2_samurai:SAMURAI",
    "samurai-t": "adapters.sam2_samurai:SAMURAITiny",
    "samurai-s": "adapters.sam2_samurai:SAMURAISmall",
    "samurai-b+": "adapters.sam2_samurai:SAMURAIBasePlus",
    "samurai-l": "adapters.sam2_samurai:SAMURAILarge",
    "sam2long": "adapters.sam2_sam2long:SAM2Long",
    "sam2long-t": "adapters.sam2_sam2long:SAM2LongTiny",
    "sam2long-s": "adapters.sam2_sam2long:SAM2LongSmall",
    "sam2long-b+": "adapters.sam2_sam2long:SAM2LongBasePlus",
    "sam2long-l": "adapters.sam2_sam2long:SAM2LongLarge",
    "dam4sam": "adapters.sam2_dam4sam:DAM4SAM",
    "dam4sam-t": "adapters.sam2_dam4sam:DAM4SAMTiny",
    "dam4sam-s": "adapters.sam2_dam4sam:DAM4SAMSmall",
    "dam4sam-b+": "adapters.sam2_dam4sam:DAM4SAMBasePlus",
    "dam4sam-l": "adapters.sam2_dam4sam:DAM4SAMLarge",
    "cutie": "adapters.cutie_vos:Cutie",
    "cutie-b": "adapters.cutie_vos:CutieBase",
    "cutie-s": "adapters.cutie_vos:CutieSmall",
    "xmem": "adapters.xmem_vos:XMem",
    "deva": "adapters.deva_vos:DEVA",
    "deaot": "adapters.deaot_vos:DeAOT",
    "deaot-t": "adapters.deaot_vos:DeAOTTiny",
    "deaot-l": "adapters.deaot_vos:DeAOTLarge",
    "deva-unsup": "adapters.deva_unsup:DEVAUnsup",
    "stcn": "adapters.stcn_vos:STCN",
}


_RESERVED_KEYS = ("adapter", "defaults")  # method-YAML keys read by harness.config, not options


def build_config(cls: type[Method], cfg: Any, *, where: str | None = None) -> Any:
    """Turn ``cfg`` (None, a mapping or an instance) into ``cls.Config``.

    Every value is type-checked against the ``Config`` annotations and range-checked against the
    bounds its fields declare (:mod:`harness.options`); unknown keys are errors. ``where``: the key
    prefix the user wrote (``method.flow``), used in messages (default: the class name).
    """
    from harness.options import build, check_ranges

    where = where or cls.__name__
    schema = getattr(cls, "Config", None)
    if schema is None or not dataclasses.is_dataclass(schema):
        if cfg and not isinstance(cfg, Mapping):
            return cfg
        cfg = {k: v for k, v in (cfg or {}).items() if k not in _RESERVED_KEYS}
        if cfg:
            raise ConfigError(f"{where}: {cls.__name__} takes no options, got {sorted(cfg)}")
        return None
    if cfg is None:
        return schema()
    if isinstance(cfg, schema):
        check_ranges(cfg, where=where)
        return cfg
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"{where}: {cls.__name__} options must be a mapping, got {type(cfg).__name__}")
    return build(schema, {k: v for k, v in cfg.items() if k not in _RESERVED_KEYS}, where=where)


class Registry(LazyRegistry):
    """The method table (name -> :class:`~harness.api.Method` subclass). Tests build their own; the
    CLI and runner use :data:`default`."""

    noun = "method"
    plugin_table = "MOSEBENCH_ADAPTERS"

    def __init__(self, builtins: Mapping[str, str] | None = None, *,
                 entry_point_group: str | None = ENTRY_POINT_GROUP) -> None:
        super().__init__(builtins, entry_point_group=entry_point_group)

    def base_class(self) -> type:
        from harness.api import Method

        return Method

    def get(self, name: str) -> type[Method]:
        """The method class for ``name`` (imports its adapter module, not its heavy packages)."""
        return super().get(name)

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

    def _unknown_error(self, name: str) -> MosebenchError:
        avail = self.names()
        close = difflib.get_close_matches(name, avail, n=3, cutoff=0.5)
        did = f"did you mean {' / '.join(repr(c) for c in close)}? " if close else ""
        return UnknownMethodError(f"unknown method '{name}'; {did}available: {', '.join(avail)} "
                                  "(third-party methods: install their package or pass --plugin MODULE)")

    def _check_class(self, name: str, cls: object) -> None:
        super()._check_class(name, cls)
        if not hasattr(cls, "capabilities"):
            raise ConfigError(f"method '{name}': class {cls.__qualname__} declares no `capabilities`")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


default = Registry(BUILTINS)
"""The process-wide registry used by the CLI and runner."""


def get(name: str) -> type[Method]:
    return default.get(name)


def names() -> list[str]:
    return default.names()


def create(name: str, cfg: Any = None, device: str = "cpu") -> Method:
    return default.create(name, cfg, device)


def load_plugin(module: str) -> list[str]:
    """Import a plugin module (dotted name or ``.py`` file) and register what it defines: methods
    (``MOSEBENCH_ADAPTERS``) here, settings (``MOSEBENCH_SETTINGS``) in :mod:`harness.settings`.
    Returns the names registered; a module defining neither is a :class:`ConfigError`."""
    from harness import settings

    mod = import_plugin(module)
    names = default.register_table(mod, module) + settings.registry.register_table(mod, module)
    if not names:
        raise ConfigError(
            f"plugin '{module}' defines neither MOSEBENCH_ADAPTERS nor MOSEBENCH_SETTINGS; add "
            "MOSEBENCH_ADAPTERS = {'my-method': MyMethod} (docs/adding_a_method.md) or "
            "MOSEBENCH_SETTINGS = {'my-setting': MySetting} (docs/settings.md) at module level"
        )
    return names


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

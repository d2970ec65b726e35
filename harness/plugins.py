"""Plugin modules: one import registers every method and setting a module defines.

A plugin is a dotted module name or a ``.py`` file (CLI ``--plugin``, config ``plugins: [...]``)
defining ``MOSEBENCH_ADAPTERS = {"name": MethodClass}`` and/or
``MOSEBENCH_SETTINGS = {"name": SettingClass}``.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.errors import ConfigError


def load_plugin(module: str) -> list[str]:
    """Import ``module`` and register its methods and settings; returns the names registered."""
    from harness import registry, settings

    mod = registry.import_plugin(module)
    names = registry.default.register_table(mod, module) + settings.registry.register_table(mod, module)
    if not names:
        raise ConfigError(
            f"plugin '{module}' defines neither MOSEBENCH_ADAPTERS nor MOSEBENCH_SETTINGS; add "
            "MOSEBENCH_ADAPTERS = {'my-method': MyMethod} (docs/adding_a_method.md) or "
            "MOSEBENCH_SETTINGS = {'my-setting': MySetting} (docs/settings.md) at module level"
        )
    return names


def load_plugins(modules: Iterable[str]) -> list[str]:
    """Load several plugins; returns every name registered."""
    out: list[str] = []
    for m in modules:
        out.extend(load_plugin(m))
    return out

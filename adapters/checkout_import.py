"""Import a user's source checkout in-process without its top-level module names leaking.

Research checkouts (DEVA's ``deva``, XMem's ``model``/``inference``/``util``) use top-level names
that other code uses too. :func:`import_isolated` imports the needed modules with the checkout
first on ``sys.path`` and any modules of those names set aside, then takes every module it loaded
out of ``sys.modules`` (keeping them on a private :class:`Checkout`) and puts back what was there:
nothing of the checkout is importable by name afterwards and nothing else is shadowed. This works
for code that does no imports of its own names at call time (checked per adapter by its test).
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import MissingDependencyError


@dataclass(frozen=True)
class Checkout:
    """The checkout's modules, held here and nowhere in ``sys.modules`` (``name -> module``)."""

    root: Path
    modules: Mapping[str, Any] = field(repr=False)

    def __getitem__(self, name: str) -> Any:
        return self.modules[name]


_LOCK = threading.Lock()
_CACHE: dict[tuple[Path, tuple[str, ...]], Checkout] = {}


def import_isolated(root: Path, top_level: Iterable[str], needed: Iterable[str], method: str) -> Checkout:
    """Import ``needed`` (dotted names under ``top_level`` packages) from the checkout at ``root``.

    Cached per ``(root, top_level)``; ``method`` names the method in errors.

    Raises:
        MissingDependencyError: a module came from outside ``root`` (an incomplete checkout), or a
            third-party module the checkout imports is missing (named, with ``pip install``).
    """
    top = tuple(top_level)
    key = (root, top)

    def ours(name: str) -> bool:
        return name.split(".", 1)[0] in top

    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        others = {n: m for n, m in sys.modules.items() if ours(n)}  # someone else's module of that name
        for n in others:
            del sys.modules[n]
        sys.path.insert(0, str(root))
        importlib.invalidate_caches()
        try:
            for name in needed:
                importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and not ours(exc.name):
                raise MissingDependencyError(
                    f"method {method}: the checkout '{root}' imports '{exc.name}', which is not installed; "
                    f"pip install {exc.name.split('.')[0]} (or pip install -e '{root}', which installs the "
                    "checkout's own dependencies)") from None
            raise
        finally:
            sys.path.remove(str(root))
            loaded = {n: m for n, m in sys.modules.items() if ours(n)}
            for n in loaded:
                del sys.modules[n]
            sys.modules.update(others)
        strays = sorted(n for n, m in loaded.items()
                        if not str(getattr(m, "__file__", None) or "").startswith(str(root)))
        if strays:
            raise MissingDependencyError(f"method {method}: importing '{root}' picked up {strays[0]} from outside "
                                         "it; the checkout is incomplete (re-clone it)")
        checkout = Checkout(root, loaded)
        _CACHE[key] = checkout
        return checkout

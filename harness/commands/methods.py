"""`mosebench methods`: list every registered method, its capabilities and whether it can run here."""

from __future__ import annotations

import argparse

HELP = "list the registered methods, their capabilities and whether their dependencies import"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import a module (dotted name or .py file) that defines MOSEBENCH_ADAPTERS "
                             "(repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def rows(registry) -> list[dict]:
    """One dict per method: name, class, deps ok, missing modules with hints, capabilities."""
    from harness.errors import MosebenchError

    out = []
    for name in registry.names():
        try:
            cls = registry.get(name)
            missing = registry.missing_requirements(name)
            caps = cls.capabilities
            out.append({
                "name": name, "class": f"{cls.__module__}:{cls.__qualname__}", "deps_ok": not missing,
                "missing": missing, "capabilities": caps.describe(),
                "prompts": sorted(k.value for k in caps.prompts), "output": caps.output.value,
                "doc": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
                "environment": getattr(cls, "environment", "") or "",  # out-of-process methods: their own env
                "install": getattr(cls, "install", ""),
            })
        except MosebenchError as exc:
            out.append({"name": name, "class": "?", "deps_ok": False, "missing": {"adapter": str(exc)},
                        "capabilities": "-", "prompts": [], "output": "-", "doc": "", "install": ""})
    return out


def run(args: argparse.Namespace) -> int:
    import json

    from harness import registry

    if args.plugin:
        registry.load_plugins(args.plugin)
    table = rows(registry.default)
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    width = max(len(r["name"]) for r in table)
    for r in table:
        deps = "ok" if r["deps_ok"] else "MISSING"
        print(f"{r['name']:<{width}}  deps={deps:<7}  {r['capabilities']}")
        for mod, hint in r["missing"].items():
            print(f"{'':<{width}}    {mod}: {hint}")
        if r.get("environment"):
            print(f"{'':<{width}}    runs in {r['environment']}")
        if r["install"]:
            print(f"{'':<{width}}    needs {r['install']}")
    return 0

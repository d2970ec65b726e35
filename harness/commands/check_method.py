"""`mosebench check-method NAME`: run the method contract suite on a small synthetic video.

Exit status: 0 when every check passes (skipped ones included), 1 when a check fails (the method
breaks the contract), 2 for bad input (unknown method, missing dependency, bad option, bad plugin).
"""

from __future__ import annotations

import argparse

HELP = ("check that a method keeps the interface contract (frame order, ids, frame-size bool masks, "
        "late objects, refused prompts, fresh state, timing) on a synthetic video")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="registered method name (see `mosebench methods`)")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import a module (dotted name or .py file) defining MOSEBENCH_ADAPTERS (repeatable)")
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a method option, YAML-typed (e.g. -o ckpt=/ckpt/sam2.1_hiera_tiny.pt -o image_size=512)")
    parser.add_argument("--device", default="cpu", help="device the method is constructed on (default cpu)")
    parser.add_argument("--check", action="append", default=None, metavar="CHECK",
                        help="run only this check (repeatable); default: all")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def parse_options(items: list[str]) -> dict:
    """``["k=v", ...]`` -> ``{"k": yaml(v)}``; a malformed item is a ConfigError."""
    import yaml

    from harness.errors import ConfigError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"option '{item}' must look like KEY=VALUE (e.g. -o image_size=512)")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"option '{item}': cannot parse the value ({exc})") from exc
    return out


def run(args: argparse.Namespace) -> int:
    import json
    import tempfile

    from harness import registry
    from harness.errors import ConfigError, MosebenchError
    from harness.method_check import CHECKS, SYNTH, CheckResult, Report, check_method, describe_exception

    bad = [c for c in args.check or () if c not in CHECKS]
    if bad:
        raise ConfigError(f"unknown check(s) {', '.join(bad)}; known: {', '.join(CHECKS)}")
    registry.load_plugins(args.plugin)
    cls = registry.get(args.name)
    options = parse_options(args.option)
    if not args.json:
        print(f"check-method {args.name} ({cls.__module__}:{cls.__qualname__}): {cls.capabilities.describe()}")
        print(f"synthetic data: {SYNTH['videos']} videos x {SYNTH['frames']} frames, "
              f"{SYNTH['size'][0]}x{SYNTH['size'][1]} (temporary folder)", flush=True)
    try:
        method = registry.create(args.name, options or None, args.device)
    except MosebenchError:
        raise  # bad input (options, dependencies): exit 2 with the message
    except Exception as exc:  # the adapter's constructor crashed: its bug, reported like a failed check
        report = Report(args.name, (CheckResult("construct", "fail", describe_exception(exc)),))
    else:
        with tempfile.TemporaryDirectory(prefix="mosebench-check-method-") as tmp:
            report = check_method(method, args.name, tmp, only=args.check)
    if args.json:
        print(json.dumps({"method": report.method, "ok": report.ok,
                          "checks": [{"name": r.name, "status": r.status, "detail": r.detail} for r in report.results]},
                         indent=1))
    else:
        print(report.text())
    return 0 if report.ok else 1

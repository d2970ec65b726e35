"""The `mosebench` command line.

Subcommands live in ``harness.commands.<name>`` modules that import only argparse at top level,
so ``mosebench --help`` stays fast; each defines ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Heavy imports happen inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> module under harness.commands (kept in the order `--help` shows them).
COMMANDS: dict[str, str] = {
    "run": "run",
    "predict": "predict",
    "status": "status",
    "resume": "resume",
    "log": "log",
    "ui": "ui",
    "synth": "synth",
    "check-data": "check_data",
    "check-predictions": "check_predictions",
    "pack": "pack",
    "score": "score",
    "compare": "compare",
    "report": "report",
    "ingest": "ingest",
    "methods": "methods",
    "check-method": "check_method",
}


def build_parser() -> argparse.ArgumentParser:
    from harness import __version__

    parser = argparse.ArgumentParser(
        prog="mosebench",
        description="Benchmark harness for video object segmentation and tracking on MOSEv2.",
    )
    parser.add_argument("--version", action="version", version=f"mosebench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"harness.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from harness.errors import MosebenchError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except MosebenchError as exc:
        print(f"mosebench {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

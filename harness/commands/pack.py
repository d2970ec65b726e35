"""`mosebench pack`: validate predictions and write the evaluation-server zip."""

from __future__ import annotations

import argparse

HELP = "validate a predictions folder and pack it as a submission zip (video folders at the top)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from harness.commands.check_predictions import add_arguments as add_check_arguments

    add_check_arguments(parser)
    parser.set_defaults(frames="auto")
    parser.add_argument("-o", "--output", required=True, help="zip file to write (atomically)")


def run(args: argparse.Namespace) -> int:
    from harness.commands.check_predictions import resolve
    from harness.data.submission import pack

    meta, dataset = resolve(args)
    report = pack(args.pred_dir, meta, args.output, dataset=dataset, frames=args.frames,
                  max_problems=args.max_problems)
    print(report.format())
    print(f"wrote {args.output}")
    return 0

"""`mosebench predict`: write predictions (and per-video records) only: no scoring, no MLflow."""

from __future__ import annotations

import argparse

HELP = "predict only (e.g. the MOSEv2 validation set for the evaluation server): no scoring, no MLflow"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from harness.commands.run import add_arguments as run_arguments

    run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from harness.commands.run import load
    from harness.runner.driver import run_experiment

    cfg = load(args)
    outcome = run_experiment(cfg, quiet=args.quiet, score=False)
    for cell in outcome.cells:
        print(f"{outcome.run_dir / cell / 'predictions'}")
    if outcome.failures:
        print(f"{len(outcome.failures)} shard(s) failed; details: mosebench status {outcome.run_dir}")
        return 1
    print(f"pack one for the server: mosebench pack {outcome.run_dir}/<cell>/predictions --meta META -o submission.zip")
    return 0

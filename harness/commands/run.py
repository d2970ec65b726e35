"""`mosebench run`: run an experiment (default: the demo) end to end."""

from __future__ import annotations

import argparse

HELP = "run an experiment: predict, score, log to MLflow, print the table (no arguments: the demo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="experiment=NAME, group selections (method=sam2 setting=box cluster=slurm) and "
                             "dotlist overrides (method.size=l cluster.partition=gpu); default experiment=demo")
    parser.add_argument("--force", action="store_true", help="redo every video, also those with a complete record (needed after the code or data "
                        "changed: a run never mixes predictions of different code or data)")
    parser.add_argument("--config-dir", default=None, help="configs folder (default: the repository's configs/)")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import a module or .py file defining MOSEBENCH_ADAPTERS and/or MOSEBENCH_SETTINGS "
                             "(repeatable)")
    parser.add_argument("--quiet", action="store_true", help="only print the results table")


def load(args: argparse.Namespace, extra: tuple[str, ...] = ()):
    from harness.config import load_experiment

    overrides = [*args.overrides, *extra]
    if args.plugin:  # kept in the run's config so shards on other nodes load them too
        from pathlib import Path

        plugins = [str(Path(p).resolve()) if p.endswith(".py") else p for p in args.plugin]
        overrides.append(f"plugins=[{','.join(plugins)}]")
    if getattr(args, "force", False):
        overrides.append("force=true")
    return load_experiment("demo", overrides, cdir=args.config_dir)


def print_outcome(outcome, cfg) -> None:
    from harness.report.table import results_table
    from harness.runner.mlflow_log import tracking_uri

    print()
    print(results_table(outcome.summaries, outcome.incomplete))
    print()
    print(f"run directory: {outcome.run_dir}")
    if outcome.failures:
        print(f"{len(outcome.failures)} shard(s) failed; details: mosebench status {outcome.run_dir}")
    if outcome.mlflow:
        print(f"MLflow: {outcome.mlflow}")
    if cfg.mlflow.enabled:
        print(f"open the MLflow UI: mosebench ui {outcome.run_dir}   (store: {tracking_uri(cfg)})")


def run(args: argparse.Namespace) -> int:
    from harness.runner.driver import run_experiment

    cfg = load(args)
    outcome = run_experiment(cfg, quiet=args.quiet)
    print_outcome(outcome, cfg)
    return 1 if outcome.failures or outcome.incomplete else 0

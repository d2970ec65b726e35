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
    parser.add_argument("--dry-run", action="store_true",
                        help="print the cells, videos, shards and (cluster=slurm) sbatch scripts; write and submit "
                             "nothing")


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


def print_table(outcome) -> None:
    from harness.report.table import results_table

    print()
    print(results_table(outcome.summaries, outcome.incomplete))
    print()


def print_footer(outcome, cfg) -> None:
    print(f"run directory: {outcome.run_dir}")
    if outcome.failures:
        print(f"{len(outcome.failures)} shard(s) failed; details: mosebench status {outcome.run_dir}")
    if outcome.mlflow:
        print(f"MLflow: {outcome.mlflow}")
    if cfg.mlflow.enabled:
        from harness.runner.mlflow_log import tracking_uri

        print(f"open the MLflow UI: mosebench ui {outcome.run_dir}   (store: {tracking_uri(cfg)})")


def print_outcome(outcome, cfg) -> None:
    print_table(outcome)
    print_footer(outcome, cfg)


def naming_hint(args: argparse.Namespace, cfg) -> None:
    """Selections narrow an experiment but keep its name (and MLflow experiment): say how to name them."""
    chosen = [o for o in args.overrides if o.split("=", 1)[0] in ("method", "setting", "dataset")]
    if chosen and not any(o.startswith(("name=", "mlflow.experiment=")) for o in args.overrides) and not args.quiet:
        print(f"note: {' '.join(chosen)} narrows experiment '{cfg.name}'; its results go to runs/{cfg.name}/ and "
              f"MLflow experiment '{cfg.name}' with the others. Name it with name=NAME (e.g. "
              f"name={cfg.name}-{'-'.join(o.split('=', 1)[1].replace(',', '+') for o in chosen)})")


def _why_not(cfg, method: str, setting: str) -> str:
    """Why (method, setting) is not a cell: the method's capabilities, or the experiment's cell groups."""
    try:
        from harness import registry, settings
        from harness.config import adapter_name

        caps = registry.get(adapter_name(method, cfg.method.get(method))).capabilities
        why = settings.get(setting)().unsupported_reason(caps)
    except Exception:  # unknown names are reported by the run itself
        why = None
    if why:
        return f"{method} cannot run {setting}: {why}"
    return (f"experiment '{cfg.name}' does not pair them in a cell group (run them alone to do it: "
            f"method={method} setting={setting})")


def dropped_note(args: argparse.Namespace, cfg) -> str | None:
    """Selections of several methods and settings keep only the experiment's cells among their
    combinations; say which requested combinations are not run, and why."""
    sel = {}
    for o in args.overrides:
        key, _, value = o.partition("=")
        if key in ("method", "setting") and value:
            sel[key] = [v for v in value.split(",") if v]
    if len(sel) < 2:
        return None
    cells = {(c.method, c.setting) for g in cfg.cells for c in _group_cells(g)}
    missing = [(m, s) for m in sel["method"] for s in sel["setting"] if (m, s) not in cells]
    if not missing:
        return None
    return "note: not run (not among the experiment's cells): " + "; ".join(
        f"{m} x {s} ({_why_not(cfg, m, s)})" for m, s in missing)


def _group_cells(group):
    from harness.config import Cell

    return [Cell(m, s, d) for d in group.datasets for m in group.methods for s in group.settings]


def run(args: argparse.Namespace) -> int:
    from harness.runner.driver import run_experiment

    cfg = load(args)
    naming_hint(args, cfg)
    note = dropped_note(args, cfg)
    if note:
        print(note, flush=True)
    if args.dry_run:
        from harness.runner.dryrun import describe_run

        print(describe_run(cfg))
        return 0
    outcome = run_experiment(cfg, quiet=args.quiet, on_scored=print_table)
    print_footer(outcome, cfg)
    return 1 if outcome.failures or outcome.incomplete else 0

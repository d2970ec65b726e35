"""`mosebench resume RUN_DIR`: finish what a run left undone (after a crash, kill or timeout)."""

from __future__ import annotations

import argparse

HELP = "continue a run from its directory: wait for live jobs, redo missing videos, score, log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="the run directory (results/runs/<experiment>/<run-id>)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="execution options only: cluster=NAME, cluster.*, retry.*, mlflow.*, progress")
    parser.add_argument("--config-dir", default=None, help="configs folder (for cluster=NAME)")
    parser.add_argument("--force", action="store_true",
                        help="redo every video with the code and data as they are now (after a change of either)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the videos left to do, their shards and (cluster=slurm) sbatch scripts; write and "
                             "submit nothing")


ALLOWED = ("cluster", "retry", "mlflow", "progress")


def run(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from harness.commands.run import print_footer, print_table
    from harness.config import config_dir, load_group_yaml
    from harness.errors import ConfigError
    from harness.runner.driver import resume
    from harness.runner.rundir import RunDir, load_run_config, read_json

    over: dict = {}
    dot = []
    for item in args.overrides:
        key = item.split("=", 1)[0]
        if key.split(".")[0] not in ALLOWED:
            raise ConfigError(f"resume override '{item}': only {', '.join(ALLOWED)} may change on resume "
                              "(anything else changes the numbers: start a new run)")
        if key == "cluster":
            name = item.split("=", 1)[1]
            over["cluster"] = {"name": name, **load_group_yaml("cluster", name, config_dir(args.config_dir))}
        else:
            dot.append(item)
    if dot:
        over = OmegaConf.to_container(OmegaConf.merge(over, OmegaConf.from_dotlist(dot)))
    if args.dry_run:
        from harness.config import ExperimentConfig, merge_into, to_plain
        from harness.runner.driver import pending_videos
        from harness.runner.dryrun import describe

        run_dir = RunDir.open(args.run_dir)
        cfg = load_run_config(run_dir)
        if over:
            cfg = merge_into(ExperimentConfig, to_plain(cfg), over, where="resume overrides")
        force = (read_json(run_dir.root / "force.json", {}) or {}).get("before")
        print(describe(cfg, pending_videos(run_dir, force), run_dir=str(run_dir.root)))
        return 0
    outcome = resume(args.run_dir, over or None, quiet=args.quiet, force=args.force, on_scored=print_table)
    print_footer(outcome, load_run_config(RunDir.open(args.run_dir)))
    return 1 if outcome.failures or outcome.incomplete else 0

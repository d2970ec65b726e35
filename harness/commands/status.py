"""`mosebench status RUN_DIR`: per-cell progress, failures (with log paths), scoring and MLflow state."""

from __future__ import annotations

import argparse

HELP = "show a run's per-cell progress, failed videos/shards with their logs, and what is scored/logged"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="the run directory (results/runs/<experiment>/<run-id>)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def run(args: argparse.Namespace) -> int:
    import json

    from harness.runner.status import run_status

    st = run_status(args.run_dir)
    if args.json:
        print(json.dumps(st, indent=1))
        return 0
    print(f"run {st['run_dir']}  (experiment {st['experiment']}, cluster {st['cluster']})")
    width = max([len(c["cell"]) for c in st["cells"]] + [4])
    print(f"{'cell'.ljust(width)}  {'done':>9}  {'failed':>6}  {'running':>7}  {'missing':>7}  scored  mlflow")
    for c in st["cells"]:
        running = len(c.get("running", []))
        print(f"{c['cell'].ljust(width)}  {len(c['done']):>4}/{c['videos']:<4}  {len(c['failed']):>6}  {running:>7}  "
              f"{len(c['missing']) - running:>7}  {'yes' if c['scored'] else 'no':>6}  "
              f"{'yes' if c['logged'] else 'no':>6}")
        for f in c["failures"]:
            print(f"    {c['cell']}/{f['video']} failed (job {f.get('job')}): {f.get('error')}")
        if c.get("score_error"):
            print(f"    {c['cell']} scoring failed: {c['score_error']:.500} (fix it, then: mosebench resume "
                  f"{st['run_dir']})")
    if st["live_jobs"]:
        print(f"jobs still running: {', '.join(st['live_jobs'])}")
    for f in st["failed_shards"]:
        print(f"shard {f['shard']} (job {f['job_id']}) failed: {f['work']}\n  log: {f['log']}\n"
              + "\n".join("  " + line for line in f["error"].strip().splitlines()[-12:]))
    if st["mlflow_pending"]:
        print(f"MLflow logging pending ({st['mlflow_pending']}); run: mosebench log {st['run_dir']}")
    print(verdict(st))
    return 0


def verdict(st: dict) -> str:
    """The run's state in one line; "complete" only when every cell is scored (and logged, with MLflow on)."""
    run_dir = st["run_dir"]
    cells = st["cells"]
    if not cells:
        return f"no cells planned yet (no plan.json): mosebench resume {run_dir}"
    todo = sum(len(c["failed"]) + len(c["missing"]) for c in cells)
    if todo and st["live_jobs"]:
        return f"{todo} video(s) to do; {len(st['live_jobs'])} job(s) still running (check again later)"
    if todo:
        return f"{todo} video(s) to do: mosebench resume {run_dir}"
    failed = sum(1 for c in cells if c.get("score_error"))
    if failed:
        return f"all videos predicted; scoring failed in {failed} cell(s) (above)"
    unscored = sum(1 for c in cells if not c["scored"])
    if unscored:
        return f"all videos predicted; {unscored} cell(s) not scored yet: mosebench resume {run_dir}"
    unlogged = sum(1 for c in cells if not c["logged"])
    if st.get("mlflow_enabled") and unlogged:
        return f"scored; {unlogged} cell(s) not logged to MLflow yet: mosebench log {run_dir}"
    return "complete"

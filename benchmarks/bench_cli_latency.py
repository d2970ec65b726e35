"""CLI latency: how long `mosebench run` of an already finished run and `mosebench status` take.

    .venv/bin/python benchmarks/bench_cli_latency.py [--repeats 5] [--tree PATH] [--label NAME]

A finished run is the common case of a rerun (the same command again, or a notebook re-executing a
cell): nothing is left to predict, score or log, so the command should only read the run directory
and print the table. The experiment is `smoke` with `method=flow` and MLflow logging on (a sqlite
store in a temporary results folder), run once untimed; then each command is started ``--repeats``
times as a fresh interpreter (`python -m harness.cli ...`), as a user would, and the wall-clock
seconds are recorded (median and min; the machine is shared, so the load average is recorded too).

``--tree`` times another source tree (for example the landed main, for a before/after figure);
results are appended to results/bench/cli_latency.json under ``--label`` and the Markdown table
results/bench/cli_latency.md is rewritten from every label recorded there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "bench"


def _cli(tree: Path, args: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=600)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"mosebench {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return dt


def measure(tree: Path, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="mb-latency-") as tmp:
        work = Path(tmp)
        run_args = ["run", "experiment=smoke", "method=flow", "mlflow.enabled=true", f"results={work / 'results'}",
                    f"dataset.synth-tiny.root={work / 'data'}"]
        first = _cli(tree, run_args, work)
        run_dir = next((work / "results" / "runs" / "smoke").iterdir())
        rerun = [_cli(tree, run_args, work) for _ in range(repeats)]
        status = [_cli(tree, ["status", str(run_dir)], work) for _ in range(repeats)]
        helps = [_cli(tree, ["--help"], work) for _ in range(repeats)]
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True).stdout
    return {"tree": str(tree), "commit": git.strip(), "first_run_s": first,
            "rerun_s": rerun, "status_s": status, "help_s": helps, "loadavg": os.getloadavg(),
            "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _row(label: str, r: dict) -> str:
    def fmt(xs: list[float]) -> str:
        return f"{statistics.median(xs):.2f} (min {min(xs):.2f})"

    return (f"| {label} | {r['commit']} | {fmt(r['rerun_s'])} | {fmt(r['status_s'])} | {fmt(r['help_s'])} | "
            f"{r['first_run_s']:.1f} | {r['loadavg'][0]:.2f} | {r['time']} |")


def write_markdown(results: dict) -> str:
    lines = [
        "# CLI latency",
        "",
        "`benchmarks/bench_cli_latency.py`: `mosebench run experiment=smoke method=flow mlflow.enabled=true` of a",
        "finished run (nothing to predict, score or log), `mosebench status RUN_DIR`, and `mosebench --help`, each",
        "started as a fresh interpreter; seconds, median (min) of the repeats. `first run` is the untimed first",
        "run that predicts, scores and logs (one measurement). The machine is shared (2 cores): the 1-minute load",
        "average is recorded.",
        "",
        "| tree | commit | rerun of a finished run, s | status, s | --help, s | first run, s | load | when |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(label, r) for label, r in results.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tree", type=Path, default=ROOT, help="source tree to time (default: this one)")
    ap.add_argument("--label", default="this tree")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / "cli_latency.json"
    results = json.loads(store.read_text()) if store.is_file() else {}
    results[args.label] = measure(args.tree.resolve(), args.repeats)
    store.write_text(json.dumps(results, indent=1) + "\n")
    text = write_markdown(results)
    (OUT / "cli_latency.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

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
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "bench"


CPU: list[float] = []  # CPU seconds (user + sys) of each command, in call order


def _cli(tree: Path, args: list[str], cwd: Path) -> float:
    """Wall-clock seconds of one command (its CPU seconds are appended to CPU)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=600)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
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
        rerun_cpu = CPU[-repeats:]
        status = [_cli(tree, ["status", str(run_dir)], work) for _ in range(repeats)]
        helps = [_cli(tree, ["--help"], work) for _ in range(repeats)]
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True).stdout
    return {"tree": str(tree), "commit": git.strip(), "first_run_s": first,
            "rerun_s": rerun, "rerun_cpu_s": rerun_cpu, "status_s": status, "help_s": helps, "loadavg": os.getloadavg(),
            "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def _row(label: str, r: dict) -> str:
    def fmt(xs: list[float]) -> str:
        return f"{statistics.median(xs):.2f} (min {min(xs):.2f})"

    cpu = fmt(r["rerun_cpu_s"]) if r.get("rerun_cpu_s") else "-"
    return (f"| {label} | {r['commit'] or '-'} | {fmt(r['rerun_s'])} | {cpu} | {fmt(r['status_s'])} | "
            f"{fmt(r['help_s'])} | {r['first_run_s']:.1f} | {r['loadavg'][0]:.2f} | {r['time']} |")


def write_markdown(results: dict) -> str:
    lines = [
        "# CLI latency",
        "",
        "`benchmarks/bench_cli_latency.py`: `mosebench run experiment=smoke method=flow mlflow.enabled=true` of a",
        "finished run (nothing to predict, score or log), `mosebench status RUN_DIR`, and `mosebench --help`, each",
        "started as a fresh interpreter; seconds, median (min) of the repeats. `first run` is the untimed first",
        "run that predicts, scores and logs (one measurement). The machine is shared (2 cores): the 1-minute load",
        "average is recorded, and the rerun's CPU seconds (user + sys), which depend far less on the load.",
        "",
        "| tree | commit | rerun of a finished run, s | rerun CPU, s | status, s | --help, s | first run, s | load | when |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(label, r) for label, r in results.items() if label != "notes"]
    lines += ["", *[f"* {n}" for n in results.get("notes", [])]] if results.get("notes") else []
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tree", type=Path, default=ROOT, help="source tree to time (default: this one)")
    ap.add_argument("--label", default="this tree")
    ap.add_argument("--note", help="record a note under the table instead of measuring")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / "cli_latency.json"
    results = json.loads(store.read_text()) if store.is_file() else {}
    if args.note:
        results.setdefault("notes", []).append(args.note)
    else:
        results[args.label] = measure(args.tree.resolve(), args.repeats)
    store.write_text(json.dumps(results, indent=1) + "\n")
    text = write_markdown(results)
    (OUT / "cli_latency.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""`mosebench ingest`: attach the evaluation server's result to a predicted cell as its scores."""

from __future__ import annotations

import argparse

HELP = "attach the MOSEv2 evaluation server's result (score.py's scores.txt/metrics.json, or their zip) to a cell"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cell", metavar="RUN_CELL", help="the cell folder: RUN_DIR/<method>--<setting>--<dataset>")
    parser.add_argument("result", metavar="RESULT", help="the server's result: zip, folder or scores.txt")
    parser.add_argument("--replace", action="store_true", help="replace a cell's local scores with the server's")


def run(args: argparse.Namespace) -> int:
    from harness.report.attach import ingest
    from harness.report.server import read_result

    summary = ingest(args.cell, read_result(args.result), replace=args.replace)
    m = summary["metrics"]
    print(f"{summary['cell']}: server scores attached (sha256 {summary['server_result']['sha256'][:12]}): "
          + ", ".join(f"{k} {m[k]:.1f}" for k in ("JF_hat", "JF_hat_d", "JF_hat_r", "JF") if k in m))
    from pathlib import Path

    run_dir = Path(args.cell).resolve().parent
    print(f"report: mosebench report {run_dir}\nMLflow: mosebench log {run_dir}")
    return 0

"""`mosebench check-data`: check a dataset folder against its meta (reads every ground-truth PNG)."""

from __future__ import annotations

import argparse

HELP = "check a dataset: folders vs meta.json, every ground-truth PNG (mode, size, ids), frames"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="dataset root (MOSE layout: JPEGImages/, Annotations/, meta.json)")
    parser.add_argument("--meta", help="meta.json to use instead of DATA/meta.json")
    parser.add_argument("--layout", default="mose", choices=("mose", "davis"))
    parser.add_argument("--split", default=None, help="MOSE sub-folder / DAVIS ImageSets list")
    parser.add_argument("--decode-frames", action="store_true", help="also decode every JPEG (slow)")
    parser.add_argument("--max-problems", type=int, default=20, metavar="N")


def run(args: argparse.Namespace) -> int:
    from harness.data import open_dataset
    from harness.data.checks import check_dataset
    from harness.errors import DataError

    ds = open_dataset(args.data, layout=args.layout, meta=args.meta, split=args.split)
    problems = check_dataset(ds, decode_frames=args.decode_frames, max_problems=args.max_problems)
    if problems:
        raise DataError(f"{ds.root}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
    print(f"{ds.root}: OK ({len(ds)} videos)")
    return 0

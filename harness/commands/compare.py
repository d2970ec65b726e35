"""`mosebench compare`: paired bootstrap comparison of two scored result sets."""

from __future__ import annotations

import argparse

HELP = "paired bootstrap comparison (mean difference, 95%% CI, p-value) of two `mosebench score` outputs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="score folder of the baseline (holds per_frame.parquet)")
    parser.add_argument("b", help="score folder of the candidate")
    parser.add_argument("--samples", type=int, default=10000, help="bootstrap samples (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the comparison as JSON here")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from harness.errors import DataError
    from harness.metrics.aggregate import object_table
    from harness.metrics.bootstrap import compare_objects, comparison_table
    from harness.metrics.report_files import load_per_frame

    tables = []
    for folder in (args.a, args.b):
        per_frame, infos, protocol = load_per_frame(Path(folder) / "per_frame.parquet")
        tables.append((object_table(per_frame, infos, protocol), protocol))
    (obj_a, pa), (obj_b, pb) = tables
    if pa != pb:
        raise DataError(f"{args.a} was scored with protocol {pa!r} and {args.b} with {pb!r}; rescore one of them")
    result = compare_objects(obj_a, obj_b, pa, samples=args.samples, seed=args.seed)
    print(f"B = {args.b}\nA = {args.a}\n")
    print(comparison_table(result), end="")
    if args.out:
        from harness.data.masks import atomic_write_bytes

        atomic_write_bytes(args.out, (json.dumps({k: v.as_dict() for k, v in result.items()}, indent=2,
                                                 allow_nan=False, default=str) + "\n").encode())
    return 0

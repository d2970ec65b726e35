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

    if args.out and Path(args.out).is_dir():
        raise DataError(f"--out {args.out} is a folder; it takes the JSON file to write, e.g. {Path(args.out) / 'cmp.json'}")
    tables, loaded = [], []
    for folder in (args.a, args.b):
        per_frame, infos, protocol = load_per_frame(Path(folder) / "per_frame.parquet")
        loaded.append((per_frame, infos))
        tables.append((object_table(per_frame, infos, protocol), protocol))
    (obj_a, pa), (obj_b, pb) = tables
    if pa != pb:
        raise DataError(f"{args.a} was scored with protocol {pa!r} and {args.b} with {pb!r}; rescore one of them")
    _check_same_ground_truth(args.a, args.b, *loaded[0], *loaded[1])
    keys_a = set(zip(obj_a["video"], obj_a["object"]))
    keys_b = set(zip(obj_b["video"], obj_b["object"]))
    if keys_a != keys_b:
        import sys

        print(f"warning: {args.a} has {len(keys_a)} objects and {args.b} {len(keys_b)}; comparing only the "
              f"{len(keys_a & keys_b)} they share (A and B below are over those, not the full sets)",
              file=sys.stderr)
    result = compare_objects(obj_a, obj_b, pa, samples=args.samples, seed=args.seed)
    print(f"B = {args.b}\nA = {args.a}\n")
    print(comparison_table(result), end="")
    if args.out:
        from harness.atomic import atomic_write_bytes

        atomic_write_bytes(args.out, (json.dumps({k: v.as_dict() for k, v in result.items()}, indent=2,
                                                 allow_nan=False, default=str) + "\n").encode())
    return 0


def _check_same_ground_truth(a: str, b: str, frames_a, infos_a, frames_b, infos_b) -> None:
    """A paired comparison is only meaningful on the same ground truth: refuse shared video names whose
    meta (objects, size, length) or per-frame GT areas differ (e.g. two synth sets with other seeds)."""
    from dataclasses import replace

    from harness.errors import DataError

    for vid in sorted(set(infos_a) & set(infos_b)):
        ia, ib = infos_a[vid], infos_b[vid]
        if ia.frames is None or ib.frames is None:  # a table written before video frames were recorded
            ia, ib = replace(ia, frames=None), replace(ib, frames=None)
        if ia != ib:
            raise DataError(f"video {vid!r} was scored on different ground truth in {a} ({infos_a[vid]}) and {b} "
                            f"({infos_b[vid]}); compare runs scored on the same dataset")
    keys = ["video", "object", "frame"]
    both = frames_a[keys + ["gt_area"]].merge(frames_b[keys + ["gt_area"]], on=keys, suffixes=("_a", "_b"))
    differ = both[both["gt_area_a"] != both["gt_area_b"]]
    if len(differ):
        row = differ.iloc[0]
        raise DataError(f"video {row['video']!r} object {int(row['object'])} frame {row['frame']}: the ground-truth "
                        f"mask has {int(row['gt_area_a'])} pixels in {a} but {int(row['gt_area_b'])} in {b} "
                        f"({len(differ)} such frame-objects); compare runs scored on the same dataset")

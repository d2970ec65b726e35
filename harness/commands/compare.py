"""`mosebench compare`: paired bootstrap comparison of two scored result sets.

A and B may each be a score folder (``per_frame.parquet``: `mosebench score --out`, ``<cell>/scores``),
a cell folder of a run, or a run folder: two runs are compared cell by cell (cells of the same name),
a run with one scored cell against any other result set.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("paired bootstrap comparison (mean difference, 95%% CI, p-value) of two scored result sets (score, cell or "
        "run folders)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="the baseline: a score folder (holds per_frame.parquet), a cell folder or a run folder")
    parser.add_argument("b", help="the candidate (same kinds)")
    parser.add_argument("--samples", type=int, default=10000, help="bootstrap samples (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the comparison as JSON here")


def scored_sets(path: str) -> dict[str, Path]:
    """name -> score folder of what ``path`` holds: itself (a score folder), ``<cell>/scores``, or
    every scored cell of a run folder."""
    from harness.errors import DataError

    p = Path(path)
    if (p / "per_frame.parquet").is_file():
        return {p.parent.name if p.name == "scores" else p.name: p}
    if (p / "scores" / "per_frame.parquet").is_file():
        return {p.name: p / "scores"}
    if (p / "config.yaml").is_file() and (p / "plan.json").is_file():
        cells = {c.parent.name: c for c in sorted(p.glob("*/scores/per_frame.parquet"))}
        if not cells:
            raise DataError(f"{p} is a run folder without a scored cell; finish it first: mosebench resume {p}")
        return {name: f.parent for name, f in cells.items()}
    if (p / "summary.json").is_file() or (p / "records").is_dir():
        raise DataError(f"{p} is a cell folder whose predictions were not scored as a table (per-frame VOS "
                        "scores); only VOS-scored cells can be compared")
    raise DataError(f"{p} holds no per_frame.parquet: pass a score folder (mosebench score --out), a cell folder "
                    "(results/runs/<experiment>/<run-id>/<cell>) or a run folder")


def pairs(a: str, b: str) -> list[tuple[str, Path, Path]]:
    """(label, A's score folder, B's) to compare: the one set of each, or the cells both runs have."""
    from harness.errors import DataError

    sa, sb = scored_sets(a), scored_sets(b)
    if len(sa) == 1 and len(sb) == 1:
        (na, fa), (nb, fb) = next(iter(sa.items())), next(iter(sb.items()))
        return [(na if na == nb else f"{na} vs {nb}", fa, fb)]
    common = [n for n in sa if n in sb]
    if not common:
        raise DataError(f"{a} has scored cells {', '.join(sa)} and {b} has {', '.join(sb)}: none in common; pass "
                        "two cell folders to compare cells of different names")
    left = sorted((set(sa) | set(sb)) - set(common))
    if left:
        import sys

        print(f"note: comparing the {len(common)} cell(s) both hold; not in both: {', '.join(left)}", file=sys.stderr)
    return [(n, sa[n], sb[n]) for n in common]


def run(args: argparse.Namespace) -> int:
    import json

    from harness.errors import DataError

    if args.out and Path(args.out).is_dir():
        raise DataError(f"--out {args.out} is a folder; it takes the JSON file to write, e.g. {Path(args.out) / 'cmp.json'}")
    todo = pairs(args.a, args.b)
    results = {}
    for label, fa, fb in todo:
        if len(todo) > 1:
            print(f"=== {label} ===")
        results[label] = compare(str(fa), str(fb), samples=args.samples, seed=args.seed)
    if args.out:
        from harness.atomic import atomic_write_bytes

        doc = ({k: v.as_dict() for k, v in results[todo[0][0]].items()} if len(todo) == 1 else
               {label: {k: v.as_dict() for k, v in r.items()} for label, r in results.items()})
        atomic_write_bytes(args.out, (json.dumps(doc, indent=2, allow_nan=False, default=str) + "\n").encode())
    return 0


def compare(a: str, b: str, *, samples: int, seed: int) -> dict:
    """Print and return the paired comparison of two score folders."""
    from harness.errors import DataError
    from harness.metrics.aggregate import object_table
    from harness.metrics.bootstrap import compare_objects, comparison_table
    from harness.metrics.report_files import load_per_frame

    tables, loaded = [], []
    for folder in (a, b):
        per_frame, infos, protocol = load_per_frame(Path(folder) / "per_frame.parquet")
        loaded.append((per_frame, infos))
        tables.append((object_table(per_frame, infos, protocol), protocol))
    (obj_a, pa), (obj_b, pb) = tables
    if pa != pb:
        raise DataError(f"{a} was scored with protocol {pa!r} and {b} with {pb!r}; rescore one of them")
    _check_same_ground_truth(a, b, *loaded[0], *loaded[1])
    keys_a = set(zip(obj_a["video"], obj_a["object"]))
    keys_b = set(zip(obj_b["video"], obj_b["object"]))
    if keys_a != keys_b:
        import sys

        print(f"warning: {a} has {len(keys_a)} objects and {b} {len(keys_b)}; comparing only the "
              f"{len(keys_a & keys_b)} they share (A and B below are over those, not the full sets)",
              file=sys.stderr)
    result = compare_objects(obj_a, obj_b, pa, samples=samples, seed=seed)
    print(f"B = {b}\nA = {a}\n")
    print(comparison_table(result), end="")
    return result


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

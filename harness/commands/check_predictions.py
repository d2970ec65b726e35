"""`mosebench check-predictions`: validate a predictions folder (no zip)."""

from __future__ import annotations

import argparse

HELP = "check a predictions folder: every video and frame present, sizes, palette mode, object ids"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pred_dir", help="predictions folder: PRED_DIR/<video>/<frame>.png")
    parser.add_argument("--meta", help="the dataset's meta.json (default: DATA/meta.json when --data is given)")
    parser.add_argument("--data", help="dataset root: frames due are taken from its JPEGImages "
                        "(without it: from the meta)")
    parser.add_argument("--layout", default="mose", choices=("mose", "davis"), help="dataset layout of --data")
    parser.add_argument("--split", default=None, help="split of --data (MOSE sub-folder / DAVIS ImageSets list)")
    parser.add_argument("--frames", default="all", choices=("all", "annotated", "auto"),
                        help="frames due per video with --data: every frame (check-predictions default), "
                        "the ground-truth frames only (what the official MOSEv2 scorer reads), or auto: "
                        "ground-truth frames where the local ground truth is complete (pack default)")
    parser.add_argument("--max-problems", type=int, default=20, metavar="N", help="list at most N problems")


def resolve(args: argparse.Namespace):
    """(meta, dataset) from --meta/--data; shared with `pack`."""
    from harness.data import open_dataset
    from harness.data.meta import load_meta
    from harness.errors import DataError

    dataset = None
    if args.data:
        dataset = open_dataset(args.data, layout=args.layout, meta=args.meta, split=args.split)
    if args.meta:
        meta = load_meta(args.meta)
    elif dataset is not None:
        meta = dataset.derived_meta()
    else:
        raise DataError("pass --meta META (the dataset's meta.json) or --data DATASET_ROOT")
    return meta, dataset


def run(args: argparse.Namespace) -> int:
    from harness.data.submission import validate_predictions
    from harness.errors import DataError

    meta, dataset = resolve(args)
    report, _ = validate_predictions(args.pred_dir, meta, dataset=dataset, frames=args.frames,
                                     max_problems=args.max_problems)
    if not report.ok:
        raise DataError(report.format())
    print(report.format())
    return 0

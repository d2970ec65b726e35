"""`mosebench score`: score prediction folders (MOSE-api or DAVIS protocol); several into one table."""

from __future__ import annotations

import argparse

HELP = "score predictions against ground truth (official MOSEv2 / DAVIS numbers, CIs, per-frame table)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--meta", help="the dataset's meta.json (objects, length, size); omit for DAVIS "
                                       "folders (objects = ids of the first GT frame)")
    parser.add_argument("--gt", required=True, help="ground-truth Annotations folder (<video>/<frame>.png)")
    parser.add_argument("--pred", required=True, nargs="+", metavar="PRED",
                        help="prediction folder(s) (<video>/<frame>.png); several are scored into one table")
    parser.add_argument("--out", required=True, help="output folder for metrics.json, scores.txt, tables (with "
                                                     "several --pred: one subfolder each plus table.md/table.csv)")
    parser.add_argument("--protocol", choices=("mose", "davis"), default="mose",
                        help="mose: MOSE-api (J&F̂, d/r clips); davis: davis2017-evaluation (default: mose)")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0 = all cores)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="score missing prediction videos/frames as empty masks (counted and reported)")
    parser.add_argument("--videos", nargs="+", help="score only these videos")
    parser.add_argument("--attributes", help="attributes.json for the TABLE 9 analysis (default: the one next "
                                             "to --meta if present; GT-derived attributes are always added)")
    parser.add_argument("--ci-samples", type=int, default=1000, help="bootstrap samples for the 95%% CIs")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.metrics.score import score

    if args.meta is None and args.protocol == "mose":
        import sys

        hint = Path(args.gt).parent / "meta.json"
        print("warning: no --meta: each video's objects are the ids of its first GT frame, so objects that "
              "appear later (common in MOSEv2) are not scored" + (f"; pass --meta {hint}" if hint.is_file() else ""),
              file=sys.stderr)
    attributes = args.attributes
    if attributes is None and args.meta and (Path(args.meta).parent / "attributes.json").is_file():
        attributes = Path(args.meta).parent / "attributes.json"
    if len(args.pred) > 1:
        return _score_many(args, attributes)
    s = score(args.meta, args.gt, args.pred[0], args.out, protocol=args.protocol, jobs=args.jobs,
              allow_missing=args.allow_missing, videos=args.videos, ci_samples=args.ci_samples,
              attributes=attributes)
    print((Path(args.out) / "scores.txt").read_text(), end="")
    print(f"objects: {s.n_objects}  scored frame-objects: {s.n_frames}")
    if s.ci:
        print("95% CI (bootstrap over objects): " + "  ".join(
            f"{k} [{lo:.1f}, {hi:.1f}]" for k, (lo, hi) in s.ci.items() if lo == lo and hi == hi))
    if s.n_missing or s.missing_videos:
        print(f"WARNING: {s.n_missing} missing prediction frame(s) scored as empty"
              + (f" (missing videos: {', '.join(s.missing_videos)})" if s.missing_videos else ""))
    _warn_predictions(s.pred_warnings)
    _warn_short_videos(Path(args.gt), args.videos)
    print(f"written to {args.out}")
    return 0


def pred_names(preds: list[str]) -> list[str]:
    """A short unique name per prediction folder: its own name, with parents added until they differ."""
    from pathlib import Path

    parts = [Path(p).resolve().parts for p in preds]
    for depth in range(1, max(len(p) for p in parts) + 1):
        names = ["/".join(p[-depth:]) for p in parts]
        if len(set(names)) == len(names):
            return names
    from harness.errors import ConfigError

    raise ConfigError(f"--pred: a folder given twice ({', '.join(preds)}); pass each prediction folder once")


def _score_many(args: argparse.Namespace, attributes) -> int:
    """vos-benchmark style: score each folder into ``OUT/<name>/`` and print one table (``OUT/table.md|csv``)."""
    import csv
    import io
    import math
    from pathlib import Path

    from harness.atomic import atomic_write_bytes
    from harness.metrics.names import SYMBOL
    from harness.metrics.score import score

    keys = list(SYMBOL) if args.protocol == "mose" else ["JF", "J", "J_recall", "J_decay", "F", "F_recall",
                                                         "F_decay"]
    rows = []
    for name, pred in zip(pred_names(args.pred), args.pred):
        out = Path(args.out) / name.replace("/", "__")
        s = score(args.meta, args.gt, pred, out, protocol=args.protocol, jobs=args.jobs,
                  allow_missing=args.allow_missing, videos=args.videos, ci_samples=args.ci_samples,
                  attributes=attributes)
        rows.append((name, s, out))
        if s.n_missing or s.missing_videos:
            print(f"WARNING: {name}: {s.n_missing} missing prediction frame(s) scored as empty")
        _warn_predictions(s.pred_warnings)

    def cell(v, ci) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        lo, hi = ci if ci else (float("nan"), float("nan"))
        return f"{v:.1f}" + (f" [{lo:.1f}, {hi:.1f}]" if lo == lo and hi == hi else "")

    head = ["predictions", *(SYMBOL.get(k, k) for k in keys), "objects"]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["predictions", "folder", *keys, *(f"{k}_ci_{e}" for k in keys for e in ("low", "high")), "n_objects"])
    for name, s, out in rows:
        ci = s.ci or {}
        md.append("| " + " | ".join([name, *(cell(getattr(s, k), ci.get(k)) for k in keys), str(s.n_objects)]) + " |")
        w.writerow([name, str(out), *(getattr(s, k) for k in keys),
                    *((ci.get(k) or (None, None))[i] for k in keys for i in (0, 1)), s.n_objects])
    text = "\n".join(md) + "\n"
    atomic_write_bytes(Path(args.out) / "table.md", text.encode())
    atomic_write_bytes(Path(args.out) / "table.csv", buf.getvalue().encode())
    print(text, end="")
    print(f"95% CI: bootstrap over objects. Per folder: {args.out}/<name>/; table: {args.out}/table.md, table.csv")
    return 0


def _warn_predictions(checks: dict) -> None:
    """Warn about prediction PNGs scored as given but probably wrong (counts are in summary.json)."""
    import sys

    if not checks or not (checks.get("greyscale_frames") or checks.get("unknown_id_frames")):
        return
    where = f" (e.g. {', '.join(checks.get('examples', [])[:3])})" if checks.get("examples") else ""
    if checks.get("greyscale_frames"):
        print(f"WARNING: {checks['greyscale_frames']} prediction frame(s) are greyscale (mode L) PNGs, not palette "
              "(mode P) PNGs; their pixel values were taken as object ids, so a 0/255 binary mask counts as "
              "object 255. Save predictions as palette PNGs of object ids (Image.fromarray(ids).convert('P'))"
              + where, file=sys.stderr)
    if checks.get("unknown_id_frames"):
        print(f"WARNING: {checks['unknown_id_frames']} prediction frame(s) hold object id(s) "
              f"{checks.get('unknown_ids')} that are not among their video's objects (the meta's, or the first "
              "GT frame's without --meta); those pixels count for no object (e.g. a 0/255 mask scores as an "
              "empty mask). Write each object's meta id" + where, file=sys.stderr)


def _warn_short_videos(gt_root, videos) -> None:
    """Name the videos whose objects count as 0 because they have fewer than 3 GT frames (B26)."""
    import os

    from harness.data.checks import MIN_SCORED_GT, short_video_note

    names = sorted(videos) if videos else sorted(p.name for p in gt_root.iterdir()
                                                 if p.is_dir() and not p.name.startswith("."))
    short = [v for v in names if sum(n.endswith(".png") and not n.startswith(".")
                                     for n in os.listdir(gt_root / v)) < MIN_SCORED_GT]
    note = short_video_note(short)
    if note:
        print(note)

"""Scoring speed: mosebench score vs a plain full-frame reference vs the official MOSE-api scorer.

Two kinds of data, 12 videos of 68 frames at 720p each (792 scored frames):

* ``standard``: synthetic videos from :func:`harness.data.synth.generate` (the meta keeps 1-4 of each
  video's objects, the others are erased from the GT; ~1,900 frame-objects) with tracker-like predictions derived from the GT (per
  object: a constant offset, a grown or shrunk mask, dropped frames, and on some objects the last
  mask kept as a false positive while the object is absent);
* ``heavy``: boundary-heavy, from ``tests/support/testdata.py`` ``generate_heavy``: 1-3 large objects
  per video (radius up to a quarter of the frame) with notched outlines, and jagged, noisy
  predictions, so that boundary matching dominates.

On each set it times, one after the other on the same cores, each as a subprocess (start-up and
imports count: a user runs the command), CPU time of the whole process tree:

* ``mosebench score`` (all cores; median of ``--repeat`` runs, in alternation with the official runs),
* the official ``MOSEv2/sam2_rcms/tools/score.py`` (median of ``--official-repeat`` runs) if ``--official TOOLS_DIR`` is given (or
  ``$MOSE_API_TOOLS``),
* ``tests/support/reference.py`` (a literal full-frame implementation; all cores; in-process),

checks that all give the same per-object numbers, and writes ``results/bench/scoring.json`` and
``scoring.md``. CPU seconds are the measure that counts on a shared machine; wall seconds are shown.

    python benchmarks/bench_scoring.py [--official /path/to/MOSE-api/MOSEv2/sam2_rcms/tools]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the set generators and the reference are test support


def _cpu(who: int) -> float:
    import resource

    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and all its waited-for descendants)."""
    import resource

    t, c = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t, _cpu(resource.RUSAGE_CHILDREN) - c


def make_heavy_set(root: Path, videos: int, frames: int, size: tuple[int, int], seed: int) -> Path:
    """Boundary-heavy GT + predictions under ``root`` (``Annotations``, ``pred``, ``meta.json``)."""
    from support.testdata import HeavySpec, generate_heavy

    return generate_heavy(root, HeavySpec(sizes=(size,) * videos, frames=(frames,) * videos, seed=seed))


def make_set(root: Path, videos: int, frames: int, size: tuple[int, int], seed: int) -> Path:
    """Synth GT + derived predictions under ``root`` (``Annotations``, ``pred``, ``meta.json``)."""
    import cv2
    import numpy as np

    from harness.data.masks import read_label_png, write_label_png
    from harness.data.synth import generate

    data = generate(root / "synth", videos=videos, frames=frames, size=size, seed=seed)
    shutil.copytree(data / "Annotations", root / "Annotations")
    meta = json.loads((data / "meta.json").read_text())
    rng = np.random.default_rng(seed)
    kernel = np.ones((5, 5), np.uint8)
    for vi, (vid, entry) in enumerate(sorted(meta["videos"].items())):
        keep = sorted(entry["objects"], key=int)[: 1 + vi % 4]       # 1..4 scored objects per video
        entry["objects"] = {k: entry["objects"][k] for k in keep}
        ids = [int(k) for k in keep]
        offset = {o: rng.integers(-4, 5, 2) for o in ids}
        morph = {o: int(rng.integers(-1, 2)) for o in ids}           # -1 erode, 0 none, 1 dilate
        keep_fp = {o: bool(rng.random() < 0.5) for o in ids}
        last: dict[int, np.ndarray] = {}
        for png in sorted((root / "Annotations" / vid).glob("*.png")):
            gt = read_label_png(png)
            unlisted = ~np.isin(gt, ids) & (gt > 0)
            if unlisted.any():  # GT ids the meta does not list are an error (B22): they become background
                gt[unlisted] = 0
                write_label_png(png, gt)
            pred = np.zeros_like(gt)
            for o in ids:
                m = (gt == o).astype(np.uint8)
                if m.any():
                    if rng.random() < 0.1:
                        continue                                      # dropped frame
                    if morph[o]:
                        m = (cv2.dilate if morph[o] > 0 else cv2.erode)(m, kernel)
                    dy, dx = offset[o]
                    m = np.roll(m, (int(dy), int(dx)), axis=(0, 1))
                    last[o] = m
                elif keep_fp[o] and o in last:
                    m = last[o]                                       # false positive while absent
                else:
                    continue
                pred[m > 0] = o
            write_label_png(root / "pred" / vid / png.name, pred)
    (root / "meta.json").write_text(json.dumps(meta))
    shutil.rmtree(data / "JPEGImages", ignore_errors=True)
    return root


def bench_set(kind: str, root: Path, args: argparse.Namespace) -> dict:
    """Time every scorer on one set; returns the set's result record."""
    import resource

    import numpy as np
    from support.reference import reference_score

    meta = json.loads((root / "meta.json").read_text())
    n_frames = sum(v["length"] - 2 for v in meta["videos"].values())
    n_fo = sum((v["length"] - 2) * len(v["objects"]) for v in meta["videos"].values())
    print(f"[{kind}] {len(meta['videos'])} videos: {n_frames} scored frames, {n_fo} frame-objects", flush=True)
    cmd = [sys.executable, "-m", "harness.cli", "score", "--meta", str(root / "meta.json"),
           "--gt", str(root / "Annotations"), "--pred", str(root / "pred"), "--out", str(root / "ours"),
           "--jobs", "0"]
    # the machine is shared and its load drifts: mosebench and the official scorer run in alternation
    # (one official run after each of the first --official-repeat mosebench runs), medians reported
    runs, off_runs = [], []
    off_cmd = [sys.executable, "score.py", "--meta", str(root / "meta.json"), "--ann", str(root / "Annotations"),
               "--pred", str(root / "pred"), "--output", str(root / "official")]
    for i in range(args.repeat):
        shutil.rmtree(root / "ours", ignore_errors=True)
        runs.append(_timed(cmd, cwd=ROOT))
        if args.official and i < args.official_repeat:
            shutil.rmtree(root / "official", ignore_errors=True)
            off_runs.append(_timed(off_cmd, cwd=Path(args.official)))
            print(f"[{kind}] pair {i + 1}: mosebench {runs[-1][1]:.2f} CPU s, official {off_runs[-1][1]:.2f} CPU s",
                  flush=True)
    ours_s = float(np.median([r[0] for r in runs]))
    ours_cpu = float(np.median([r[1] for r in runs]))
    ours_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # largest process so far
    ours = json.loads((root / "ours" / "metrics.json").read_text())
    print(f"[{kind}] mosebench score: {ours_s:.2f} s, {ours_cpu:.2f} CPU s", flush=True)
    rec: dict = {"scored_frames": n_frames, "frame_objects": n_fo,
                 "mosebench": {"seconds": ours_s, "cpu_seconds": ours_cpu, "runs": [list(r) for r in runs],
                               "peak_rss_mb_largest_process": ours_rss_mb}}
    if off_runs:
        off_s = float(np.median([r[0] for r in off_runs]))
        off_cpu = float(np.median([r[1] for r in off_runs]))
        off = json.loads((root / "official" / "metrics.json").read_text())
        off.pop("total_time", None)
        pair = [o[1] / m[1] for o, m in zip(off_runs, runs)]
        rec["official"] = {"seconds": off_s, "cpu_seconds": off_cpu, "equal_results": off == ours,
                           "cpu_ratio": off_cpu / ours_cpu, "wall_ratio": off_s / ours_s,
                           "runs": [list(r) for r in off_runs], "pair_cpu_ratios": pair}
        print(f"[{kind}] official: {off_s:.2f} s, {off_cpu:.2f} CPU s, equal: {off == ours}", flush=True)
    if not args.no_reference:
        t, c = time.perf_counter(), _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
        ref = reference_score(meta, root / "Annotations", root / "pred", jobs=0)
        ref_s = time.perf_counter() - t
        ref_cpu = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN) - c

        def r2(v):
            return None if v is None else float(round(np.float64(v * 100), 2))

        ref_fmt = {k: {"J": r2(v[0]), "F_new": r2(v[1]), "F": r2(v[2]),
                       "disappear_J&F_new": None if v[3] is None else r2((v[3] + v[4]) / 2),
                       "reappear_J&F_new": None if v[5] is None else r2((v[5] + v[6]) / 2)}
                   for k, v in ref.items()}
        ref_equal = all(ours[k][f] == ref_fmt[k][f] for k in ref_fmt for f in ref_fmt[k])
        rec["reference_full_frame"] = {"seconds": ref_s, "cpu_seconds": ref_cpu, "equal_results": ref_equal,
                                       "cpu_ratio": ref_cpu / ours_cpu}
        print(f"[{kind}] reference: {ref_s:.2f} s, {ref_cpu:.2f} CPU s, equal: {ref_equal}", flush=True)
    return rec


KINDS = {"standard": "synthetic videos (harness.data.synth) with derived tracker-like predictions",
         "heavy": "boundary-heavy: 1-3 large notched objects per video (radius up to 1/4 of the frame), "
                  "jagged noisy predictions (tests/support/testdata.py generate_heavy)"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official", default=os.environ.get("MOSE_API_TOOLS"),
                    help="MOSE-api MOSEv2/sam2_rcms/tools folder (optional)")
    ap.add_argument("--sets", default="standard,heavy", help="comma-separated: standard, heavy")
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--frames", type=int, default=68)
    ap.add_argument("--size", default="720x1280", help="HxW")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    ap.add_argument("--repeat", type=int, default=5, help="mosebench runs (median reported)")
    ap.add_argument("--official-repeat", type=int, default=3,
                    help="official runs, each right after a mosebench run (median reported)")
    ap.add_argument("--no-reference", action="store_true", help="skip the (slow) full-frame reference")
    ap.add_argument("--data", help="keep the generated sets in this folder (reused when they exist)")
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    kinds = [k.strip() for k in args.sets.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        ap.error(f"unknown set(s) {unknown}; choose from {', '.join(KINDS)}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_scoring_") as tmp:
        for kind in kinds:
            root = (Path(args.data) if args.data else Path(tmp)) / kind
            if not (root / "meta.json").exists():
                maker = make_heavy_set if kind == "heavy" else make_set
                maker(root, args.videos, args.frames, (h, w), args.seed)
            results[kind] = bench_set(kind, root, args)
    result = {
        "sets": {k: {"description": KINDS[k], "videos": args.videos, "frames_per_video": args.frames,
                     "size": [h, w], "seed": args.seed, **results[k]} for k in kinds},
        "machine": {"cores": cores, "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_end": list(os.getloadavg())},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scoring.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Scoring speed", "",
             f"`python benchmarks/bench_scoring.py --official <MOSE-api>/MOSEv2/sam2_rcms/tools`: {args.videos} "
             f"videos x {args.frames} frames at {h}x{w} per set; {cores} cores, all used by every scorer. Every "
             "scorer runs as a command (start-up and imports included); **CPU seconds of the whole process "
             "tree** are the measure (the machine is shared: wall seconds depend on what else runs). "
             f"mosebench: median of {args.repeat} runs, the official scorer: median of {args.official_repeat}, "
             "run in alternation with mosebench. Load average at the end "
             f"{os.getloadavg()[0]:.1f}.", ""]
    for kind in kinds:
        r = results[kind]
        m = r["mosebench"]
        lines += [f"## {kind}: {KINDS[kind]}", "",
                  f"{r['scored_frames']} scored frames, {r['frame_objects']} frame-objects.", "",
                  "| scorer | CPU s | wall s | CPU ratio vs mosebench | same per-object numbers |",
                  "|---|---|---|---|---|",
                  f"| mosebench score | {m['cpu_seconds']:.2f} | {m['seconds']:.2f} | 1 | - |"]
        if "official" in r:
            o = r["official"]
            lines.append(f"| official MOSE-api score.py | {o['cpu_seconds']:.2f} | {o['seconds']:.2f} | "
                         f"**{o['cpu_ratio']:.1f}x** | {o['equal_results']} |")
        if "reference_full_frame" in r:
            f = r["reference_full_frame"]
            lines.append(f"| full-frame reference (tests/support/reference.py) | {f['cpu_seconds']:.2f} | "
                         f"{f['seconds']:.2f} | {f['cpu_ratio']:.1f}x | {f['equal_results']} |")
        cpus = [c for _, c in m["runs"]]
        note = f"mosebench CPU s over its {len(cpus)} runs: {min(cpus):.2f} to {max(cpus):.2f}. "
        if "official" in r:
            o = r["official"]
            note += (f"Official CPU s over its {len(o['runs'])} runs (each right after a mosebench run): "
                     f"{min(c for _, c in o['runs']):.2f} to {max(c for _, c in o['runs']):.2f}; CPU ratio of "
                     f"each such pair: {', '.join(f'{x:.1f}x' for x in o['pair_cpu_ratios'])}. ")
        lines += ["", note + f"Peak memory of the largest process so far: {m['peak_rss_mb_largest_process']:.0f} MB",
                  ""]
    (out / "scoring.md").write_text("\n".join(lines))
    print("\n".join(lines))
    ok = all(r.get(k, {}).get("equal_results", True) for r in results.values()
             for k in ("official", "reference_full_frame"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

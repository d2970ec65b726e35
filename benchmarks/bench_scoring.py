"""Scoring speed: mosebench score vs a plain full-frame reference vs the official MOSE-api scorer.

Generates 12 synthetic 720p videos (68 frames each -> 792 scored frames; 1-4 objects per video, about
1,900 frame-objects) with corrupted predictions, then times, in one run on the same cores:

* ``mosebench score`` (all cores, as a subprocess: the same start-up costs as the official tool),
* :mod:`harness.metrics.reference` (a literal full-frame implementation; all cores),
* the official ``MOSEv2/sam2_rcms/tools/score.py`` if ``--official TOOLS_DIR`` is given (or
  ``$MOSE_API_TOOLS``),

checks that all give the same per-object numbers, and writes ``results/bench/scoring.json`` and
``scoring.md``.

    python benchmarks/bench_scoring.py [--official /path/to/MOSE-api/MOSEv2/sam2_rcms/tools]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(cmd: list[str], cwd: Path | None = None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> int:
    from harness.metrics.reference import reference_score
    from harness.metrics.testdata import CaseSpec, generate_case

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official", default=os.environ.get("MOSE_API_TOOLS"),
                    help="MOSE-api MOSEv2/sam2_rcms/tools folder (optional)")
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--frames", type=int, default=68)
    ap.add_argument("--size", default="720x1280", help="HxW")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    spec = CaseSpec(sizes=((h, w),) * args.videos, frames=(args.frames,) * args.videos, seed=args.seed,
                    max_objects=4)
    with tempfile.TemporaryDirectory(prefix="bench_scoring_") as tmp:
        t0 = time.perf_counter()
        root = generate_case(Path(tmp) / "set", spec)
        gen_s = time.perf_counter() - t0
        meta = json.loads((root / "meta.json").read_text())
        n_frames = sum(v["length"] - 2 for v in meta["videos"].values())
        n_fo = sum((v["length"] - 2) * len(v["objects"]) for v in meta["videos"].values())
        print(f"generated {args.videos} videos {h}x{w}: {n_frames} scored frames, {n_fo} frame-objects "
              f"({gen_s:.1f} s)", flush=True)

        ours_s = _timed([sys.executable, "-m", "harness.cli", "score", "--meta", str(root / "meta.json"),
                         "--gt", str(root / "Annotations"), "--pred", str(root / "pred"),
                         "--out", str(root / "ours"), "--jobs", "0"], cwd=ROOT)
        print(f"mosebench score: {ours_s:.2f} s", flush=True)
        t = time.perf_counter()
        ref = reference_score(meta, root / "Annotations", root / "pred", jobs=0)
        ref_s = time.perf_counter() - t
        print(f"reference: {ref_s:.2f} s", flush=True)

        ours = json.loads((root / "ours" / "metrics.json").read_text())
        import numpy as np

        def r2(v):
            return None if v is None else float(round(np.float64(v * 100), 2))

        ref_fmt = {k: {"J": r2(v[0]), "F_new": r2(v[1]), "F": r2(v[2]),
                       "disappear_J&F_new": None if v[3] is None else r2((v[3] + v[4]) / 2),
                       "reappear_J&F_new": None if v[5] is None else r2((v[5] + v[6]) / 2)}
                   for k, v in ref.items()}
        ref_equal = all(ours[k][f] == ref_fmt[k][f] for k in ref_fmt for f in ref_fmt[k])
        print(f"equal to reference: {ref_equal}", flush=True)

        official = None
        if args.official:
            tools = Path(args.official)
            off_s = _timed([sys.executable, "score.py", "--meta", str(root / "meta.json"), "--ann",
                            str(root / "Annotations"), "--pred", str(root / "pred"), "--output",
                            str(root / "official")], cwd=tools)
            off = json.loads((root / "official" / "metrics.json").read_text())
            off.pop("total_time", None)
            off_equal = off == ours
            official = {"seconds": off_s, "frame_objects_per_s": n_fo / off_s, "equal_results": off_equal,
                        "speedup_mosebench": off_s / ours_s}
            print(f"official: {off_s:.2f} s, equal: {off_equal}", flush=True)

    result = {
        "set": {"videos": args.videos, "frames_per_video": args.frames, "size": [h, w], "seed": args.seed,
                "generator": "harness.metrics.testdata.generate_case", "scored_frames": n_frames,
                "frame_objects": n_fo},
        "machine": {"cores": cores, "python": platform.python_version(), "platform": platform.platform()},
        "mosebench": {"seconds": ours_s, "frame_objects_per_s": n_fo / ours_s, "jobs": "all cores"},
        "reference_full_frame": {"seconds": ref_s, "frame_objects_per_s": n_fo / ref_s,
                                 "equal_results": ref_equal},
        "speedup_vs_reference": ref_s / ours_s,
        "official": official,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scoring.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Scoring speed", "",
             f"{args.videos} synthetic videos at {h}x{w}: {n_frames} scored frames, {n_fo} frame-objects; "
             f"{cores} cores, all used by every scorer.", "",
             "| scorer | seconds | frame-objects/s | same per-object numbers |", "|---|---|---|---|",
             f"| mosebench score | {ours_s:.2f} | {n_fo / ours_s:.0f} | - |",
             f"| full-frame reference (harness.metrics.reference) | {ref_s:.2f} | {n_fo / ref_s:.0f} | {ref_equal} |"]
    if official:
        lines.append(f"| official MOSE-api score.py | {official['seconds']:.2f} | "
                     f"{official['frame_objects_per_s']:.0f} | {official['equal_results']} |")
    lines += ["", f"Speed-up vs the reference: **{ref_s / ours_s:.1f}x**"]
    if official:
        lines.append(f"Speed-up vs the official scorer: **{official['speedup_mosebench']:.1f}x**")
    (out / "scoring.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    ok = ref_equal and (official is None or official["equal_results"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

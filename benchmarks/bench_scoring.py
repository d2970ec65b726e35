"""Scoring speed: mosebench score vs a plain full-frame reference vs the official MOSE-api scorer.

Generates 12 synthetic 720p videos with :func:`harness.data.synth.generate` (68 frames each -> 792
scored frames; the meta keeps 1-4 of each video's objects, ~1,900 frame-objects as in the issue) and
tracker-like predictions derived from the GT (per object: a constant offset, a grown or shrunk
mask, dropped frames, and on some objects the last mask kept as a false positive while the object
is absent). Then it times, in one run on the same cores:

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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and its children)."""
    t, c = time.perf_counter(), _cpu()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t, _cpu() - c


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


def main() -> int:
    import numpy as np

    from harness.metrics.reference import reference_score

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official", default=os.environ.get("MOSE_API_TOOLS"),
                    help="MOSE-api MOSEv2/sam2_rcms/tools folder (optional)")
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--frames", type=int, default=68)
    ap.add_argument("--size", default="720x1280", help="HxW")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    ap.add_argument("--repeat", type=int, default=3, help="mosebench runs (median reported)")
    ap.add_argument("--data", help="keep the generated set in this folder (reused when it exists)")
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory(prefix="bench_scoring_") as tmp:
        t0 = time.perf_counter()
        root = Path(args.data) if args.data else Path(tmp) / "set"
        if not (root / "meta.json").exists():
            make_set(root, args.videos, args.frames, (h, w), args.seed)
        for old in ("ours", "official"):
            shutil.rmtree(root / old, ignore_errors=True)
        gen_s = time.perf_counter() - t0
        meta = json.loads((root / "meta.json").read_text())
        n_frames = sum(v["length"] - 2 for v in meta["videos"].values())
        n_fo = sum((v["length"] - 2) * len(v["objects"]) for v in meta["videos"].values())
        print(f"generated {args.videos} videos {h}x{w}: {n_frames} scored frames, {n_fo} frame-objects "
              f"({gen_s:.1f} s)", flush=True)

        cmd = [sys.executable, "-m", "harness.cli", "score", "--meta", str(root / "meta.json"),
               "--gt", str(root / "Annotations"), "--pred", str(root / "pred"), "--out", str(root / "ours"),
               "--jobs", "0"]
        # the machine may be shared: take the median of three runs (wall and CPU separately)
        runs = [_timed(cmd, cwd=ROOT) for _ in range(args.repeat)]
        ours_s = float(np.median([r[0] for r in runs]))
        ours_cpu = float(np.median([r[1] for r in runs]))
        import resource

        ours_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # largest process so far
        print(f"mosebench score: {ours_s:.2f} s", flush=True)
        t, c = time.perf_counter(), _cpu()
        ref = reference_score(meta, root / "Annotations", root / "pred", jobs=0)
        ref_s, ref_cpu = time.perf_counter() - t, _cpu() - c
        print(f"reference: {ref_s:.2f} s", flush=True)

        ours = json.loads((root / "ours" / "metrics.json").read_text())

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
            off_s, off_cpu = _timed([sys.executable, "score.py", "--meta", str(root / "meta.json"), "--ann",
                            str(root / "Annotations"), "--pred", str(root / "pred"), "--output",
                            str(root / "official")], cwd=tools)
            off = json.loads((root / "official" / "metrics.json").read_text())
            off.pop("total_time", None)
            off_equal = off == ours
            official = {"seconds": off_s, "cpu_seconds": off_cpu, "frame_objects_per_s": n_fo / off_s,
                        "equal_results": off_equal, "speedup_mosebench": off_s / ours_s,
                        "cpu_ratio_mosebench": off_cpu / ours_cpu}
            print(f"official: {off_s:.2f} s, equal: {off_equal}", flush=True)

    result = {
        "set": {"videos": args.videos, "frames_per_video": args.frames, "size": [h, w], "seed": args.seed,
                "generator": "harness.data.synth.generate + derived predictions", "scored_frames": n_frames,
                "frame_objects": n_fo},
        "machine": {"cores": cores, "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_end": list(os.getloadavg())},
        "mosebench": {"seconds": ours_s, "cpu_seconds": ours_cpu, "frame_objects_per_s": n_fo / ours_s,
                      "jobs": "all cores", "runs": [list(r) for r in runs], "peak_rss_mb_largest_process": ours_rss_mb},
        "reference_full_frame": {"seconds": ref_s, "cpu_seconds": ref_cpu, "frame_objects_per_s": n_fo / ref_s,
                                 "equal_results": ref_equal},
        "speedup_vs_reference": ref_s / ours_s,
        "official": official,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scoring.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Scoring speed", "",
             f"{args.videos} synthetic videos at {h}x{w}: {n_frames} scored frames, {n_fo} frame-objects; "
             f"{cores} cores, all used by every scorer; load average at the end "
             f"{os.getloadavg()[0]:.1f} (shared machine: compare within this table, CPU seconds are the "
             "steadier measure). mosebench: median of "
             f"{args.repeat} runs.", "",
             "| scorer | wall s | CPU s | frame-objects/s (wall) | same per-object numbers |", "|---|---|---|---|---|",
             f"| mosebench score | {ours_s:.2f} | {ours_cpu:.2f} | {n_fo / ours_s:.0f} | - |",
             f"| full-frame reference (harness.metrics.reference) | {ref_s:.2f} | {ref_cpu:.2f} | {n_fo / ref_s:.0f} "
             f"| {ref_equal} |"]
    if official:
        lines.append(f"| official MOSE-api score.py | {official['seconds']:.2f} | {off_cpu:.2f} | "
                     f"{official['frame_objects_per_s']:.0f} | {official['equal_results']} |")
    lines += ["", f"Speed-up vs the reference: **{ref_s / ours_s:.1f}x**",
              f"Peak memory of the largest mosebench process: {ours_rss_mb:.0f} MB"]
    if official:
        lines.append(f"Speed-up vs the official scorer: **{official['speedup_mosebench']:.1f}x** wall-clock "
                     f"({official['cpu_ratio_mosebench']:.1f}x less CPU time)")
    (out / "scoring.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    ok = ref_equal and (official is None or official["equal_results"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

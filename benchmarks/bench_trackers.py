"""Real OSTrack-family checkouts through ``mosebench run ... setting=vot`` on a tiny synthetic set.

For each tracker whose checkout and environment are given (``MOSEBENCH_<T>_REPO`` and
``MOSEBENCH_<T>_PYTHON``, T in SEQTRACK, AQATRACK, ODTRACK, SUTRACK; ``MOSEBENCH_<T>_CKPT`` optional:
without it, seeded random weights are built by the checkout's own network code through
``harness/trax_ostrack_server.py --save-random-ckpt``), runs the real ``mosebench`` CLI out of
process on CPU and records what the runner stored: model seconds per frame (the tracker's own
report), the TraX overhead per frame (round trip minus that), the tracker processes' peak RSS
(their own report) and the run's peak host RSS, and AUC (meaningless with random weights: it only
shows the boxes reached the scorer). Writes ``results/bench/trackers_integration.{json,md}``.

    MOSEBENCH_ODTRACK_REPO=... MOSEBENCH_ODTRACK_PYTHON=... python benchmarks/bench_trackers.py
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
TRACKERS = {"seqtrack": "seqtrack_b256", "aqatrack": "AQATrack-ep150-full-256", "odtrack": "baseline",
            "sutrack": "sutrack_b224"}
RANDOM_CFG = {"seqtrack": ("--cfg", "MODEL.ENCODER.PRETRAIN_TYPE=scratch")}  # no MAE download at build


def given(tracker: str) -> dict | None:
    """The tracker's checkout/env/ckpt from the environment, or None when not given."""
    env = {k: os.environ.get(f"MOSEBENCH_{tracker.upper()}_{k.upper()}", "") for k in ("repo", "python", "ckpt")}
    return env if env["repo"] and env["python"] else None


def random_ckpt(tracker: str, spec: dict, out: Path, seed: int = 0) -> str:
    """Seeded random weights built by the checkout's own network code (the server's save mode)."""
    path = out / f"{tracker}-{TRACKERS[tracker]}-seed{seed}.pth.tar"
    if not path.exists():
        subprocess.run([spec["python"], str(ROOT / "harness" / "trax_ostrack_server.py"), "--tracker", tracker,
                        "--param", TRACKERS[tracker], "--save-random-ckpt", str(path), "--seed", str(seed),
                        "--threads", "1", *RANDOM_CFG.get(tracker, ())], cwd=spec["repo"], check=True, capture_output=True, timeout=900)
    return str(path)


def run_one(tracker: str, spec: dict, data: Path, work: Path) -> dict:
    ckpt = spec["ckpt"] or random_ckpt(tracker, spec, work)
    results = work / f"results-{tracker}"
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "experiment=smoke", f"results={results}",
                           f"dataset.root={data}", f"method={tracker}", "setting=vot", f"name=bench-{tracker}",
                           f"method.python={spec['python']}", f"method.repo={spec['repo']}", f"method.ckpt={ckpt}",
                           "method.threads=1", "progress=false"],
                          cwd=ROOT, capture_output=True, text=True, timeout=3600,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    wall = time.time() - t0
    if proc.returncode != 0:
        return {"tracker": tracker, "ran": False, "error": (proc.stdout + proc.stderr)[-2000:]}
    run_dir = Path(next(line.split(":", 1)[1].strip() for line in proc.stdout.splitlines()
                        if line.startswith("run directory:")))
    cell = run_dir / f"{tracker}--vot--synth-tiny"
    recs = [json.loads(p.read_text()) for p in sorted((cell / "records").glob("*.json"))]
    procs = [r["tracker_process"] for r in recs]
    tracked = sum(p["frames_tracker_time"] for p in procs) - sum(len(r["boxes"]) for r in recs)  # minus inits
    metrics = json.loads((cell / "summary.json").read_text())["metrics"]
    model_s = sum(r["model_s"] for r in recs)
    objects = sum(len(r["boxes"]) for r in recs)
    frames = sum(r["model_frames"] for r in recs)
    overhead = [p["trax_overhead_s_per_frame"] for p in procs if p["trax_overhead_s_per_frame"] is not None]
    return {
        "tracker": tracker, "ran": True, "param": TRACKERS[tracker], "ckpt": "given" if spec["ckpt"] else "random seed 0",
        "videos": len(recs), "objects": objects, "frames": frames, "tracker_steps": tracked + objects,
        "model_time_source": sorted({p["model_time_source"] for p in procs}),
        "model_s_per_object_frame": model_s / max(1, tracked + objects),
        "trax_overhead_s_per_frame": sum(overhead) / len(overhead) if overhead else None,
        "tracker_peak_rss_gib": max(p["peak_rss_bytes"] for p in procs) / 2**30,
        "run_peak_host_rss_gib": max(r["peak_host_rss_bytes"] for r in recs) / 2**30,
        "metrics": metrics,
        "cli_wall_s": wall, "run_dir": str(run_dir),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=1)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--work", default="", help="scratch folder (default: a temporary one)")
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-trackers-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "synth"
    subprocess.run([sys.executable, "-m", "harness.cli", "synth", str(data), "--videos", str(args.videos),
                    "--frames", str(args.frames), "--size", "240x320"], cwd=ROOT, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    rows = []
    for tracker in TRACKERS:
        spec = given(tracker)
        if spec is None:
            rows.append({"tracker": tracker, "ran": False, "error": f"MOSEBENCH_{tracker.upper()}_REPO/_PYTHON not set"})
            continue
        print(f"[bench_trackers] {tracker} ...", flush=True)
        rows.append(run_one(tracker, spec, data, work))
        print(json.dumps(rows[-1], indent=1)[:1500], flush=True)
    doc = {"what": __doc__.splitlines()[0], "machine": f"{platform.processor() or platform.machine()}, "
           f"{os.cpu_count()} cores (shared), CPU, 1 torch thread", "dataset": f"mosebench synth --videos "
           f"{args.videos} --frames {args.frames} --size 240x320", "date": time.strftime("%Y-%m-%d"), "rows": rows}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "trackers_integration.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [f"# {doc['what']}", "", f"{doc['dataset']}; {doc['machine']}; {doc['date']}. Random weights: AUC "
             "means nothing except that boxes reached the scorer.", "",
             "| tracker | ran | param | objects x frames | model s per object-frame (tracker's report) | TraX overhead s/frame "
             "| tracker peak RSS GiB | run peak RSS GiB | AUC |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if not r["ran"]:
            lines.append(f"| {r['tracker']} | no: {r['error'][:120]} | | | | | | | |")
            continue
        ov = r["trax_overhead_s_per_frame"]
        lines.append(f"| {r['tracker']} | yes | {r['param']} | {r['objects']} x {r['frames']} | "
                     f"{r['model_s_per_object_frame']:.2f} | {'-' if ov is None else f'{ov:.3f}'} | "
                     f"{r['tracker_peak_rss_gib']:.2f} | {r['run_peak_host_rss_gib']:.2f} | "
                     f"{r['metrics'].get('AUC', float('nan')):.1f} |")
    (out / "trackers_integration.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

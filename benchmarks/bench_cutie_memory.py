"""Cutie on long videos: peak host memory and FPS vs video length (CPU, seeded random weights).

Cutie bounds its memory by design (mose-val: 5 working-memory frames, no long-term memory); this
measures it through the adapter. Each (model, length) runs in its own subprocess (peak RSS is per
process), one thread, on the same drawn 96x128 video as ``bench_sam2_memory.py`` (a textured disk
circling on a textured background), one object given on frame 0. FPS = processed frames / model
time (``docs/metrics.md``, "Speed and memory"); CPU numbers at a tiny size, not the paper's GPU FPS.
Writes results/bench/cutie_memory.json and .md.

    .venv/bin/python benchmarks/bench_cutie_memory.py [--lengths 100 2000] [--models small base]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "bench"


def child(model: str, n: int) -> dict:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_sam2_memory import DrawnVideo

    from adapters.cutie_vos import CutieBase, CutieConfig, CutieSmall
    from harness.api import MaskPrompt
    from harness.runner.memory import PeakRSS, current_rss_bytes

    cls = CutieBase if model == "base" else CutieSmall
    method = cls(CutieConfig(model=model, random_init=True), "cpu")
    video = DrawnVideo(n)
    rss0 = current_rss_bytes()
    model_s, processed, area = 0.0, 0, []
    t0 = time.perf_counter()
    with PeakRSS() as peak, method.open_session(video) as s:
        s.add_prompt(MaskPrompt(0, 1, video.mask(0)))
        for r in s.propagate():
            model_s += r.model_time_s
            processed += r.processed
            area.append(float(r.masks[1].mean()))
            work = s.core.memory.work_mem  # the live InferenceCore's working memory (keys per bucket)
            kept = sum(work.size(b) for b in work.buckets)
    return {"model": model, "frames": n, "processed_frames": processed, "rss_after_build_mb": rss0 / 2**20,
            "peak_rss_mb": peak.peak_bytes / 2**20, "peak_growth_mb": (peak.peak_bytes - rss0) / 2**20,
            "fps": processed / model_s, "wall_s": time.perf_counter() - t0, "work_mem_tokens_at_end": kept,
            "mean_mask_area": sum(area) / len(area)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", type=int, nargs="+", default=[100, 2000])
    ap.add_argument("--models", nargs="+", default=["small", "base"])
    ap.add_argument("--child", nargs=2, metavar=("MODEL", "N"))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    rows = []
    for model in args.models:
        for n in args.lengths:
            proc = subprocess.run([sys.executable, "-W", "ignore", __file__, "--child", model, str(n)],
                                  capture_output=True, text=True, check=True, env={"OMP_NUM_THREADS": "1",
                                  "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cutie_memory.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# Cutie adapter: peak host RSS and FPS vs video length", "",
             "CPU, one thread, seeded random weights (key projection x0.1), 96x128 drawn video, one object, "
             "mose-val defaults (5 working-memory frames, no long-term memory). "
             "`benchmarks/bench_cutie_memory.py`. FPS on a shared 2-core CPU: noisy, not the paper's GPU FPS.", "",
             "| model | frames | peak RSS (MB) | growth after build (MB) | working-memory tokens at end | FPS (CPU) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['frames']} | {r['peak_rss_mb']:.0f} | {r['peak_growth_mb']:.0f} | "
                     f"{r['work_mem_tokens_at_end']} | {r['fps']:.1f} |")
    (OUT / "cutie_memory.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

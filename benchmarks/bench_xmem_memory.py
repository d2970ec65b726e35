"""XMem on long videos: peak host memory and FPS vs video length (CPU, seeded random weights).

XMem bounds its memory by design: working memory holds at most T_max (10) memory frames; when full,
the oldest T_max - T_min (5) are consolidated into P (128) long-term prototypes, and long-term memory
is capped at LT_max (10000) elements (least-used prototypes removed). This measures it through the
adapter with eval.py's settings, except the frame size: the shared 2-core machine cannot run 2,000
frames at 480p, so frames stay at their 96x128 (``size: -1``; 6x8 = 48 memory elements per frame,
so 2,000 frames do reach the long-term cap). Each length runs in its own subprocess (peak RSS is
per process), one thread, on the same drawn video as ``bench_sam2_memory.py`` (a textured disk
circling on a textured background), one object given on frame 0. FPS = processed frames / model
time (``docs/metrics.md``, "Speed and memory"); CPU numbers at a tiny size, not the paper's GPU FPS.
Writes results/bench/xmem_memory.json and .md.

    MOSEBENCH_XMEM_REPO=/path/to/XMem .venv/bin/python benchmarks/bench_xmem_memory.py [--lengths 100 2000 3000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "bench"


def child(repo: str, n: int) -> dict:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_sam2_memory import DrawnVideo

    from adapters.xmem_vos import XMem, XMemConfig
    from harness.api import MaskPrompt
    from harness.runner.memory import PeakRSS, current_rss_bytes

    method = XMem(XMemConfig(repo=repo, random_init=True, size=-1), "cpu")
    video = DrawnVideo(n)
    rss0 = current_rss_bytes()
    model_s, processed, area, long_max = 0.0, 0, [], 0
    t0 = time.perf_counter()
    with PeakRSS() as peak, method.open_session(video) as s:
        s.add_prompt(MaskPrompt(0, 1, video.mask(0)))
        for r in s.propagate():
            model_s += r.model_time_s
            processed += r.processed
            area.append(float(r.masks[1].mean()))
            memory = s.core.memory  # the live InferenceCore's memory manager
            long_max = max(long_max, memory.long_mem.size)
        work, long = memory.work_mem.size, memory.long_mem.size
        count_usage = s.config["enable_long_term_count_usage"]
    return {"frames": n, "processed_frames": processed, "rss_after_build_mb": rss0 / 2**20,
            "peak_rss_mb": peak.peak_bytes / 2**20, "peak_growth_mb": (peak.peak_bytes - rss0) / 2**20,
            "fps": processed / model_s, "wall_s": time.perf_counter() - t0, "work_mem_elements_at_end": work,
            "long_mem_elements_at_end": long, "long_mem_elements_max": long_max,
            "long_term_usage_counted": count_usage, "mean_mask_area": sum(area) / len(area)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", type=int, nargs="+", default=[100, 2000, 3000])
    ap.add_argument("--repo", default=os.environ.get("MOSEBENCH_XMEM_REPO"),
                    help="checkout of hkchengrex/XMem (default: $MOSEBENCH_XMEM_REPO)")
    ap.add_argument("--child", type=int, metavar="N")
    args = ap.parse_args()
    if not args.repo:
        raise SystemExit("bench_xmem_memory: pass --repo /path/to/XMem or set MOSEBENCH_XMEM_REPO "
                         "(git clone https://github.com/hkchengrex/XMem)")
    if args.child:
        print(json.dumps(child(args.repo, args.child)))
        return
    rows = []
    for n in args.lengths:
        proc = subprocess.run([sys.executable, "-W", "ignore", __file__, "--repo", args.repo, "--child", str(n)],
                              capture_output=True, text=True, check=True, env={"OMP_NUM_THREADS": "1",
                              "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "xmem_memory.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# XMem adapter: peak host RSS and FPS vs video length", "",
             "CPU, one thread, seeded random weights (key projection x0.1), 96x128 drawn video at its own size "
             "(`size: -1`: 48 memory elements per frame; eval.py's 480p is out of reach on this shared 2-core "
             "machine), one object, otherwise eval.py's defaults (mem_every 5, top_k 30, long-term memory "
             "T_max 10, T_min 5, P 128, LT_max 10000). `benchmarks/bench_xmem_memory.py`. FPS on a shared "
             "2-core CPU: noisy, not the paper's GPU FPS.", "",
             "Memory grows while long-term memory fills (128 prototypes per consolidation, one per 25 frames) "
             "and stops at its cap LT_max = 10,000 elements (~1,950 frames; least-used prototypes are removed "
             "from then on): beyond that, peak RSS does not depend on the video length.", "",
             "| frames | peak RSS (MB) | growth after build (MB) | working-memory elements at end | "
             "long-term elements at end (max) | usage counted | FPS (CPU) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['frames']} | {r['peak_rss_mb']:.0f} | {r['peak_growth_mb']:.0f} | "
                     f"{r['work_mem_elements_at_end']} | {r['long_mem_elements_at_end']} "
                     f"({r['long_mem_elements_max']}) | {r['long_term_usage_counted']} | {r['fps']:.1f} |")
    (OUT / "xmem_memory.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

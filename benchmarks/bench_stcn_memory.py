"""STCN on long videos: peak host memory and CPU time per frame vs video length (seeded random weights).

STCN's memory is not bounded: a memory frame every ``mem_every`` (5) frames, kept to the end (upstream
and the adapter's default ``mem_size: null``), so the memory bank grows linearly with the video. stcnbuf's
buffer (``mem_size: 128``, its process_video default) caps it at 128 frames, replacing random entries.
This measures both through the adapter, frames at their 96x128 (``size: -1``: 6x8 = 48 keys per memory
frame; 480p on 2,000 frames is out of reach on the shared 2-core machine). Each run in its own
subprocess (peak RSS is per process), one thread, on ``bench_sam2_memory.py``'s drawn video, one object
given on frame 0. Writes results/bench/stcn_memory.json and .md.

    .venv/bin/python benchmarks/bench_stcn_memory.py [--lengths 100 2000] [--stcnbuf DIR]
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


def child(n: int, mem_size: int | None, where: str | None) -> dict:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_sam2_memory import DrawnVideo

    from adapters.stcn_vos import STCN, STCNConfig
    from harness.api import MaskPrompt
    from harness.runner.memory import PeakRSS, current_rss_bytes

    method = STCN(STCNConfig(path=where, random_init=True, size=-1, mem_size=mem_size), "cpu")
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
            bank = s.core.memory_bank  # the live STCNInference (dropped after the last frame)
        keys = int(bank.mem_k.shape[2])
    return {"frames": n, "mem_size": mem_size, "processed_frames": processed, "rss_after_build_mb": rss0 / 2**20,
            "peak_rss_mb": peak.peak_bytes / 2**20, "peak_growth_mb": (peak.peak_bytes - rss0) / 2**20,
            "cpu_ms_per_frame": 1000 * model_s / processed, "wall_s": time.perf_counter() - t0,
            "memory_keys_at_end": keys, "memory_frames_at_end": keys // 48, "mean_mask_area": sum(area) / len(area)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", type=int, nargs="+", default=[100, 2000])
    ap.add_argument("--stcnbuf", default=os.environ.get("MOSEBENCH_STCNBUF"),
                    help="directory holding stcnbuf (default: $MOSEBENCH_STCNBUF, else the installed one)")
    ap.add_argument("--child", type=int, metavar="N")
    ap.add_argument("--mem-size", type=int, default=None)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.mem_size, args.stcnbuf)))
        return
    rows = []
    for mem_size in (None, 128):
        for n in args.lengths:
            cmd = [sys.executable, "-W", "ignore", __file__, "--child", str(n)]
            cmd += [] if mem_size is None else ["--mem-size", str(mem_size)]
            cmd += ["--stcnbuf", args.stcnbuf] if args.stcnbuf else []
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                  env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "stcn_memory.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# STCN adapter: peak host RSS and CPU time per frame vs video length", "",
             "CPU, one thread, seeded random weights, 96x128 drawn video at its own size (`size: -1`: 48 memory "
             "keys per memory frame; 480p is out of reach on this shared 2-core machine), one object, stcnbuf "
             "0.2.2 driven as its process_video with upstream STCN's mem_every 5 and top-k 20. "
             "`benchmarks/bench_stcn_memory.py`. Times on a shared 2-core CPU: noisy, not the paper's GPU FPS.", "",
             "With `mem_size: null` (upstream STCN, the default) every 5th frame stays in memory: the memory bank "
             "grows linearly with the video (and with it the readout's cost). `mem_size: 128` (stcnbuf's buffer) "
             "caps the bank at 128 frames (random replacement). CPU times are from a machine shared with other "
             "jobs: compare the memory columns, not small time differences.", "",
             "| mem_size | frames | peak RSS (MB) | growth after build (MB) | memory frames at end | "
             "CPU ms / frame |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mem_size'] or 'null'} | {r['frames']} | {r['peak_rss_mb']:.0f} | "
                     f"{r['peak_growth_mb']:.0f} | {r['memory_frames_at_end']} | {r['cpu_ms_per_frame']:.1f} |")
    (OUT / "stcn_memory.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

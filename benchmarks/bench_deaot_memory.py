"""DeAOT on long videos: peak host memory and FPS vs video length (CPU, seeded random weights).

DeAOT's memory is NOT bounded for MOSE-length videos: eval.py's engine keeps the reference frame and
appends one long-term memory frame every ``TEST_LONG_TERM_MEM_GAP`` frames (DeAOT-L: 5) up to
``max_len_long_term`` = 9999 memory frames (~50,000 frames at gap 5), plus one short-term frame. This
measures it through the adapter with eval.py's settings on the 96x128 drawn video of
``bench_sam2_memory.py`` (network input 97x129, 7x9 = 63 tokens per memory frame and LSTT layer), one
object given on frame 0; each length in its own subprocess (peak RSS is per process), one thread.
FPS = processed frames / model time (``docs/metrics.md``, "Speed and memory"); CPU numbers at a tiny
size, not the paper's GPU FPS. Writes results/bench/deaot_memory.json and .md.

    .venv/bin/python benchmarks/bench_deaot_memory.py [--model deaotl] [--lengths 100 2000] [--package DIR]
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


def child(package: str | None, model: str, n: int) -> dict:
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_sam2_memory import DrawnVideo

    from adapters.deaot_vos import DeAOT, DeAOTConfig
    from harness.api import MaskPrompt
    from harness.runner.memory import PeakRSS, current_rss_bytes

    method = DeAOT(DeAOTConfig(model=model, repo=package, random_init=True, seed=1), "cpu")
    video = DrawnVideo(n)
    rss0 = current_rss_bytes()
    model_s, processed, area, fps_last = 0.0, 0, [], []
    t0 = time.perf_counter()
    with PeakRSS() as peak, method.open_session(video) as s:
        s.add_prompt(MaskPrompt(0, 1, video.mask(0)))
        for r in s.propagate():
            model_s += r.model_time_s
            processed += r.processed
            area.append(float(r.masks[1].mean()))
            fps_last.append(r.model_time_s)
            engine = s.engine.aot_engines[0]  # the live engine
            tokens = engine.long_term_memories[0][0].shape[0]
            token_num = engine.enc_hw
    tail = fps_last[-50:]
    return {"frames": n, "processed_frames": processed, "rss_after_build_mb": rss0 / 2**20,
            "peak_rss_mb": peak.peak_bytes / 2**20, "peak_growth_mb": (peak.peak_bytes - rss0) / 2**20,
            "fps": processed / model_s, "fps_last_50": len(tail) / sum(tail), "wall_s": time.perf_counter() - t0,
            "long_term_frames_at_end": tokens // token_num, "long_term_tokens_at_end": tokens,
            "mean_mask_area": sum(area) / len(area)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", type=int, nargs="+", default=[100, 2000])
    ap.add_argument("--model", default="deaotl")
    ap.add_argument("--package", default=os.environ.get("MOSEBENCH_DEAOTPY"),
                    help="folder holding deaotpy's 'aot' (default: $MOSEBENCH_DEAOTPY, else the installed deaotpy)")
    ap.add_argument("--child", type=int, metavar="N")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.package, args.model, args.child)))
        return
    rows = []
    for n in args.lengths:
        cmd = [sys.executable, "-W", "ignore", __file__, "--model", args.model, "--child", str(n)]
        cmd += ["--package", args.package] if args.package else []
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True,
                              env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "deaot_memory.json").write_text(json.dumps({"model": args.model, "rows": rows}, indent=2) + "\n")
    lines = ["# DeAOT adapter: peak host RSS and FPS vs video length", "",
             f"`{args.model}`, CPU, one thread, seeded random weights (seed 1, decoder output layer centred), "
             "96x128 drawn video (network input 97x129, 63 tokens per memory frame), one object, eval.py's "
             "defaults (long-term memory every 5 frames for DeAOT-L, short-term skip 1). "
             "`benchmarks/bench_deaot_memory.py`. FPS on a shared 2-core CPU: noisy, not the paper's GPU FPS.", "",
             "Long-term memory is not bounded at MOSE lengths: one memory frame is kept every 5 frames (cap "
             "9999 memory frames), so memory and per-frame attention cost grow linearly with the video length "
             "(compare XMem and Cutie, whose memory is capped).", "",
             "| frames | peak RSS (MB) | growth after build (MB) | long-term memory frames at end | "
             "FPS (CPU, all) | FPS (last 50 frames) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['frames']} | {r['peak_rss_mb']:.0f} | {r['peak_growth_mb']:.0f} | "
                     f"{r['long_term_frames_at_end']} | {r['fps']:.1f} | {r['fps_last_50']:.1f} |")
    (OUT / "deaot_memory.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""Settings benchmark: the costs a setting adds on top of the method, at 480p and 1080p.

    .venv/bin/python benchmarks/bench_settings.py [--repeats 3]

* click placement (point5, no feedback) on one object;
* the scribble robot on one frame (positive + negative strokes for 5 objects);
* unsupervised matching per frame: 6 GT objects x 20 proposals (every pair scored with the metrics
  engine's J / F̂);
* the interactive loop's stored predictions: zlib-packed label map bytes vs raw bytes per frame.

Synthetic masks (ellipses), fixed seed. Writes ``results/bench/settings.json`` and ``settings.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = {"480p": (480, 854), "1080p": (1080, 1920)}


def ellipses(shape, n, rng, scale):
    h, w = shape
    yy, xx = np.ogrid[:h, :w]
    lab = np.zeros(shape, np.uint8)
    for k in range(1, n + 1):
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
        a, b = rng.uniform(0.04, 0.12) * w * scale, rng.uniform(0.05, 0.15) * h * scale
        lab[((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1] = k
    return lab


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(name: str, shape: tuple[int, int], repeats: int) -> dict:
    from harness.metrics.unsupervised import score_unsupervised
    from harness.settings import robot
    from harness.settings.clicks import place_clicks
    from harness.settings.interactive import _Packed

    rng = np.random.default_rng(0)
    gt = ellipses(shape, 5, rng, 1.0)
    # A prediction: each object shifted (FN on one side, FP on the other).
    pred = np.roll(gt, (shape[0] // 40, shape[1] // 30), axis=(0, 1))
    obj = gt == 1
    t_click = best_of(lambda: place_clicks(obj, 5), repeats)
    t_robot = best_of(lambda: robot.interact(pred, gt, range(1, 6), 0), repeats)

    frames = 5
    gts = [ellipses(shape, 6, np.random.default_rng(10 + t), 1.0) for t in range(frames)]
    props = dict(enumerate(ellipses(shape, 20, np.random.default_rng(20 + t), 0.6) for t in range(frames)))

    class V:
        height, width = shape
        annotated = tuple(range(frames))
        frame_names = tuple(f"{i:05d}" for i in range(frames))
        objects = {o: 0 for o in range(1, 7)}

        def gt(self, t):
            return gts[t]

        def __len__(self):
            return frames

    V.name = "bench"
    t_match = best_of(lambda: score_unsupervised(V(), props), 1) / frames
    packed = len(_Packed(pred).data)
    return {"size": name, "shape": list(shape), "click5_ms": 1000 * t_click,
            "robot_5_objects_ms": 1000 * t_robot, "unsupervised_match_ms_per_frame": 1000 * t_match,
            "packed_label_bytes": packed, "raw_label_bytes": int(np.prod(shape)),
            "pack_ratio": float(np.prod(shape)) / packed}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = [measure(name, shape, args.repeats) for name, shape in SIZES.items()]
    out = ROOT / "results" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "repeats": args.repeats}
    (out / "settings.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = ["# Settings benchmark (`benchmarks/bench_settings.py`)", "",
             "Best of repeats on a shared machine; synthetic ellipse masks.", "",
             "| size | point5 clicks (ms) | robot, 5 objects (ms) | unsupervised matching, 6 x 20 (ms/frame) "
             "| packed label map (bytes) | raw / packed |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['click5_ms']:.1f} | {r['robot_5_objects_ms']:.1f} | "
                     f"{r['unsupervised_match_ms_per_frame']:.0f} | {r['packed_label_bytes']} | {r['pack_ratio']:.0f}x |")
    (out / "settings.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Reader benchmark: frames/s streaming a 720p video, JPEG backends, and peak RSS short vs long.

    .venv/bin/python benchmarks/bench_reader.py [--short 60] [--long 1200] [--size 720x1280]

Generates (once, cached) a synthetic MOSE-layout set with one short and one long 720p video, then

* streams the short video through ``JpegFrames.stream`` with the cv2 and the Pillow decoders
  (frames/s; the faster one is the reader's default);
* consumes frames with ~``--work-ms`` of simulated model work each, with and without the prefetch
  thread (what the prefetch buys when decoding overlaps the model);
* measures peak RSS of streaming each whole video in a fresh subprocess
  (``VmHWM`` of ``/proc/self/status``): it must not grow with the video's length. A third video of
  ``--tiled`` (7,825 = MOSEv2's longest) frames is hard-linked cyclically from the long one's JPEGs.

Writes ``results/bench/reader.json`` and ``results/bench/reader.md``.
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

RSS_CHILD = r"""
import json, sys, psutil
from harness.data import open_dataset
v = open_dataset(sys.argv[1]).video(sys.argv[2])
src = v.frames
src.frame(0)  # warm the decoder (imports cv2) before the baseline
base = psutil.Process().memory_info().rss
acc = 0
for i, f in src.stream():
    acc += int(f[::97, ::97].sum())
# VmHWM: this process image's high-water mark. (ru_maxrss would also count the parent's memory
# that the forked child held before exec.)
with open("/proc/self/status") as fh:
    peak = next(int(l.split()[1]) * 1024 for l in fh if l.startswith("VmHWM:"))
print(json.dumps({"frames": len(v), "baseline_rss": base, "peak_rss": peak, "checksum": acc}))
"""


def stream_fps(frames, backend: str, n: int) -> float:
    frames.backend = backend
    t0 = time.perf_counter()
    count = 0
    for _i, _f in frames.stream(0, n):
        count += 1
    return count / (time.perf_counter() - t0)


def busy(ms: float) -> None:
    """Stand-in for a model step on an accelerator: the host thread waits (and releases the GIL)."""
    time.sleep(ms / 1000)


def with_work(frames, n: int, work_ms: float, prefetch: bool) -> float:
    t0 = time.perf_counter()
    if prefetch:
        for _i, _f in frames.stream(0, n):
            busy(work_ms)
    else:
        for i in range(n):
            frames.frame(i)
            busy(work_ms)
    return n / (time.perf_counter() - t0)


def rss(data: Path, video: str) -> dict:
    out = subprocess.run([sys.executable, "-c", RSS_CHILD, str(data), video], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout)


def tile_video(data: Path, src: str, n: int) -> Path:
    """A one-video MOSE-layout set of ``n`` frames hard-linked cyclically from ``src``'s JPEGs
    (real 720p files to decode, the length of MOSEv2's longest video, no hours of rendering)."""
    from harness.data.meta import dump_meta_json

    root = data.with_name(f"{data.name}-tiled{n}")
    if (root / "meta.json").is_file():
        return root
    frames = sorted((data / "JPEGImages" / src).glob("*.jpg"))
    meta = json.loads((data / "meta.json").read_text())["videos"][src]
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "JPEGImages" / "tiled").mkdir(parents=True)
    (tmp / "Annotations" / "tiled").mkdir(parents=True)
    for i in range(n):
        os.link(frames[i % len(frames)], tmp / "JPEGImages" / "tiled" / f"{i:05d}.jpg")
    shutil.copy(data / "Annotations" / src / "00000.png", tmp / "Annotations" / "tiled" / "00000.png")
    meta = {**meta, "length": 1}
    (tmp / "meta.json").write_bytes(dump_meta_json({"videos": {"tiled": meta}}))
    os.replace(tmp, root)
    return root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", type=int, default=60, help="frames of the short video")
    ap.add_argument("--long", type=int, default=1500, help="frames of the long video")
    ap.add_argument("--size", default="720x1280", help="HxW")
    ap.add_argument("--tiled", type=int, default=7825,
                    help="also measure a video of this many frames tiled from the long one's JPEGs (0: skip)")
    ap.add_argument("--work-ms", type=float, default=15.0, help="simulated model time per frame")
    ap.add_argument("--data", type=Path, default=None, help="dataset cache folder (default: in the temp dir)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench")
    args = ap.parse_args()
    h, w = (int(x) for x in args.size.split("x"))

    from harness.data import open_dataset
    from harness.data.synth import generate

    data = args.data or Path(tempfile.gettempdir()) / f"mosebench-bench-reader-{h}x{w}-{args.short}-{args.long}"
    t0 = time.perf_counter()
    generate(data, videos=1, frames=args.short, size=(h, w), seed=0, long_frames=args.long)
    gen_s = time.perf_counter() - t0
    ds = open_dataset(data)
    short, long = ds.video("synth000"), ds.video("synthlong")

    n = min(len(short), args.short)
    fps = {}
    for backend in ("cv2", "pil", "cv2", "pil"):  # interleaved, best of two: the machine is shared
        fps[backend] = max(fps.get(backend, 0.0), stream_fps(short.frames, backend, n))
    default = short.frames.backend = "cv2"
    work = {"prefetch": with_work(short.frames, n, args.work_ms, True),
            "no_prefetch": with_work(short.frames, n, args.work_ms, False)}

    mem = {"short": rss(data, short.name), "long": rss(data, long.name)}
    if args.tiled:
        mem[f"tiled {args.tiled}"] = rss(tile_video(data, long.name, args.tiled), "tiled")
    frame_bytes = h * w * 3
    for m in mem.values():
        m["whole_video_bytes"] = m["frames"] * frame_bytes
        m["growth_bytes"] = m["peak_rss"] - m["baseline_rss"]
    result = {
        "size": [h, w], "short_frames": len(short), "long_frames": len(long), "generate_s": round(gen_s, 2),
        "stream_fps": {k: round(v, 1) for k, v in fps.items()}, "default_backend": default,
        "cv2_over_pil": round(fps["cv2"] / fps["pil"], 2),
        "with_model_work": {"work_ms": args.work_ms, **{k: round(v, 1) for k, v in work.items()}},
        "rss": mem, "peak_rss_longest_minus_short_mib": round(
            (max(m["peak_rss"] for m in mem.values()) - mem["short"]["peak_rss"]) / 2**20, 1),
        "host": platform.node(), "python": platform.python_version(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reader.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    mib = 2**20
    md = [
        f"# Reader benchmark ({w}x{h} JPEG frames, synthetic)", "",
        "| measure | value |", "|---|---|",
        f"| stream, cv2 decoder | {fps['cv2']:.1f} frames/s |",
        f"| stream, Pillow decoder | {fps['pil']:.1f} frames/s |",
        f"| cv2 / Pillow | {result['cv2_over_pil']:.2f}x |",
        f"| {args.work_ms:.0f} ms model work per frame, prefetch thread | {work['prefetch']:.1f} frames/s |",
        f"| {args.work_ms:.0f} ms model work per frame, no prefetch | {work['no_prefetch']:.1f} frames/s |", "",
        "| video | frames | peak RSS | RSS growth while streaming | whole video decoded |", "|---|---|---|---|---|",
    ]
    for name, m in mem.items():
        md.append(f"| {name} | {m['frames']} | {m['peak_rss'] / mib:.0f} MiB | {m['growth_bytes'] / mib:.0f} MiB "
                  f"| {m['whole_video_bytes'] / mib:.0f} MiB |")
    md += ["", f"Largest peak RSS minus the short video's: {result['peak_rss_longest_minus_short_mib']} MiB "
           "(flat: memory is bounded by the prefetch queue, not the video length).",
           "", f"Synthetic videos; the tiled video reuses the long video's JPEG files cyclically. Generation "
           f"took {gen_s:.0f} s (0 when cached). Host shared with other jobs: compare ratios within one run.", ""]
    (args.out / "reader.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())

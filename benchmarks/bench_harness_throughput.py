"""Harness throughput: the whole predict loop with the `static` method on 720p synthetic video.

    .venv/bin/python benchmarks/bench_harness_throughput.py [--videos 2] [--frames 150] [--repeats 2]

`static` copies each object's prompted mask forward (near-zero model time), so frames/s of the loop
is what the harness itself costs per frame: the setting's driving, merging masks into a label map,
handing it to the background PNG writer (atomic palette PNG, compress_level=1), per-frame timing
records, and the final flush. The run goes through the real runner (`mosebench run` machinery,
`cluster=inline`, scoring and MLflow off) on a cached synthetic 720p set.

Variants: `static (1 writer)` (one background PNG writer instead of two), `static-decode` (also
decodes every JPEG through the prefetching reader, as any real model does), `static-25fps` (a 40 ms
wait per frame inside the model's timed work: a 25-FPS model that leaves the CPU to the I/O threads,
as one waiting on a GPU does; its per-frame overhead on the model's thread is the speed such a model
loses to the harness).

Target: >= 150 frames/s with `static` on the 2-core dev machine, so that a 25-FPS model loses < 3%
of its speed to the harness. The dev machine is shared: the table records the load average and the
process niceness, and CPU ms/frame (less sensitive to load than wall-clock figures).

Writes results/bench/harness_throughput.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_FPS = 150.0


def _register_decode_variant() -> str:
    from adapters.static_baseline import StaticBaseline, StaticSession
    from harness import registry

    class _DecodingSession(StaticSession):
        def propagate(self):
            frames = self.video.stream()
            for fr in super().propagate():
                _, img = next(frames)  # the frame a real model would consume (prefetched)
                assert img.shape[2] == 3
                yield fr

    class StaticDecode(StaticBaseline):
        name = "static-decode"

        def open_session(self, video, max_objects: int = 20):
            return _DecodingSession(self, video)

    if "static-decode" not in registry.names():
        registry.register("static-decode", StaticDecode)
    return "static-decode"


def _register_gpu_like_variant(ms: float = 40.0) -> str:
    """`static` plus a 40 ms sleep per frame inside its timed work: a 25-FPS model that, like one
    waiting on a GPU, leaves the CPU to the harness's I/O threads meanwhile."""
    from adapters.static_baseline import StaticBaseline, StaticSession
    from harness import registry
    from harness.api import FrameResult

    class _Session(StaticSession):
        def propagate(self):
            for fr in super().propagate():
                t0 = time.perf_counter()
                time.sleep(ms / 1000)
                yield FrameResult(frame=fr.frame, masks=fr.masks, model_time_s=fr.model_time_s + time.perf_counter() - t0)

    class Static25(StaticBaseline):
        name = "static-25fps"

        def open_session(self, video, max_objects: int = 20):
            return _Session(self, video)

    if "static-25fps" not in registry.names():
        registry.register("static-25fps", Static25)
    return "static-25fps"


def run_variant(method: str, data: Path, out: Path, repeats: int, writers: int = 2, max_videos: int = 0) -> dict:
    from harness.config import load_experiment
    from harness.runner.driver import run_experiment
    from harness.runner.rundir import RunDir

    best = None
    for r in range(repeats):
        results = out / f"{method}-{writers}-{r}"
        shutil.rmtree(results, ignore_errors=True)
        cfg = load_experiment("smoke", [f"method={method}", f"results={results}", f"dataset.root={data}",
                                        "cluster=inline", "progress=false", "mlflow.enabled=false",
                                        f"writer_threads={writers}", f"dataset.max_videos={max_videos}"])
        t0, c0 = time.perf_counter(), os.times()
        outcome = run_experiment(cfg, quiet=True, score=False)
        wall, c1 = time.perf_counter() - t0, os.times()
        cpu = (c1.user - c0.user) + (c1.system - c0.system)
        cell = RunDir(outcome.run_dir).cell(outcome.cells[0])
        recs = [json.loads(p.read_text()) for p in sorted(cell.records.glob("*.json"))]
        frames = sum(r["frames"] for r in recs)
        loop = sum(r["loop_s"] for r in recs)
        flushed = sum(r["wall_s"] for r in recs)
        model = sum(r["model_s"] for r in recs)
        io_ms = 1000 * sum(sum(r["io_time_s"]) for r in recs) / frames
        res = {"method": method + ("" if writers == 2 else f" ({writers} writer)"), "writers": writers, "videos": len(recs), "frames": frames, "height": recs[0]["height"],
               "width": recs[0]["width"], "loop_s": loop, "loop_and_flush_s": flushed, "model_s": model,
               "run_wall_s": wall, "fps_loop": frames / loop, "fps_with_flush": frames / flushed,
               "fps_run_wall": frames / wall, "cpu_ms_per_frame": 1000 * cpu / frames,
               "main_thread_overhead_ms": io_ms, "loss_at_25fps_overlapped": io_ms / (io_ms + 40.0),
               "load_avg_1min": os.getloadavg()[0],
               "peak_host_rss_mib": max(r["peak_host_rss_bytes"] for r in recs) / 2**20}
        if best is None or res["fps_with_flush"] > best["fps_with_flush"]:
            best = res
        shutil.rmtree(results, ignore_errors=True)
    assert best is not None
    harness_s = 1.0 / best["fps_with_flush"]
    best["overhead_at_25fps"] = harness_s / (harness_s + 1 / 25.0)
    return best


def merge_ab(data: Path, n: int = 40) -> dict:
    """A/B in one process: ``masks_to_labels`` (row-cropped) vs a naive whole-frame merge."""
    import numpy as np

    from harness.data import open_dataset
    from harness.data.masks import masks_to_labels

    video = open_dataset(data).video(open_dataset(data).videos[0])
    gt = video.gt(video.annotated[len(video.annotated) // 2])
    masks = {int(o): gt == o for o in np.unique(gt) if o}
    def naive(masks, shape):
        out = np.zeros(shape, np.uint8)
        for o in sorted(masks):
            out[masks[o]] = o
        return out

    assert (naive(masks, gt.shape) == masks_to_labels(masks, gt.shape)).all()
    out = {"objects": len(masks)}
    for name, fn in (("masks_to_labels_ms", masks_to_labels), ("naive_merge_ms", naive)):
        t0 = time.perf_counter()
        for _ in range(n):
            fn(masks, gt.shape)
        out[name] = 1000 * (time.perf_counter() - t0) / n
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=2)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "results" / "bench"))
    ap.add_argument("--suffix", default="", help="write harness_throughput<SUFFIX>.json/.md")
    args = ap.parse_args()
    out = Path(args.out)
    data = ROOT / "results" / "data" / f"bench-synth720-{args.videos}x{args.frames}"  # cached, git-ignored
    if not data.exists():
        from harness.data.synth import generate

        print(f"generating {args.videos} x {args.frames} frames at 720p in {data} ...", flush=True)
        tmp = data.with_name(data.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        generate(tmp, videos=args.videos, frames=args.frames, size=(720, 1280), seed=0)
        tmp.rename(data)
    work = out / "harness_throughput_runs"
    results = [run_variant("static", data, work, args.repeats),
               run_variant("static", data, work, args.repeats, writers=1),
               run_variant(_register_decode_variant(), data, work, args.repeats),
               run_variant(_register_gpu_like_variant(), data, work, 1, max_videos=1)]
    merge = merge_ab(data)
    shutil.rmtree(work, ignore_errors=True)
    main_fps = results[0]["fps_with_flush"]
    doc = {"benchmark": "harness_throughput", "target_fps": TARGET_FPS, "meets_target": main_fps >= TARGET_FPS,
           "fps": main_fps, "variants": results, "label_merge_ms": merge, "niceness": os.nice(0),
           "machine": {"platform": platform.platform(),
                                                             "python": platform.python_version(),
                                                             "cpus": os.cpu_count()}}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"harness_throughput{args.suffix}.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = ["# Harness throughput (whole predict loop, 720p, cluster=inline)", "",
             f"Target: >= {TARGET_FPS:.0f} frames/s with `static`. Result: **{main_fps:.0f} frames/s** "
             f"({'meets' if doc['meets_target'] else 'BELOW'} target).", "",
             "| variant | videos | frames | loop fps | fps incl. PNG flush | fps whole run | CPU ms/frame (all threads) "
             "| model-thread overhead ms/frame | 25-FPS model loses (I/O overlapped) | serial share at 25 FPS "
             "| peak RSS MiB | load avg |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['method']} | {r['videos']} | {r['frames']} | {r['fps_loop']:.0f} | "
                     f"{r['fps_with_flush']:.0f} | {r['fps_run_wall']:.0f} | {r['cpu_ms_per_frame']:.1f} | "
                     f"{r['main_thread_overhead_ms']:.2f} | {100 * r['loss_at_25fps_overlapped']:.1f}% | "
                     f"{'-' if r['method'] == 'static-25fps' else format(100 * r['overhead_at_25fps'], '.1f') + '%'} | "
                     f"{r['peak_host_rss_mib']:.0f} | {r['load_avg_1min']:.1f} |")
    lines += ["", f"Label-map merge per 720p frame ({merge['objects']} objects, same process): "
              f"`masks_to_labels` {merge['masks_to_labels_ms']:.2f} ms, naive whole-frame merge "
              f"{merge['naive_merge_ms']:.2f} ms.", f"Process niceness: {doc['niceness']} (the dev machine is shared; "
              "a negative value means the figures were taken with raised priority).",
              "", "`loop fps`: frames / time inside the setting's loop; `incl. PNG flush`: until every PNG is on "
              "disk and the record written; `whole run`: including planning, dataset open and method load.",
              "`static+decode` (static-decode) also decodes every JPEG through the prefetching reader.",
              "`static-25fps`: static plus a 40 ms per-frame wait inside the model's timed work (a 25-FPS model "
              "whose compute, like a GPU's, leaves the CPU to the I/O threads): its model-thread overhead is the "
              "speed such a model loses to the harness.",
              "`model-thread overhead`: per-frame time between the method's frames outside its own work "
              "(label merge, queueing, waiting for a prefetched frame or a full writer queue) - what a model "
              "whose compute overlaps the I/O threads loses; `serial share`: the pessimistic bound if none "
              "of the harness overlapped (1/fps-with-flush against 40 ms).",
              "`load avg`: the machine's 1-minute load average when the variant finished (the dev machine is "
              "shared; wall-clock figures drop when it is above the core count, CPU ms/frame does not).", ""]
    (out / f"harness_throughput{args.suffix}.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

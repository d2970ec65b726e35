"""SAM2 on long videos: peak host memory vs video length, adapter vs upstream init_state.

Each measurement runs in its own subprocess (peak RSS is per process) on CPU with seeded random
SAM2.1-tiny weights at a small model input, one object, a synthetic JPEG video (a textured disk
circling on a textured background) that the adapter streams and upstream loads whole:

* ``adapter``: mosebench's SAM2 adapter (lazy frames + memory pruning);
* ``adapter-noprune``: the same with ``prune_memory: false`` (lazy frames only);
* ``upstream``: the official predictor as tools/vos_inference.py drives it
  (``init_state`` on a JPEG folder, ``propagate_in_video``).

Also checks that masks are identical with and without pruning (and identical to upstream) on the
shorter video. Writes results/bench/sam2_memory.json and .md.

    .venv/bin/python benchmarks/bench_sam2_memory.py [--lengths 100 2000] [--image-size 128]

``--variant rcms-b+`` (any SAM2-family method name) measures a variant instead: ``adapter`` and
``adapter-noprune`` only (upstream is plain SAM2), with the decoder script of
``tests/_sam2_script.py`` keeping the variant's mechanism alive on random weights
(:func:`variant_script`), and a timing run reporting the variant's per-frame time over plain
``sam2`` of the same size in the same process. Writes results/bench/sam2_memory_<variant>.json/.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "bench"
H, W = 96, 128


class DrawnVideo:
    """A FrameSource whose frames are computed on demand (the benchmark itself holds no video)."""

    def __init__(self, n: int, seed: int = 0) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        self.name, self.height, self.width = f"circle{n}", H, W
        self.frame_names = tuple(f"{i:05d}" for i in range(n))
        self._n = n
        self._bg = np.kron(rng.integers(0, 110, (H // 4, W // 4, 3)), np.ones((4, 4, 1))).astype(np.uint8)
        self._fg = np.kron(rng.integers(150, 255, (H // 2, W // 2, 3)), np.ones((2, 2, 1))).astype(np.uint8)
        self._yy, self._xx = np.mgrid[0:H, 0:W]

    def __len__(self) -> int:
        return self._n

    def mask(self, i: int):
        import numpy as np

        a = 2 * np.pi * i / 60
        cy, cx = H / 2 + 25 * np.sin(a), W / 2 + 35 * np.cos(a)
        return (self._yy - cy) ** 2 + (self._xx - cx) ** 2 <= 14 ** 2

    def frame(self, i: int):
        img = self._bg.copy()
        m = self.mask(i)
        img[m] = self._fg[m]
        return img

    def stream(self, start=0, stop=None, reverse=False):
        stop = self._n if stop is None else stop
        order = range(stop - 1, start - 1, -1) if reverse else range(start, stop)
        for i in order:
            yield i, self.frame(i)


class JpegDirVideo:
    """A FrameSource decoding ``folder/*.jpg`` with PIL on demand (what upstream reads, decoded alike)."""

    def __init__(self, folder: str, n: int) -> None:
        self.name, self.height, self.width, self._dir, self._n = Path(folder).name, H, W, Path(folder), n
        self.frame_names = tuple(f"{i:05d}" for i in range(n))

    def __len__(self) -> int:
        return self._n

    def frame(self, i: int):
        import numpy as np
        from PIL import Image

        return np.array(Image.open(self._dir / f"{i:05d}.jpg").convert("RGB"))

    def stream(self, start=0, stop=None, reverse=False):
        stop = self._n if stop is None else stop
        order = range(stop - 1, start - 1, -1) if reverse else range(start, stop)
        for i in order:
            yield i, self.frame(i)


def _digest(h, masks) -> None:
    for m in masks:
        h.update(m.tobytes())


def variant_script(n: int, variant: str = "") -> dict:
    """Per-frame decoder offsets for a variant run of ``n`` frames: the object is present and
    confident, every 50th frame has a high predicted IoU and the rest a low one, and it vanishes
    for the last 10 frames (RCMS then promotes qualifying frames far behind SAM2's window).
    DAM4SAM: a confident square with a distractor on an alternative candidate (a DRM addition
    every 6 frames while present), gone for 40 of every 100 frames (RAM walks back past them).
    SAM2Long: its golden's script (certain, uncertain, absent and low-IoU stretches) every 27 frames:
    the pathways keep diverging and memory skips frames."""
    sys.path.insert(0, str(ROOT / "tests"))
    from _sam2_script import Offsets, _dam4sam_frame

    if variant.startswith("sam2long"):  # its golden's script, repeated every 27 frames
        from _sam2_script import _sam2long_offsets

        return {t: _sam2long_offsets(1 + (t - 1) % 27) for t in range(1, n)}
    if variant.startswith("dam4sam"):
        return {t: (Offsets(score=-12.0, mask=-20.0) if t % 100 >= 60 else _dam4sam_frame(t % 20))
                for t in range(1, n)}

    return {t: (Offsets(score=-12.0) if t >= n - 10 else
                Offsets(score=6.0, mask=6.0, iou=2.0 if t % 50 == 0 else -5.0)) for t in range(1, n)}


def _variant(name: str, image_size: int, prune: bool):
    from harness import registry

    return registry.create(name, {"random_init": True, "seed": 0, "image_size": image_size, "prune_memory": prune})


def child(mode: str, n: int, image_size: int, jpeg_dir: str | None, variant: str = "sam2-t") -> dict:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from harness.runner.memory import PeakRSS, current_rss_bytes

    video = DrawnVideo(n)  # geometry of the object (its first mask)
    frames = JpegDirVideo(jpeg_dir, n)
    digest = hashlib.sha256()
    from adapters.sam2_vos import SAM2Config, SAM2Tiny, build_predictor
    from harness.api import MaskPrompt

    cfg = SAM2Config(size="t", random_init=True, seed=0, image_size=image_size, prune_memory=mode != "adapter-noprune")
    times: list[float] = []
    if mode.startswith("adapter"):
        if variant == "sam2-t":
            method = SAM2Tiny(cfg, "cpu")
        else:
            from _sam2_script import DecoderScript

            method = _variant(variant, image_size, mode == "adapter")
            DecoderScript(variant_script(n, variant), record=False).install(method.predictor)
        rss0 = current_rss_bytes()
        t0 = time.perf_counter()
        with PeakRSS() as peak, method.open_session(frames) as s:
            s.add_prompt(MaskPrompt(0, 1, video.mask(0)))
            for r in s.propagate():
                _digest(digest, [r.masks[1]])
                times.append(r.model_time_s)
            kept = sum(len(o["non_cond_frame_outputs"]) for o in s.state["output_dict_per_obj"].values())
            cond_kept = sum(len(o["cond_frame_outputs"]) for o in s.state["output_dict_per_obj"].values())
    else:
        predictor = build_predictor(cfg, "cpu")
        rss0 = current_rss_bytes()
        t0 = time.perf_counter()
        with PeakRSS() as peak, torch.inference_mode():
            state = predictor.init_state(video_path=jpeg_dir)
            predictor.add_new_mask(state, 0, 1, video.mask(0))
            last = time.perf_counter()
            for _, _, logits in predictor.propagate_in_video(state):
                _digest(digest, [(logits[0, 0] > 0).cpu().numpy()])
                now = time.perf_counter()
                times.append(now - last)
                last = now
            kept = sum(len(o["non_cond_frame_outputs"]) for o in state["output_dict_per_obj"].values())
            cond_kept = sum(len(o["cond_frame_outputs"]) for o in state["output_dict_per_obj"].values())
    wall = time.perf_counter() - t0
    return {"mode": mode, "frames": n, "image_size": image_size, "rss_after_build_mb": rss0 / 2**20,
            "peak_rss_mb": peak.peak_bytes / 2**20, "peak_increase_mb": (peak.peak_bytes - rss0) / 2**20,
            "ms_per_frame": 1000 * float(np.mean(times[1:])), "wall_s": wall,
            "memory_entries_kept": kept, "cond_memories_kept": cond_kept, "mask_sha256": digest.hexdigest()}


def variant_timing_child(variant: str, n: int, image_size: int, jpeg_dir: str, repeats: int = 3) -> dict:
    """Per-frame time of ``variant`` over plain sam2 of the same size, same process, interleaved,
    both under the same decoder script."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from _sam2_script import DecoderScript

    from harness.api import MaskPrompt

    video, frames = DrawnVideo(n), JpegDirVideo(jpeg_dir, n)
    size = variant.rpartition("-")[2] if "-" in variant else "b+"
    methods = {"variant": _variant(variant, image_size, True), "sam2": _variant(f"sam2-{size}", image_size, True)}
    for m in methods.values():
        DecoderScript(variant_script(n, variant), record=False).install(m.predictor)
    times: dict[str, list[float]] = {k: [] for k in methods}
    for _ in range(repeats):
        for key, method in methods.items():
            t0 = time.perf_counter()
            with method.open_session(frames) as s:
                s.add_prompt(MaskPrompt(0, 1, video.mask(0)))
                for _r in s.propagate():
                    pass
            times[key].append((time.perf_counter() - t0) / n)
    v, b = float(np.median(times["variant"])), float(np.median(times["sam2"]))
    return {"frames": n, "repeats": repeats, "variant_ms_per_frame": 1000 * v, "sam2_ms_per_frame": 1000 * b,
            "variant_over_sam2": v / b, "note": "end-to-end per frame, median of interleaved runs"}


def timing_child(n: int, image_size: int, jpeg_dir: str, repeats: int = 3) -> dict:
    """Per-frame time of the adapter vs upstream, same process and weights, runs interleaved
    (the machine's load drifts; alternating runs keep the ratio honest)."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from adapters.sam2_vos import SAM2Config, SAM2Tiny
    from harness.api import MaskPrompt

    video, frames = DrawnVideo(n), JpegDirVideo(jpeg_dir, n)
    method = SAM2Tiny(SAM2Config(size="t", random_init=True, seed=0, image_size=image_size), "cpu")
    p = method.predictor
    ours, theirs = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with method.open_session(frames) as s:
            s.add_prompt(MaskPrompt(0, 1, video.mask(0)))
            for _r in s.propagate():
                pass
        ours.append((time.perf_counter() - t0) / n)
        t0 = time.perf_counter()
        with torch.inference_mode():
            state = p.init_state(video_path=jpeg_dir)
            p.add_new_mask(state, 0, 1, video.mask(0))
            for _r in p.propagate_in_video(state):
                pass
        theirs.append((time.perf_counter() - t0) / n)
    return {"frames": n, "repeats": repeats, "adapter_ms_per_frame": 1000 * float(np.median(ours)),
            "upstream_ms_per_frame": 1000 * float(np.median(theirs)),
            "adapter_over_upstream": float(np.median(ours) / np.median(theirs)),
            "note": "end-to-end per frame incl. JPEG decoding (both), median of interleaved runs"}


def write_jpegs(n: int, folder: Path) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    video = DrawnVideo(n)
    for i in range(n):
        p = folder / f"{i:05d}.jpg"
        if not p.exists():
            Image.fromarray(video.frame(i)).save(p, quality=95)


def run_child(mode: str, n: int, image_size: int, jpeg_dir: Path | None, variant: str = "sam2-t") -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(n), "--image-size", str(image_size), "--variant", variant]
    if jpeg_dir is not None:
        cmd += ["--jpeg-dir", str(jpeg_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"}
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{mode} {n} failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    if mode == "variant-timing":
        print(f"timing {n} frames: {variant} {res['variant_ms_per_frame']:.1f} ms/frame, sam2 "
              f"{res['sam2_ms_per_frame']:.1f} ms/frame (x{res['variant_over_sam2']:.2f})", flush=True)
        return res
    if mode == "timing":
        print(f"timing {n} frames: adapter {res['adapter_ms_per_frame']:.1f} ms/frame, upstream "
              f"{res['upstream_ms_per_frame']:.1f} ms/frame (x{res['adapter_over_upstream']:.2f})", flush=True)
        return res
    print(f"{mode:>16} {n:>5} frames: peak RSS {res['peak_rss_mb']:.0f} MB (+{res['peak_increase_mb']:.0f} MB), "
          f"{res['ms_per_frame']:.1f} ms/frame", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", type=int, nargs=2, default=(100, 2000))
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--child", nargs=2, metavar=("MODE", "N"))
    ap.add_argument("--jpeg-dir")
    ap.add_argument("--variant", default="sam2-t", help="a SAM2-family method name, e.g. rcms-b+")
    ap.add_argument("--report-only", action="store_true", help="rewrite the .md from the existing .json")
    ap.add_argument("--timing-only", action="store_true", help="redo only the interleaved timing run")
    args = ap.parse_args()
    if args.timing_only:  # rerun only the interleaved timing, keep the memory runs
        import tempfile

        data = json.loads((OUT / "sam2_memory.json").read_text())
        lengths = sorted({r["frames"] for r in data["runs"]})
        with tempfile.TemporaryDirectory() as tmp:
            write_jpegs(lengths[0], Path(tmp) / "v")
            timing = run_child("timing", lengths[0], data["image_size"], Path(tmp) / "v")
        write_report(data["runs"], data["image_size"], lengths[0], lengths[-1], timing)
        return
    if args.report_only:
        data = json.loads((OUT / "sam2_memory.json").read_text())
        lengths = sorted({r["frames"] for r in data["runs"]})
        write_report(data["runs"], data["image_size"], lengths[0], lengths[-1], data.get("timing"))
        return
    if args.child and args.child[0] == "variant-timing":
        print(json.dumps(variant_timing_child(args.variant, int(args.child[1]), args.image_size, args.jpeg_dir)))
        return
    if args.child and args.child[0] == "timing":
        print(json.dumps(timing_child(int(args.child[1]), args.image_size, args.jpeg_dir)))
        return
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.image_size, args.jpeg_dir, args.variant)))
        return
    import tempfile

    short, long = args.lengths
    if args.variant != "sam2-t":
        return variant_main(args.variant, short, long, args.image_size)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jpegs = {n: Path(tmp) / f"v{n}" for n in (short, long)}
        for n, d in jpegs.items():
            write_jpegs(n, d)
        for n in (short, long):
            for mode in ("adapter", "adapter-noprune", "upstream"):
                rows.append(run_child(mode, n, args.image_size, jpegs[n]))
        timing = run_child("timing", short, args.image_size, jpegs[short])
    write_report(rows, args.image_size, short, long, timing)

def variant_main(variant: str, short: int, long: int, image_size: int) -> None:
    """Peak RSS of the variant at two lengths with and without pruning, mask equality, time ratio."""
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jpegs = {n: Path(tmp) / f"v{n}" for n in (short, long)}
        for n, d in jpegs.items():
            write_jpegs(n, d)
        for n in (short, long):
            for mode in ("adapter", "adapter-noprune"):
                rows.append(run_child(mode, n, image_size, jpegs[n], variant))
        timing = run_child("variant-timing", short, image_size, jpegs[short], variant)
    by = {(r["mode"], r["frames"]): r for r in rows}
    a_s, a_l = by[("adapter", short)], by[("adapter", long)]
    summary = {
        "variant": variant, "image_size": image_size, "frame_size": [H, W], "device": "cpu", "threads": 1,
        "weights": "seeded random init (seed 0) + the decoder script of variant_script()",
        "adapter_long_over_short_peak": a_l["peak_rss_mb"] / a_s["peak_rss_mb"],
        "flat_within_10_percent": a_l["peak_rss_mb"] <= 1.10 * a_s["peak_rss_mb"],
        "masks_equal_prune_vs_noprune": all(
            by[("adapter", n)]["mask_sha256"] == by[("adapter-noprune", n)]["mask_sha256"] for n in (short, long)),
        "runs": rows, "timing": timing,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    stem = f"sam2_memory_{variant.replace('+', 'p')}"
    (OUT / f"{stem}.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [f"# {variant} memory vs video length", "",
             f"CPU, 1 thread, seeded random weights + decoder script, model input {image_size}px, {H}x{W} frames, "
             "one object.", "",
             "| run | frames | peak RSS (MB) | peak - RSS after model build (MB) | non-cond memories kept "
             "| cond memories kept |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['mode']} | {r['frames']} | {r['peak_rss_mb']:.0f} | {r['peak_increase_mb']:.0f} | "
              f"{r['memory_entries_kept']} | {r.get('cond_memories_kept', '')} |" for r in rows]
    lines += ["", f"- peak RSS {long} / {short} frames (pruning on): x{summary['adapter_long_over_short_peak']:.3f} "
              f"(flat within 10%: {summary['flat_within_10_percent']}); masks identical with and without pruning: "
              f"{summary['masks_equal_prune_vs_noprune']}.",
              f"- per-frame time {variant} / sam2 of the same size: x{timing['variant_over_sam2']:.2f} "
              f"({timing['variant_ms_per_frame']:.1f} vs {timing['sam2_ms_per_frame']:.1f} ms/frame, "
              f"median of {timing['repeats']} interleaved runs).", ""]
    (OUT / f"{stem}.md").write_text("\n".join(lines))
    print("\n".join(lines))


def write_report(rows: list[dict], image_size: int, short: int, long: int, timing: dict | None) -> None:
    by = {(r["mode"], r["frames"]): r for r in rows}
    a_s, a_l = by[("adapter", short)], by[("adapter", long)]
    u_s, u_l = by[("upstream", short)], by[("upstream", long)]
    summary = {
        "image_size": image_size, "frame_size": [H, W], "device": "cpu", "threads": 1,
        "weights": "sam2.1 hiera-t, seeded random init (seed 0)",
        "adapter_peak_growth_mb": a_l["peak_rss_mb"] - a_s["peak_rss_mb"],
        "upstream_peak_growth_mb": u_l["peak_rss_mb"] - u_s["peak_rss_mb"],
        "adapter_long_over_short_peak": a_l["peak_rss_mb"] / a_s["peak_rss_mb"],
        "upstream_long_over_short_peak": u_l["peak_rss_mb"] / u_s["peak_rss_mb"],
        "masks_equal_prune_vs_noprune": all(
            by[("adapter", n)]["mask_sha256"] == by[("adapter-noprune", n)]["mask_sha256"] for n in (short, long)),
        "masks_equal_adapter_vs_upstream": all(
            by[("adapter", n)]["mask_sha256"] == by[("upstream", n)]["mask_sha256"] for n in (short, long)),
        "runs": rows,
        "timing": timing,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sam2_memory.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [
        "# SAM2 memory vs video length",
        "",
        f"CPU, 1 thread, SAM2.1 hiera-t (seeded random weights), model input {image_size}px, "
        f"{H}x{W} frames, one object. Peak RSS of a fresh process per run (model included).",
        "",
        "| run | frames | peak RSS (MB) | peak - RSS after model build (MB) | ms/frame | non-cond memories kept |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['frames']} | {r['peak_rss_mb']:.0f} | {r['peak_increase_mb']:.0f} | "
                     f"{r['ms_per_frame']:.1f} | {r['memory_entries_kept']} |")
    lines += [
        "",
        f"- adapter: peak grows by {summary['adapter_peak_growth_mb']:.0f} MB from {short} to {long} frames "
        f"(x{summary['adapter_long_over_short_peak']:.2f}); upstream init_state + propagate: "
        f"{summary['upstream_peak_growth_mb']:.0f} MB (x{summary['upstream_long_over_short_peak']:.2f}).",
        f"- masks identical with and without pruning: {summary['masks_equal_prune_vs_noprune']}; "
        f"identical to upstream: {summary['masks_equal_adapter_vs_upstream']}.",
        (f"- Per-frame time, adapter / upstream = {timing['adapter_over_upstream']:.2f} "
         f"({timing['adapter_ms_per_frame']:.1f} vs {timing['upstream_ms_per_frame']:.1f} ms/frame, {timing['frames']} frames, "
         f"median of {timing['repeats']} interleaved runs in one process, frame decoding included). The ms/frame column "
         "above comes from separate processes on a shared, heavily loaded 2-core machine and is not comparable between rows."
         if timing else "- (no interleaved timing run)"),
        "- Why the no-prune run barely grows here: at a 64-128 px model input one frame's memory entry is a few KB. "
        "Per object and frame SAM2 keeps maskmem_features (64 x (S/16)^2 bf16) + pred_masks ((S/4)^2 fp32): "
        "768 KiB at the real S=1024, i.e. ~5.7 GiB per object for a 7,825-frame MOSEv2 video without pruning; "
        "the adapter keeps a fixed window of entries (last column), whatever the length. Upstream's init_state also "
        "holds every frame as a 3 x S x S fp32 tensor (12 MiB per frame at S=1024); the adapter holds frame_cache of them.",
        "",
    ]
    (OUT / "sam2_memory.md").write_text("\n".join(lines))
    print("\n".join(lines))



if __name__ == "__main__":
    main()

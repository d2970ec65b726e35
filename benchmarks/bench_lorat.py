"""LoRAT from a real checkout, out of process over TraX: s/frame on CPU, TraX overhead, memory, AUC.

For each variant (a method config: ``lorat-b`` = B-224, ``lorat-l`` = L-378), it writes seeded
random weights with the server's ``--write-random-weights`` (all parameters, sha256 recorded),
then runs the real CLI, ``mosebench run method=<config> setting=vot method.python=...
method.repo=... method.ckpt=...``, on a small ``mosebench synth`` set, and reads the records::

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_lorat.py \\
        --python /work/ext/lorat-env/bin/python --repo /work/ext/lorat-src [--methods lorat-b,lorat-l]

Writes ``results/bench/trackers_integration_lorat.{json,md}``. Random weights: AUC measures nothing
about LoRAT (boxes saturate to the full frame after 1-2 frames); it shows that boxes come back and
are scored. Speed: ``s_per_object_frame`` is the tracker's own reported time per tracked frame
(TurboJPEG decoding + model + post-processing, one object per process), averaged over frames after
the first tracked one (which also encodes the template); the synthetic videos have about 6 objects,
each in its own process, all alive at once (hence the host RSS).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "harness" / "trax_lorat_server.py"
VARIANT = {"lorat": "B-224", "lorat-b": "B-224", "lorat-l": "L-378"}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def random_weights(python: str, repo: str, variant: str, out: Path, seed: int) -> dict:
    t0 = time.perf_counter()
    subprocess.run([python, str(SERVER), "--repo", repo, "--variant", variant, "--seed", str(seed),
                    "--write-random-weights", str(out)], check=True, capture_output=True, text=True, timeout=900)
    return {"path": str(out), "seed": seed, "sha256": sha256(out), "bytes": out.stat().st_size,
            "write_s": round(time.perf_counter() - t0, 2)}


def keep_objects(data: Path, out: Path, n: int) -> Path:
    """A copy of the synthetic set ``data`` with only objects ``1..n`` of each video (the others'
    pixels become background): LoRAT starts one tracker process per object, all alive at once, and
    six L-378 processes do not fit a small machine's memory."""
    import shutil

    import numpy as np
    from PIL import Image

    shutil.copytree(data, out)
    meta = json.loads((out / "meta.json").read_text())
    for name, video in meta["videos"].items():
        video["objects"] = {k: v for k, v in video["objects"].items() if int(k) <= n}
        for png in sorted((out / "Annotations" / name).glob("*.png")):
            im = Image.open(png)
            a = np.array(im)
            a[a > n] = 0
            kept = Image.fromarray(a, mode="P")
            kept.putpalette(im.getpalette())
            kept.save(png)
    (out / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    return out


def steady_overhead(python: str, repo: str, variant: str, weights: Path, data: Path) -> dict:
    """The TraX overhead at steady state, driven directly (``harness.trax_client.TraxTracker``): the
    round trip minus the tracker's reported time, for the frames after the first tracked one (whose
    round trip also holds building the network: LoRAT builds it after answering the init request)."""
    from harness.boxes import box_of_mask
    from harness.data import open_dataset
    from harness.trax_client import TraxTracker

    ds = open_dataset(data)
    video = ds.video(ds.videos[0])
    oid = min(video.objects)
    box = tuple(float(v) for v in box_of_mask(video.gt(0) == oid))
    paths, shape = [str(p) for p in video.frames.paths], (video.height, video.width)
    argv = [python, str(SERVER), "--repo", repo, "--variant", variant, "--weights", str(weights), "--device", "cpu"]
    t0 = time.perf_counter()
    with TraxTracker(argv, cwd=repo, startup_timeout_s=600, frame_timeout_s=600) as tracker:
        handshake_s = time.perf_counter() - t0
        tracker.initialize(paths[0], box, shape)
        rows = []
        for p in paths[1:]:
            t = time.perf_counter()
            _, reported = tracker.frame(p, shape)
            rows.append((time.perf_counter() - t, reported))
    steady = [wall - rep for wall, rep in rows[1:]]
    return {"handshake_s": round(handshake_s, 2), "first_tracked_round_trip_s": round(rows[0][0], 3),
            "first_tracked_reported_s": round(rows[0][1], 3),
            "steady_overhead_s_per_frame": sum(steady) / len(steady), "steady_frames": len(steady)}


def run_method(method: str, python: str, repo: str, ckpt: Path, data: Path, results: Path) -> dict:
    """The real CLI on ``data``; returns the summary row and per-video figures from the records."""
    cmd = [sys.executable, "-m", "harness.cli", "run", "experiment=smoke", f"results={results}",
           f"dataset.root={data}", f"method={method}", "setting=vot", f"method.python={python}",
           f"method.repo={repo}", f"method.ckpt={ckpt}", f"name=bench-{method}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{method}: mosebench run exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    run_dir = Path(next(line.split(":", 1)[1].strip() for line in proc.stdout.splitlines()
                        if line.startswith("run directory:")))
    cell = next(p for p in run_dir.iterdir() if p.is_dir() and p.name.startswith(f"{method}--vot--"))
    summary = json.loads((cell / "summary.json").read_text())
    videos, per_frame = [], []
    for rec_path in sorted((cell / "records").glob("*.json")):
        rec = json.loads(rec_path.read_text())
        proc_rep = rec["tracker_process"]
        n_obj = len(rec["sessions"])
        # model_time_s[t] sums the objects' reported times of frame t; frames after the first tracked
        # one are steady state (the first also encodes the template)
        steady = [t / n_obj for t in rec["model_time_s"][2:]]
        per_frame += steady
        videos.append({"video": rec["video"], "objects": n_obj, "frames": rec["frames"],
                       "size": f"{rec['height']}x{rec['width']}", "status": rec["status"],
                       "model_time_source": proc_rep["model_time_source"],
                       "s_per_object_frame_steady": sum(steady) / len(steady) if steady else None,
                       "first_tracked_frame_s_per_object": rec["model_time_s"][1] / n_obj,
                       "trax_overhead_s_per_frame": proc_rep["trax_overhead_s_per_frame"],
                       "tracker_peak_rss_bytes": proc_rep["peak_rss_bytes"],
                       "host_peak_rss_bytes_all_processes": rec["peak_host_rss_bytes"],
                       "wall_s": rec["wall_s"]})
    return {"method": method, "wall_s": round(wall, 1), "run_dir": str(run_dir), "videos": videos,
            "s_per_object_frame": sum(per_frame) / len(per_frame) if per_frame else None,
            "metrics": summary["metrics"]}


def _gib(b) -> str:
    return f"{b / 2**30:.2f}" if b else "-"


def write_md(out: Path, result: dict) -> None:
    lines = ["# LoRAT from a real checkout over TraX (CPU, seeded random weights)", "",
             f"Checkout: {result['repo']} (commit {result['repo_commit']}); env: {result['python']}; "
             f"torch {result['torch']}; {result['machine']}; OMP_NUM_THREADS={result['omp_threads']}.",
             f"Data: `mosebench synth` {result['data']}. Command per method: `{result['command']}`.", "",
             "| method | variant | videos | objects | s / object-frame (tracker-reported) | first tracked frame s/object "
             "| TraX overhead s/frame, steady | round trip - reported, all frames (record) | start-up + handshake s "
             "| first round trip s (builds the net) | tracker peak RSS GiB | host peak RSS GiB (all trackers) "
             "| AUC | P | P_norm | run wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in result["methods"]:
        v = m["videos"]
        metrics = m["metrics"]
        over = [x["trax_overhead_s_per_frame"] for x in v if x["trax_overhead_s_per_frame"] is not None]
        first = [x["first_tracked_frame_s_per_object"] for x in v]
        lines.append(
            f"| {m['method']} | {VARIANT[m['method']]} | {len(v)} | {sum(x['objects'] for x in v)} "
            f"| {m['s_per_object_frame']:.2f} | {sum(first) / len(first):.2f} "
            f"| {m['direct']['steady_overhead_s_per_frame']:.4f} | {sum(over) / len(over):.3f} "
            f"| {m['direct']['handshake_s']:.1f} | {m['direct']['first_tracked_round_trip_s']:.1f} "
            f"| {_gib(max(x['tracker_peak_rss_bytes'] or 0 for x in v))} "
            f"| {_gib(max(x['host_peak_rss_bytes_all_processes'] or 0 for x in v))} "
            f"| {metrics.get('AUC', float('nan')):.1f} | {metrics.get('P', float('nan')):.1f} "
            f"| {metrics.get('P_norm', float('nan')):.1f} | {m['wall_s']:.0f} |")
    lines += ["", "Weights (seeded random, every parameter, written by `harness/trax_lorat_server.py "
              "--write-random-weights`):", ""]
    for m in result["methods"]:
        w = m["weights"]
        lines.append(f"- {m['method']}: seed {w['seed']}, sha256 `{w['sha256']}`, {w['bytes']} bytes")
    lines += ["", "Model time is what the tracker process reports per reply (`time`: TurboJPEG decoding, "
              "cropping, the model under the config's fp16 autocast, post-processing) for one object. The steady "
              "TraX overhead (round trip minus reported time, frames after the first tracked one) comes from driving "
              "the server directly over video 0; the record's figure averages all replies, including the first "
              "tracked frame, whose round trip also builds the network (LoRAT builds it after answering the init "
              "request). Random weights saturate to full-frame boxes after 1-2 frames, so AUC says only that boxes "
              "are returned and scored; the two variants' equal AUC is that saturation.", ""]
    out.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--python", default=os.environ.get("MOSEBENCH_LORAT_PYTHON"), help="the LoRAT env's interpreter")
    p.add_argument("--repo", default=os.environ.get("MOSEBENCH_LORAT_REPO"), help="the LoRAT checkout")
    p.add_argument("--methods", default="lorat-b", help="comma-separated method configs (lorat-b, lorat-l)")
    p.add_argument("--videos", type=int, default=2)
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--size", default="240x320")
    p.add_argument("--objects", type=int, default=0, help="keep objects 1..N of each video (0: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument("--out", default=str(REPO / "results" / "bench" / "trackers_integration_lorat"))
    args = p.parse_args(argv)
    if not args.python or not args.repo:
        raise SystemExit("give --python and --repo (or MOSEBENCH_LORAT_PYTHON / MOSEBENCH_LORAT_REPO)")
    sys.path.insert(0, str(REPO))
    from harness.data.synth import generate

    h, w = (int(v) for v in args.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-lorat-"))
    data = generate(tmp / "data", videos=args.videos, frames=args.frames, size=(h, w), seed=0)
    if args.objects:
        data = keep_objects(data, tmp / f"data-{args.objects}obj", args.objects)
    torch_version = subprocess.run([args.python, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                                   text=True, check=True).stdout.strip()
    commit = subprocess.run(["git", "-C", args.repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    marker = Path(args.repo) / ".source-commit"  # an exported tree (git archive): docs/trackers_lorat.md writes it
    if not commit and marker.is_file():
        commit = marker.read_text().strip()
    result = {"repo": args.repo, "repo_commit": commit or "(unknown: not a git checkout)",
              "python": args.python, "torch": torch_version, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "omp_threads": os.environ.get("OMP_NUM_THREADS", "(unset)"),
              "data": f"videos={args.videos} frames={args.frames} size={args.size} seed=0"
                      + (f", objects 1..{args.objects} kept" if args.objects else ""),
              "command": "mosebench run experiment=smoke method=<method> setting=vot method.python=... method.repo=... "
                         "method.ckpt=<random weights>",
              "methods": []}
    for method in args.methods.split(","):
        weights = random_weights(args.python, args.repo, VARIANT[method], tmp / f"{method}-seed{args.seed}.safetensors",
                                 args.seed)
        res = run_method(method, args.python, args.repo, Path(weights["path"]), data, tmp / "results")
        res["weights"] = weights
        res["direct"] = steady_overhead(args.python, args.repo, VARIANT[method], Path(weights["path"]), data)
        result["methods"].append(res)
        print(f"{method}: {res['s_per_object_frame']:.2f} s/object-frame, run {res['wall_s']:.0f} s", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    write_md(out.with_suffix(".md"), result)
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()

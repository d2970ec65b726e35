"""FPS and memory (TABLE 4's columns): the model timer, the definition of FPS end to end through the
runner with methods of known cost, SAM2's untimed-work paths, GPU columns on CPU, child-process RSS.

Definition under test: docs/metrics.md, "Speed and memory".
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _runner_common import smoke

from harness.api import FrameResult
from harness.runner.memory import current_rss_bytes, gpu_peaks, reset_gpu_peaks
from harness.timing import WARMUP_FRAMES, ModelTimer, ModelWork, WorkLog

PLUGIN = str(Path(__file__).resolve().parent / "_timing_plugins.py")
REPO = Path(__file__).resolve().parents[1]
MODEL_S, PROMPT_S, OTHER_S = 0.02, 0.01, 0.02


# --- the timer and the work account ------------------------------------------------------------

def test_model_timer_accumulates_pops_and_refuses_nesting():
    timer = ModelTimer("cpu")
    with timer:
        time.sleep(0.02)
    assert timer.call(sorted, [3, 1]) == [1, 3]
    first = timer.pop()
    assert 0.02 <= first < 0.5 and timer.pop() == 0.0
    with pytest.raises(StopIteration), timer:  # time spent in a call that raises still counts
        time.sleep(0.01)
        next(iter(()))
    assert timer.pop() >= 0.01 and timer.total == pytest.approx(first + 0.01, abs=0.2)
    with timer, pytest.raises(RuntimeError, match="nest"), timer:
        pass


def test_work_log_counts_only_processed_frames():
    log = WorkLog()
    for t in range(10):  # frames 0..3 are placeholders before the first prompt
        log.add(FrameResult(t, model_time_s=0.0 if t < 4 else 0.1, processed=t >= 4))
    log.add_other(0.5)
    work = log.result()
    assert work.frames == 6 and work.seconds == pytest.approx(1.1)
    assert work.warmup_frames == WARMUP_FRAMES and work.warmup_s == pytest.approx(0.5 + 0.1 * WARMUP_FRAMES)
    assert ModelWork((0.2, 0.2)).warmup_frames == 2


# --- FPS end to end: methods of known cost through the runner ----------------------------------

def _write_set(root: Path, videos: dict[str, tuple[int, int]]) -> Path:
    """A MOSE-layout set: ``name -> (frames, first frame of object 1)``, 32x48, every frame annotated."""
    from PIL import Image

    from harness.data.masks import write_label_png

    rng = np.random.default_rng(0)
    meta = {}
    for name, (n, start) in videos.items():
        (root / "JPEGImages" / name).mkdir(parents=True)
        (root / "Annotations" / name).mkdir(parents=True)
        for t in range(n):
            Image.fromarray(rng.integers(0, 255, (32, 48, 3), np.uint8)).save(root / "JPEGImages" / name / f"{t:05d}.jpg")
            lab = np.zeros((32, 48), np.uint8)
            if t >= start:
                lab[8:20, 10 + t % 5:26 + t % 5] = 1
            write_label_png(root / "Annotations" / name / f"{t:05d}.png", lab)
        meta[name] = {"length": n, "height": 32, "width": 48, "objects": {"1": {}}}
    (root / "meta.json").write_text(json.dumps({"videos": meta}))
    return root


def _expected(log: Path) -> dict[str, dict]:
    """Per video: processed frames, model seconds, warm-up seconds, from the method's own log."""
    out: dict[str, dict] = {}
    for line in log.read_text().splitlines():
        e = json.loads(line)
        v = out.setdefault(e["video"], {"frames": [], "prompt_s": 0.0})
        if e["kind"] == "frame":
            v["frames"].append(e["s"])
        else:
            v["prompt_s"] += e["s"]
    for v in out.values():
        v["n"] = len(v["frames"])
        v["s"] = sum(v["frames"]) + v["prompt_s"]
        v["warm_s"] = sum(v["frames"][:WARMUP_FRAMES]) + v["prompt_s"]
    return out


@pytest.fixture(scope="module")
def known_cost_run(tmp_path_factory):
    from harness.config import load_experiment
    from harness.runner.driver import run_experiment

    tmp = tmp_path_factory.mktemp("fps")
    data = _write_set(tmp / "data", {"late": (40, 20), "early": (12, 0)})
    log = tmp / "model.jsonl"
    cfg = load_experiment("smoke", smoke(tmp, data, "method=metered", f"plugins=[{PLUGIN}]", f"method.log={log}",
                                         f"method.model_s={MODEL_S}", f"method.prompt_s={PROMPT_S}",
                                         f"method.other_s={OTHER_S}")[1:])
    out = run_experiment(cfg, quiet=True)
    assert not out.failures and not out.incomplete, out
    summary = out.summaries[0]
    cell = Path(out.run_dir) / summary["cell"]
    records = {v: json.loads((cell / "records" / f"{v}.json").read_text()) for v in ("late", "early")}
    return summary, records, _expected(log)


def test_fps_is_processed_frames_over_model_time(known_cost_run):
    summary, records, exp = known_cost_run
    frames = sum(v["n"] for v in exp.values())
    seconds = sum(v["s"] for v in exp.values())
    assert frames == 20 + 12
    # the setting times add_prompt itself (a few microseconds more than the method's own sleep)
    assert summary["metrics"]["fps"] == pytest.approx(frames / seconds, rel=0.03)
    assert summary["metrics"]["fps"] <= frames / seconds * 1.0001
    # and loop-time FPS (decode-like work, PNG writing) is a different, lower number
    assert summary["metrics"]["harness_fps"] < 0.8 * summary["metrics"]["fps"]


def test_a_late_starting_object_does_not_inflate_fps(known_cost_run):
    _, records, exp = known_cost_run
    late = records["late"]
    assert late["frames"] == 40 and late["model_frames"] == 20
    assert late["model_s"] == pytest.approx(exp["late"]["s"], rel=0.03)
    fps = late["model_frames"] / late["model_s"]
    assert 0.6 / MODEL_S < fps <= 1.0 / MODEL_S  # counting all 40 frames would give ~2/MODEL_S
    assert late["model_time_s"][:20] == [0.0] * 20


def test_warmup_and_spread_across_videos(known_cost_run):
    summary, records, exp = known_cost_run
    m = summary["metrics"]
    after = sum(v["n"] - WARMUP_FRAMES for v in exp.values()) / sum(v["s"] - v["warm_s"] for v in exp.values())
    assert m["fps_after_warmup"] == pytest.approx(after, rel=0.03)
    per_video = sorted(v["n"] / v["s"] for v in exp.values())
    assert m["fps_video_median"] == pytest.approx(np.median(per_video), rel=0.03)
    assert m["fps_video_p10"] < m["fps_video_median"] < m["fps_video_p90"]
    assert m["fps_video_p10"] == pytest.approx(np.percentile(per_video, 10), rel=0.03)
    for v, rec in records.items():
        assert rec["warmup_frames"] == WARMUP_FRAMES
        assert rec["warmup_s"] == pytest.approx(exp[v]["warm_s"], rel=0.03)


def test_cpu_run_has_no_gpu_memory_columns(known_cost_run):
    from harness.report.table import results_table

    summary, records, _ = known_cost_run
    for rec in records.values():
        assert rec["peak_gpu_allocated_bytes"] is None and rec["peak_gpu_reserved_bytes"] is None
    assert not {"gpu_reserved_gib", "gpu_allocated_gib", "gpu_mem_gib"} & set(summary["metrics"])
    table = results_table([summary])
    assert "gpu" not in table and "fps" in table
    assert gpu_peaks("cpu") is None and gpu_peaks(None) is None
    reset_gpu_peaks("cpu")  # a no-op, not an error


def test_interactive_fps_counts_every_round(tmp_path, synth_data):
    from harness import registry, settings
    from harness.data import open_dataset
    from harness.runner.predict import predict_video
    from harness.runner.rundir import CellDir

    registry.load_plugin(PLUGIN)
    log = tmp_path / "model.jsonl"
    method = registry.create("metered", {"model_s": 0.005, "prompt_s": 0.005, "log": str(log)}, "cpu")
    setting = settings.get("interactive")(cfg=settings.get("interactive").Config(max_interactions=3))
    video = open_dataset(synth_data).video(open_dataset(synth_data).videos[0])
    rec = predict_video(method, setting, video, CellDir(tmp_path / "cell"))
    rounds = rec["details"]["rounds"]
    assert len(rounds) >= 2
    exp = _expected(log)[video.name]
    # every round's frames and time, not only the final (emitted) round's
    assert rec["model_frames"] == exp["n"] > len(video)
    assert rec["model_s"] == pytest.approx(exp["s"], rel=0.05)
    assert rec["model_s"] > 1.5 * sum(rec["model_time_s"])


def test_click_placement_is_not_model_time(monkeypatch, synth_data):
    import harness.settings.clicks as clicks
    from harness import registry, settings
    from harness.data import open_dataset

    registry.load_plugin(PLUGIN)
    method = registry.create("metered", {"model_s": 0.0, "prompt_s": 0.01}, "cpu")
    _slowed(monkeypatch, clicks, "place_clicks", 0.3)  # the harness's work, not the method's
    ds = open_dataset(synth_data)
    video = ds.video(ds.videos[0])
    out: list[FrameResult] = []
    settings.get("point3")().run(method, video, out.append)
    starts = set(video.objects.values())
    for fr in out:
        if fr.frame in starts:  # the prompt(s) of that frame: 10 ms each, no click placement
            assert 0.01 <= fr.model_time_s < 0.01 * len(video.objects) + 0.1, (fr.frame, fr.model_time_s)


# --- SAM2: work outside the per-frame step is counted -------------------------------------------

@pytest.fixture(scope="module")
def sam2_tiny():
    pytest.importorskip("sam2")
    torch = pytest.importorskip("torch")
    from harness import registry

    torch.set_num_threads(1)
    return registry.create("sam2-t", {"random_init": True, "seed": 0, "image_size": 64}, "cpu")


def _video():
    sys.path.insert(0, str(Path(__file__).parent))
    from _methods_video import moving_objects

    return moving_objects(frames=6, size=(64, 96), seed=0, late_start=None)


def _slowed(monkeypatch, obj, name: str, seconds: float) -> None:
    """Test hook: ``obj.name`` sleeps ``seconds`` and then does its real work."""
    real = getattr(obj, name)

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(obj, name, slow)


def test_sam2_preflight_is_model_time_and_early_frames_are_not_processed(sam2_tiny, monkeypatch):
    from harness.api import MaskPrompt

    video, masks = _video()
    _slowed(monkeypatch, sam2_tiny.predictor, "propagate_in_video_preflight", 0.4)
    t0 = time.perf_counter()
    with sam2_tiny.open_session(video) as s:
        s.add_prompt(MaskPrompt(2, 1, masks[2] == 1))
        out = list(s.propagate())
    wall = time.perf_counter() - t0
    assert [fr.processed for fr in out] == [False, False, True, True, True, True]
    assert all(fr.model_time_s == 0.0 for fr in out[:2])
    assert out[2].model_time_s >= 0.4  # the preflight is charged to the first processed frame
    assert sum(fr.model_time_s for fr in out) <= wall


def test_sam2_unprompted_proposals_are_model_time(sam2_tiny, monkeypatch):
    import adapters.sam2_proposals as proposals

    video, _ = _video()
    _slowed(monkeypatch, proposals, "propose", 0.4)
    t0 = time.perf_counter()
    with sam2_tiny.open_session(video, max_objects=3) as s:
        out = list(s.propagate())
    wall = time.perf_counter() - t0
    assert out[0].processed and out[0].model_time_s >= 0.4
    assert sum(fr.model_time_s for fr in out) <= wall


# --- host memory: this process and its children -------------------------------------------------

_PEAK_SCRIPT = """
import numpy as np
from harness.runner.memory import PeakRSS, current_rss_bytes
base = current_rss_bytes()
with PeakRSS() as outer:
    block = np.ones(80 * 2**20, np.uint8)  # 80 MiB, touched, then freed
    del block
with PeakRSS() as small:  # a later block does not inherit the earlier peak
    np.ones(2**20, np.uint8)
print(base, outer.peak_bytes, small.peak_bytes)
"""


def test_peak_rss_sees_a_transient_allocation():
    # a fresh process: in a long test session freed-but-resident heap pages would absorb the block
    out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT], capture_output=True, text=True, check=True,
                         cwd=REPO)
    base, outer, small = (int(v) for v in out.stdout.split())
    assert outer - base > 60 * 2**20
    assert small < outer - 40 * 2**20


def test_a_child_process_methods_memory_is_seen(tmp_path, synth_data):
    from harness import registry, settings
    from harness.data import open_dataset
    from harness.runner.predict import predict_video
    from harness.runner.rundir import CellDir

    registry.load_plugin(PLUGIN)
    method = registry.create("child-rss", {"child_mib": 200, "hold_s": 0.6}, "cpu")
    ds = open_dataset(synth_data)
    before = current_rss_bytes()
    rec = predict_video(method, settings.get("mask")(), ds.video(ds.videos[0]), CellDir(tmp_path / "cell"))
    assert rec["peak_host_rss_bytes"] - before > 180 * 2**20


def test_methods_know_the_timer_not_the_runner():
    """Layering: adapters (and the documented example) time their work with harness.timing."""
    import ast

    files = sorted((REPO / "adapters").glob("*.py")) + [REPO / "docs" / "example_adapter.py", Path(PLUGIN)]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not [n for n in names if n.startswith(("harness.runner", "harness.settings"))], (path, names)


@pytest.mark.allow_skip(reason="CI machines have no GPU; MOSEBENCH_REQUIRE_CUDA=1 makes the skip a failure")
def test_gpu_peaks_and_synchronised_timer_on_cuda():
    """Needs a CUDA device (skipped without one; MOSEBENCH_REQUIRE_CUDA=1 makes that a failure)."""
    import os

    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        if os.environ.get("MOSEBENCH_REQUIRE_CUDA") == "1":
            pytest.fail("MOSEBENCH_REQUIRE_CUDA=1 but torch sees no CUDA device")
        pytest.skip("no CUDA device")
    dev = "cuda:0"
    torch.empty(1, device=dev)  # context
    reset_gpu_peaks(dev)
    block = torch.ones(64 << 20, dtype=torch.float32, device=dev)  # 256 MiB
    del block
    peaks = gpu_peaks(dev)
    assert peaks is not None and peaks.allocated >= 256 << 20 and peaks.reserved >= peaks.allocated
    reset_gpu_peaks(dev)
    assert gpu_peaks(dev).allocated < 256 << 20  # per-video reset
    a = torch.randn(4096, 4096, device=dev)
    timer = ModelTimer(dev)
    with timer:  # kernels are queued asynchronously; the timer waits for them
        for _ in range(20):
            a = a @ a
            a = a / a.norm()
    synced = timer.pop()
    t0 = time.perf_counter()
    for _ in range(20):
        a = a @ a
        a = a / a.norm()
    launch_only = time.perf_counter() - t0
    torch.cuda.synchronize(dev)
    assert synced > 2 * launch_only

"""``lorat``: LoRAT out of process over TraX (adapters/lorat.py, harness/trax_lorat_server.py).

The config checks run everywhere. The real-checkout tests run LoRAT itself (LitingLin/LoRAT, its
own environment, seeded random weights, CPU) when ``MOSEBENCH_LORAT_REPO`` (the checkout) and
``MOSEBENCH_LORAT_PYTHON`` (its environment's interpreter) are set; CI has neither (the checkout is
fetched by hand, its environment made as docs/trackers_lorat.md says), so they may skip there.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from _runner_common import REPO, cli, main, run_dir_from, smoke

LORAT_REPO = os.environ.get("MOSEBENCH_LORAT_REPO", "")
LORAT_PYTHON = os.environ.get("MOSEBENCH_LORAT_PYTHON", "")
SERVER = REPO / "harness" / "trax_lorat_server.py"
NO_CHECKOUT = ("needs a LoRAT checkout and its environment: set MOSEBENCH_LORAT_REPO=/path/to/LoRAT and "
               "MOSEBENCH_LORAT_PYTHON=/path/to/lorat-env/bin/python (docs/trackers_lorat.md); CI has neither")


def _need_checkout() -> None:
    if not (LORAT_REPO and LORAT_PYTHON):
        print(f"skipping: {NO_CHECKOUT}")
        pytest.skip(NO_CHECKOUT)


def _fake_checkout(root: Path) -> Path:
    """A folder shaped like a LoRAT checkout (enough for the config checks; nothing runs)."""
    (root / "trackit").mkdir(parents=True)
    (root / "config" / "LoRAT" / "B-224").mkdir(parents=True)
    (root / "config" / "LoRAT" / "B-224" / "config.yaml").write_text("type: LoRAT\n")
    (root / "main.py").write_text("")
    return root


def test_methods_lists_lorat_with_its_environment(capsys):
    rc, out = main(capsys, "methods")
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if line.split() and line.split()[0] == "lorat")
    assert rc == 0 and "output=box" in lines[i] and "prompts=box,mask" in lines[i]
    assert "runs in its own env" in lines[i + 1] and "PyTurboJPEG<2" in lines[i + 1]


@pytest.mark.parametrize(("overrides", "expected"), [
    ((), "method.python"),
    (("method.python=self",), "repo: no checkout"),
    (("method.python=self", "method.repo=/nonexistent/LoRAT"), "is not a folder"),
    (("method.python=self", "method.repo={fake}"), "ckpt:"),
    (("method.python=self", "method.repo={fake}", "method.ckpt={ckpt}", "method.variant=L-378"),
     "available: B-224"),
    (("method.python=self", "method.repo={fake}", "method.ckpt={ckpt}", "method.device=tpu"), "device: 'tpu'"),
    (("method.python=self", "method.repo={tmp}", "method.ckpt={ckpt}"), "has no main.py"),
])
def test_a_bad_lorat_config_is_exit_2_naming_the_option(tmp_path, synth_data, overrides, expected):
    fake = _fake_checkout(tmp_path / "LoRAT")
    ckpt = tmp_path / "w.bin"
    ckpt.write_bytes(b"0")
    args = [o.format(fake=fake, ckpt=ckpt, tmp=tmp_path) for o in overrides]
    proc = cli("run", *smoke(tmp_path, synth_data, "method=lorat", "setting=vot", *args), check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in proc.stdout + proc.stderr


def test_lorat_configs_select_table_10_variants():
    from harness.config import load_experiment

    for method, variant in (("lorat", "B-224"), ("lorat-b", "B-224"), ("lorat-l", "L-378")):
        opts = load_experiment("smoke", [f"method={method}", "setting=vot"]).method[method]
        assert opts.get("adapter", "lorat") == "lorat" and opts["variant"] == variant and opts["confidence_threshold"] is None and opts["amp"] is True


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> Path:
    """Seeded random weights of LoRAT-B-224 (every parameter), written by the server's own mode."""
    _need_checkout()
    out = tmp_path_factory.mktemp("lorat") / "lorat-b224-seed0.safetensors"
    subprocess.run([LORAT_PYTHON, str(SERVER), "--repo", LORAT_REPO, "--variant", "B-224", "--seed", "0",
                    "--write-random-weights", str(out)], check=True, capture_output=True, timeout=600)
    return out


def _one_object_data(make_synth) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_lorat", REPO / "benchmarks" / "bench_lorat.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = make_synth(videos=1, frames=4, size=(240, 320))
    return bench.keep_objects(data, data.parent / "one-object", 1)


@pytest.mark.allow_skip(reason=NO_CHECKOUT)
def test_real_checkout_runs_through_the_cli(tmp_path, make_synth, random_weights):
    """``mosebench run method=lorat-b setting=vot`` with the real checkout: boxes for every frame, the
    tracker's own time and score for each tracked frame, its peak memory in the record."""
    data = _one_object_data(make_synth)
    proc = cli("run", *smoke(tmp_path, data, "method=lorat-b", "setting=vot", f"method.python={LORAT_PYTHON}",
                             f"method.repo={LORAT_REPO}", f"method.ckpt={random_weights}"), timeout=1200)
    cell = run_dir_from(proc.stdout) / "lorat-b--vot--synth-tiny"
    recs = [json.loads(p.read_text()) for p in (cell / "records").glob("*.json")]
    assert len(recs) == 1 and recs[0]["status"] == "done"
    rec = recs[0]
    boxes = next(iter(rec["boxes"].values()))
    assert len(boxes) == rec["frames"] == 4 and all(b is not None for b in boxes)
    proc_rep = rec["tracker_process"]
    assert proc_rep["model_time_source"] == "tracker" and proc_rep["frames_tracker_time"] == 4
    assert proc_rep["peak_rss_bytes"] > 200 * 2**20  # torch + a ViT-B in the tracker process
    assert all(t > 0.01 for t in rec["model_time_s"][1:])  # a ViT-B step on CPU, not a stub
    scores = next(iter(rec["scores"].values())) if rec.get("scores") else None
    if scores is not None:
        assert all(0.0 <= s <= 1.0 for s in scores[1:])
    summary = json.loads((cell / "summary.json").read_text())
    assert summary["metrics"]["AUC"] >= 0


@pytest.mark.allow_skip(reason=NO_CHECKOUT)
def test_confidence_threshold_makes_low_scores_absent(make_synth, random_weights):
    """LoRAT's score reaches the harness: a threshold above any score leaves only the init box;
    without one (the default) every frame has LoRAT's box."""
    from harness import registry
    from harness.api import BoxPrompt
    from harness.boxes import box_of_mask
    from harness.data import open_dataset

    ds = open_dataset(_one_object_data(make_synth))
    video = ds.video(ds.videos[0])
    prompt = BoxPrompt(frame=0, obj_id=1, box=box_of_mask(video.gt(0) == 1))
    runs = {}
    for thr in (None, 1.01):
        cfg = registry.build_config(registry.get("lorat"), {
            "python": LORAT_PYTHON, "repo": LORAT_REPO, "ckpt": str(random_weights), "confidence_threshold": thr})
        method = registry.create("lorat", cfg, "cpu")
        with method.open_session(video.frames) as s:
            s.add_prompt(prompt)
            runs[thr] = list(s.propagate())
    assert all(r.boxes[1] is not None for r in runs[None])
    scores = [r.scores[1] for r in runs[None][1:]]
    assert all(0.0 <= s <= 1.0 for s in scores) and len(set(scores)) > 1  # real scores, not the 1.0 default
    assert runs[1.01][0].boxes[1] is not None and all(r.boxes[1] is None for r in runs[1.01][1:])


_FAKE_DINOV2 = """
import sys, torch
sys.path.insert(0, sys.argv[1])
from trackit.models.backbone.dinov2.builder import build_dino_v2_backbone
torch.save(build_dino_v2_backbone('ViT-B/14', load_pretrained=False).state_dict(), sys.argv[2])
"""


@pytest.mark.allow_skip(reason=NO_CHECKOUT)
def test_boxes_equal_the_originals_own_vot_entry_point(tmp_path, make_synth, random_weights, monkeypatch):
    """The checkout's own TraX entry (``main.py LoRAT B-224 --mixin_config vot``, the command its
    ``vot_main.py`` gives the VOT toolkit, default multi-object mode, DINOv2 loaded from torch's hub
    cache then overwritten by the weights) and our server give the same boxes, frame by frame."""
    from harness.data import open_dataset
    from harness.trax_client import TraxTracker

    # the original loads DINOv2 from the hub first: a file of the right shape in a private cache
    # (every parameter is overwritten by the full random weights after it)
    torch_home = tmp_path / "torch-home"
    (torch_home / "hub" / "checkpoints").mkdir(parents=True)
    subprocess.run([LORAT_PYTHON, "-c", _FAKE_DINOV2, LORAT_REPO,
                    str(torch_home / "hub" / "checkpoints" / "dinov2_vitb14_pretrain.pth")],
                   check=True, capture_output=True, timeout=600)
    monkeypatch.setenv("TORCH_HOME", str(torch_home))
    ds = open_dataset(_one_object_data(make_synth))
    video = ds.video(ds.videos[0])
    from harness.boxes import box_of_mask

    box = tuple(float(v) for v in box_of_mask(video.gt(0) == 1))
    paths = [str(p) for p in video.frames.paths]
    shape = (video.height, video.width)
    original = [LORAT_PYTHON, str(Path(LORAT_REPO) / "main.py"), "LoRAT", "B-224", "--device", "cpu", "--quiet",
                "--run_id", "golden", "--output_dir", str(tmp_path / "out"), "--disable_file_logging",
                "--weight_path", str(random_weights), "--mixin_config", "vot"]
    ours = [LORAT_PYTHON, str(SERVER), "--repo", LORAT_REPO, "--variant", "B-224", "--weights", str(random_weights),
            "--device", "cpu"]
    boxes, props = {}, {}
    for name, argv in (("original", original), ("ours", ours)):
        with TraxTracker(argv, cwd=LORAT_REPO, startup_timeout_s=300, frame_timeout_s=300, label=name) as tracker:
            tracker.initialize(paths[0], box, shape)
            boxes[name] = [tracker.frame(p, shape)[0] for p in paths[1:]]
            props[name] = tracker.last_properties
    assert boxes["ours"] == boxes["original"], boxes
    full = (0.0, 0.0, float(shape[1]), float(shape[0]))
    assert any(b != full for b in boxes["ours"])  # a real comparison, not only saturated full-frame boxes
    assert "score" in props["ours"] and "time" in props["ours"] and "time" not in props["original"]


@pytest.mark.allow_skip(reason=NO_CHECKOUT)
def test_pretrained_backbone_never_downloads(tmp_path, make_synth, random_weights, monkeypatch):
    """``pretrained_backbone: true`` reads DINOv2 from torch's hub cache only: with an empty cache the
    video fails with the missing file's path in the error (the tracker's output tail), no download."""
    from harness import registry
    from harness.api import BoxPrompt
    from harness.trax_client import TrackerFault

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    video = make_synth(videos=1, frames=3, size=(96, 128))
    from harness.data import open_dataset

    ds = open_dataset(video)
    v = ds.video(ds.videos[0])
    cfg = registry.build_config(registry.get("lorat"), {
        "python": LORAT_PYTHON, "repo": LORAT_REPO, "ckpt": str(random_weights), "pretrained_backbone": True,
        "frame_timeout_s": 300})
    method = registry.create("lorat", cfg, "cpu")
    with pytest.raises(TrackerFault, match="dinov2_vitb14_pretrain.pth is missing and downloads are off"):
        with method.open_session(v.frames) as s:
            s.add_prompt(BoxPrompt(frame=0, obj_id=1, box=(10.0, 10.0, 20.0, 20.0)))
            list(s.propagate())

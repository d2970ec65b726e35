"""STCN adapter on the registry package stcnbuf 0.2.2: equivalence with the package's own inference
path (tests/golden/stcn, README there), settings, refusals, weights and downloads.

``make test`` installs ``stcnbuf==0.2.2 --no-deps`` (Makefile), so nothing here skips; a local copy
elsewhere can be given as ``MOSEBENCH_STCNBUF=/dir/holding/stcnbuf``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _methods_video import moving_objects
from support.golden import assert_masks_match

from adapters.stcn_vos import STCN, STCNConfig, load_package
from harness import registry
from harness.api import BoxPrompt, MaskPrompt, PromptKind
from harness.errors import ConfigError, MissingDependencyError

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "stcn"
WEIGHTS_SHA256 = "80d44956ace59d2c9dd5ff826bf72b93b01fe8d7d4a110709ea0372a7234549f"  # README.md
WHERE = os.environ.get("MOSEBENCH_STCNBUF") or None


def _create(**options):
    return registry.create("stcn", {"random_init": True, "path": WHERE, **options}, "cpu")


def test_masks_equal_the_packages_own_inference(tmp_path):
    """The adapter (fresh interpreter, one thread) reproduces expected.npz pixel for pixel on every
    frame after the prompted one (which answers its prompts, as upstream STCN's eval); the
    golden is non-empty, holds every object on every frame, changes over time, and 6 memory writes
    (3 chunks of <= 5 frames per video) happened on both sides."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "adapter.npz"
    proc = subprocess.run([sys.executable, "-W", "ignore", str(GOLDEN / "make_golden.py"), "adapter", str(out),
                           *([WHERE] if WHERE else [])], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got, want = np.load(out), np.load(GOLDEN / "expected.npz")
    sys.path.insert(0, str(GOLDEN))
    from make_golden import videos as make_videos

    videos = make_videos()
    assert int(got["memory_writes"]) == int(want["memory_writes"]) == 6
    for name, n_obj in (("one", 1), ("two", 2)):
        labels = want[name]
        assert labels.shape == (12, 64, 96)
        assert all(set(np.unique(lm)) == set(range(n_obj + 1)) for lm in labels), name
        assert len({lm.tobytes() for lm in labels}) == len(labels), f"{name}: masks do not change over time"
        for t in range(1, len(labels)):  # frame 0: the package re-predicts it, the adapter answers the prompts
            assert_masks_match(got[name][t], labels[t], f"{name} frame {t}", GOLDEN)
        gt0 = videos[name][1][0]
        assert np.array_equal(got[name][0], gt0), f"{name}: the prompted frame is not the prompts' label map"


def test_seeded_weights_are_the_goldens():
    from adapters.stcn_vos import random_weights, weights_digest

    torch.set_num_threads(1)
    assert weights_digest(random_weights(load_package(WHERE), 0)) == WEIGHTS_SHA256


def test_package_is_isolated_and_downloads_nothing(monkeypatch):
    """No ImageNet download (the ResNets are built plain), and neither stcnbuf nor the stand-in
    torchvision is left in sys.modules."""
    import torch.utils.model_zoo

    def refuse(*a, **k):
        raise AssertionError("ImageNet download attempted")

    monkeypatch.setattr(torch.utils.model_zoo, "load_url", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    before = {n for n in sys.modules if n.split(".")[0] in ("stcnbuf", "torchvision")}
    _create()
    after = {n for n in sys.modules if n.split(".")[0] in ("stcnbuf", "torchvision")}
    assert after == before


def test_capabilities_and_config_errors(tmp_path):
    caps = STCN.capabilities
    assert caps.prompts == {PromptKind.MASK, PromptKind.BOX, PromptKind.POINTS, PromptKind.SCRIBBLE}
    assert not caps.add_objects_mid_video and caps.streaming and not caps.unprompted and not caps.reprompt
    assert STCNConfig(random_init=True).size == 480 and STCNConfig(random_init=True).top_k == 20
    assert STCNConfig(random_init=True).mem_every == 5
    with pytest.raises(ConfigError, match="stcn.pth"):
        registry.create("stcn", {}, "cpu")
    with pytest.raises(MissingDependencyError, match="does not exist"):
        registry.create("stcn", {"ckpt": str(tmp_path / "nope.pth"), "path": WHERE}, "cpu")
    with pytest.raises(MissingDependencyError, match="stcnbuf"):
        load_package(str(tmp_path))  # an empty directory
    bad = tmp_path / "bad.pth"
    torch.save({"x": torch.zeros(1)}, bad)
    with pytest.raises(ConfigError, match="does not fit"):
        registry.create("stcn", {"ckpt": str(bad), "path": WHERE}, "cpu")


def test_objects_on_two_frames_are_refused_in_one_session():
    video, gt = moving_objects(frames=6, size=(48, 64), late_start=3)
    with _create(size=-1).open_session(video) as s:
        s.add_prompt(MaskPrompt(0, 1, gt[0] == 1))
        s.add_prompt(MaskPrompt(3, 2, gt[3] == 2))
        with pytest.raises(ConfigError, match="one frame"):
            list(s.propagate())


def test_box_prompt_late_start_and_resize():
    """A box on frame 2 (GrabCut first mask): frames 0-1 are placeholders; size 64 processes 64x85
    and answers at 96x128; a size giving fewer memory keys than top_k is refused with the fix."""
    from adapters.prompt_masks import box_of_mask

    video, gt = moving_objects(frames=8, size=(96, 128), late_start=None)
    with _create(size=16).open_session(video) as s, pytest.raises(ConfigError, match="top_k"):
        s.add_prompt(MaskPrompt(0, 1, gt[0] == 1))
        list(s.propagate())
    with _create(size=64).open_session(video) as s:
        s.add_prompt(BoxPrompt(2, 1, box_of_mask(gt[2] == 1)))
        res = list(s.propagate())
        assert s.memory_writes == 2  # frames 2-6, 7
    assert [r.frame for r in res] == list(range(8))
    assert [r.processed for r in res] == [False, False] + [True] * 6
    assert res[2].masks[1].shape == (96, 128) and res[2].masks[1].any()


def test_settings_run_and_refused_before_weights(tmp_path, synth_data, monkeypatch):
    """The mask setting through the runner (one session per start frame); the unsupervised setting
    is refused before any weights load."""
    import json

    from _runner_common import smoke

    from harness.config import load_experiment
    from harness.errors import CapabilityError
    from harness.runner.driver import prepare, run_experiment
    from harness.runner.rundir import RunDir

    extra = [f"method.path={WHERE}"] if WHERE else []
    overrides = smoke(tmp_path, synth_data, "method=stcn", "method.random_init=true", "method.size=-1",
                      "dataset.max_videos=1", *extra)
    out = run_experiment(load_experiment("smoke", overrides[1:]), quiet=True)
    assert not out.failures and not out.incomplete, out.failures
    cell = RunDir(out.run_dir).cell(out.cells[0])
    from harness.data import open_dataset

    ds = open_dataset(synth_data)
    name = ds.videos[0]
    video = ds.video(name)
    rec = json.loads(cell.record_path(name).read_text())
    assert rec["status"] == "done" and rec["frames"] == len(video)
    assert sorted(p.stem for p in (cell.predictions / name).glob("*.png")) == list(video.frame_names)
    monkeypatch.setattr(STCN, "__init__", lambda *a, **k: pytest.fail("weights loaded"))
    res = [f"results={tmp_path / 'r2'}", f"dataset.root={tmp_path / 'never-created'}"]
    with pytest.raises(CapabilityError, match="'stcn' cannot run setting 'unsupervised'"):
        prepare(load_experiment("demo", ["method=stcn", "setting=unsupervised", "method.random_init=true", *res]))
    assert not (tmp_path / "never-created").exists()


def test_clicks_on_the_first_frame_accumulate_and_later_prompts_are_ignored():
    from harness.api import PointsPrompt

    video, gt = moving_objects(frames=6, size=(48, 64), late_start=None)
    ys, xs = np.nonzero(gt[0] == 1)
    with _create(size=-1).open_session(video) as s:
        s.add_prompt(PointsPrompt(0, 1, ((float(xs.mean()), float(ys.mean())),), (1,)))
        s.add_prompt(PointsPrompt(0, 1, ((float(xs.min()), float(ys.min())),), (1,)))
        s.add_prompt(MaskPrompt(2, 1, gt[2] == 1))  # semi-supervised: the first prompt conditions
        assert len(s.prompts._points[1].points) == 2 and s.first[1][0] == 0 and s.first[1][1].any()
        with pytest.raises(ConfigError, match="has 6 frames"):
            s.add_prompt(MaskPrompt(9, 2, gt[0] == 1))

"""deva-unsup (DEVA's unsupervised VOS from user-given per-frame segmentations) on a user checkout:
equivalence with the checkout's own ``evaluation/eval_with_detections.py --dataset unsup_davis17`` +
``limit_max_id``, the unsupervised setting through the runner, the detections' errors, the cap.

The golden masks (``tests/golden/deva_unsup``, README there) were written by that script on seeded
random weights at one thread, with a deterministic decoder script installed on both sides (without it
nothing is ever voted in). Like ``test_methods_deva.py``, the tests that run DEVA need
``MOSEBENCH_DEVA_REPO`` (a checkout CI cannot clone: skipped with that reason); the others always run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from support.golden import assert_masks_match  # noqa: E402
from test_methods_deva import CHECKOUT, _png, _run_adapter, needs_checkout  # same checkout and weights

from harness import registry
from harness.errors import CapabilityError, ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "deva_unsup"
VIDEOS = ("synth000", "synth001")
# [votes, detections merged, objects added, objects purged] per run and video, as the original printed
# them (its shim counts DEVAInferenceCore.vote_in_temporary_buffer / incorporate_detection calls)
ORIGINAL_STATS = {
    "semionline": {"synth000": [2, 2, 26, 0], "synth001": [2, 2, 25, 0]},
    "purge": {"synth000": [4, 4, 27, 3], "synth001": [4, 4, 27, 1]},
    "s64": {"synth000": [2, 2, 17, 0], "synth001": [2, 2, 16, 0]},
    "online": {"synth000": [0, 3, 42, 0], "synth001": [0, 3, 40, 0]},
}
@pytest.mark.parametrize("run", list(ORIGINAL_STATS))
@needs_checkout
def test_masks_equal_eval_with_detections_pixel_for_pixel(run, tmp_path):
    got = _run_adapter(run, tmp_path, GOLDEN)  # the DEVA test's runner: same seeded weights, digest checked
    assert int(got["decoder_calls"]) > 0
    for name in VIDEOS:
        labels, processed = got[name], got[f"{name}.processed"]
        expected = sorted((GOLDEN / f"expected_{run}" / name).glob("*.png"))
        assert len(expected) == len(labels) and processed.all()
        for t, png in enumerate(expected):
            assert_masks_match(labels[t], _png(png), f"{run} {name} frame {t} vs eval_with_detections.py", GOLDEN)
        stats = [int(v) for v in got[f"{name}.stats"]]
        assert stats == ORIGINAL_STATS[run][name], (run, name, stats)
        # the comparison bites: detections merged, objects added, over 20 objects before the cap,
        # at most 20 after it, masks neither empty nor frozen
        votes, merged, added, purged = stats
        assert merged > 0 and added > 0 and (votes > 0) == (run != "online")
        raw = len(got[f"{name}.raw_ids"])
        kept = len(set(np.unique(labels)) - {0})
        assert labels.max() == 20 and kept <= 20, (run, name)
        # the cap fired: more than 20 objects before it, or (s64: 17 / 16 objects) its list filled with
        # repeats, so ids reach 20 with fewer objects
        assert raw > 20 if run != "s64" else kept < 20, (run, name, raw, kept)
        assert all(lab.any() for lab in labels)
        assert sum(int((a != b).sum()) for a, b in zip(labels, labels[1:])) > 100
    if run == "purge":
        assert any(int(got[f"{n}.stats"][3]) > 0 for n in VIDEOS)


def test_limit_max_id_keeps_the_originals_list_semantics():
    """Labels are appended per frame by (area, id) descending until the list holds the cap, repeats
    included; each kept label becomes 1 + its last index (postprocess_unsup_davis17.limit_max_id)."""
    from adapters.deva_unsup import limit_max_id

    a = np.zeros((4, 6), np.int32)
    a[0, :3], a[1, :2], a[2, :2] = 7, 9, 5  # areas 3, 2, 2: order 7, 9 (tie: larger id first), 5
    b = a.copy()
    b[3, :] = 11  # a new object on the second frame
    out = limit_max_id([a, b], 4)
    assert out[0].dtype == np.uint8
    # list: [7, 9, 5] then from b: [11 (area 6), 7] -> cap 4 reached: [7, 9, 5, 11]
    assert out[1][0, 0] == 1 and out[1][1, 0] == 2 and out[1][2, 0] == 3 and out[1][3, 0] == 4
    out = limit_max_id([a, a, b], 5)  # repeats fill the list: [7, 9, 5, 7, 9]; 11 is dropped
    assert out[2][0, 0] == 4 and out[2][1, 0] == 5 and out[2][2, 0] == 3 and not out[2][3].any()
    out = limit_max_id([a], 2)
    assert set(np.unique(out[0])) == {0, 1, 2} and not out[0][2].any()


def test_capabilities_and_options_without_a_checkout(tmp_path):
    cls = registry.get("deva-unsup")
    caps = cls.capabilities
    assert caps.unprompted and not caps.streaming and not caps.prompts and not caps.reprompt
    with pytest.raises(ConfigError, match="method.detections=DIR"):
        registry.create("deva-unsup", {"repo": str(tmp_path), "random_init": True}, "cpu")
    with pytest.raises(ConfigError, match="is not a folder"):
        registry.create("deva-unsup", {"detections": str(tmp_path / "none"), "random_init": True}, "cpu")
    with pytest.raises(ConfigError, match="temporal_setting"):
        registry.create("deva-unsup", {"detections": str(tmp_path), "temporal_setting": "offline"}, "cpu")
    with pytest.raises(ConfigError, match="git clone"):
        registry.create("deva-unsup", {"detections": str(tmp_path), "random_init": True}, "cpu")


@pytest.mark.parametrize("setting", ["mask", "interactive"])
def test_prompted_settings_are_refused_before_weights_load(setting, tmp_path, synth_data):
    sys.path.insert(0, str(Path(__file__).parent))
    from _runner_common import smoke

    from harness.config import load_experiment
    from harness.runner.driver import run_experiment

    overrides = smoke(tmp_path, synth_data, "method=deva-unsup", f"setting={setting}",
                      f"method.repo={tmp_path / 'no-checkout'}", f"method.detections={tmp_path}",
                      "method.random_init=true")
    with pytest.raises(CapabilityError, match="method 'deva-unsup' cannot run setting"):
        run_experiment(load_experiment("smoke", overrides[1:]), quiet=True)


def _write_detections(data: Path, out: Path) -> Path:
    """The golden's synthetic segmenter (make_golden.detections) on a dataset's ground truth."""
    from PIL import Image

    sys.path.insert(0, str(GOLDEN))
    from make_golden import detections

    for vdir in sorted((data / "Annotations").iterdir()):
        pngs = sorted(vdir.glob("*.png"))
        (out / vdir.name).mkdir(parents=True, exist_ok=True)
        for p, det in zip(pngs, detections([_png(p) for p in pngs], 0)):
            Image.fromarray(det, mode="L").save(out / vdir.name / p.name)
    return out


def _small(det: Path) -> dict:
    return {"repo": CHECKOUT, "random_init": True, "size": -1, "top_k": None, "detections": str(det)}


@needs_checkout
def test_unsupervised_setting_through_the_runner(tmp_path, synth_data):
    """deva-unsup in the unsupervised setting via the real runner: proposals scored against objects."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _runner_common import smoke

    from harness.config import load_experiment
    from harness.runner.driver import run_experiment

    det = _write_detections(synth_data, tmp_path / "det")
    opts = [f"method.{k}={'null' if v is None else v}" for k, v in _small(det).items()]
    overrides = smoke(tmp_path, synth_data, "method=deva-unsup", "setting=unsupervised", "dataset.max_videos=1",
                      *opts)
    out = run_experiment(load_experiment("smoke", overrides[1:]), quiet=True)
    assert not out.failures and not out.incomplete, out.failures
    summary = json.loads((out.run_dir / out.cells[0] / "summary.json").read_text())
    assert {"JF_hat", "J", "F_hat"} <= set(summary["metrics"])
    assert summary["metrics"]["J"] == summary["metrics"]["J"]  # not NaN


@needs_checkout
def test_missing_or_bad_detections_name_the_video_and_frame(tmp_path, synth_data):
    from PIL import Image

    from harness.data import open_dataset

    det = _write_detections(synth_data, tmp_path / "det")
    ds = open_dataset(synth_data)
    name = ds.videos[0]
    video = ds.video(name).frames
    method = registry.create("deva-unsup", _small(det), "cpu")
    frame = video.frame_names[4]
    (det / name / f"{frame}.png").unlink()
    with method.open_session(video) as s, pytest.raises(DataError, match=f"video '{name}' frame '{frame}'"):
        next(iter(s.propagate()))
    Image.new("RGB", (video.width, video.height)).save(det / name / f"{frame}.png")
    with method.open_session(video) as s, pytest.raises(DataError, match="PNG mode RGB"):
        next(iter(s.propagate()))
    (det / name / f"{frame}.png").unlink()
    _write_detections(synth_data, tmp_path / "det")
    (det / name / f"{frame}.json").write_text("[]")  # DEVA's long-id mode: refused
    with method.open_session(video) as s, pytest.raises(DataError, match="JSON segment info"):
        next(iter(s.propagate()))
    other = ds.videos[1]
    for p in (det / other).iterdir():
        p.unlink()
    (det / other).rmdir()
    with method.open_session(ds.video(other).frames) as s, pytest.raises(DataError, match=f"no folder for video '{other}'"):
        next(iter(s.propagate()))
    with method.open_session(video) as s, pytest.raises(CapabilityError, match="takes no prompts"):
        from harness.api import MaskPrompt

        s.add_prompt(MaskPrompt(0, 1, np.ones((video.height, video.width), bool)))


@needs_checkout
def test_global_numpy_rng_is_restored(tmp_path, synth_data):
    from harness.data import open_dataset

    det = _write_detections(synth_data, tmp_path / "det")
    ds = open_dataset(synth_data)
    method = registry.create("deva-unsup", _small(det), "cpu")
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    with method.open_session(ds.video(ds.videos[0]).frames) as s:
        first = [r.masks for r in s.propagate()]
    assert (np.random.get_state()[1] == before).all()
    with method.open_session(ds.video(ds.videos[0]).frames) as s:  # seeded per video: the same ids again
        again = [r.masks for r in s.propagate()]
    assert all(a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a) for a, b in zip(first, again))

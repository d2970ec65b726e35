"""The weight-free unsupervised baseline (`proposals`): real proposals, scored like the runner does."""

from __future__ import annotations

import numpy as np
import pytest

from harness import registry, settings
from harness.api import MaskPrompt
from harness.errors import ConfigError
from harness.metrics.unsupervised import MAX_PROPOSALS


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The unsupervised setting on three synthetic videos (all object roles, a shot cut, low light)."""
    from harness.data import open_dataset
    from harness.data.synth import generate

    # make_synth is function-scoped; the same generator call, module-scoped, runs the method once
    root = generate(tmp_path_factory.mktemp("synth") / "data", videos=3, frames=10, size=(96, 128), seed=0)
    ds = open_dataset(root)
    method = registry.create("proposals")
    setting = settings.get("unsupervised")()
    out = {}
    for video in ds:
        results = []
        outcome = setting.run(method, video, results.append)
        out[video.name] = (video, results, outcome)
    return out


def _labels(video, results) -> dict[int, np.ndarray]:
    labels = {}
    for fr in results:
        lab = np.zeros((video.height, video.width), np.uint8)
        for oid, m in fr.masks.items():
            assert not (lab[m] > 0).any(), f"proposal {oid} overlaps another on frame {fr.frame}"
            lab[m] = oid
        labels[fr.frame] = lab
    return labels


def test_proposals_follow_the_protocol(runs):
    for name, (video, results, outcome) in runs.items():
        assert [fr.frame for fr in results] == list(range(len(video))), name
        ids = set(results[-1].masks)
        assert 1 <= len(ids) <= MAX_PROPOSALS and ids == set(range(1, len(ids) + 1)), (name, ids)
        seen: set[int] = set()
        for fr in results:
            # ids 1..K in order of proposal; once proposed, an id is in every later frame
            assert seen <= set(fr.masks) == set(range(1, len(fr.masks) + 1)), (name, fr.frame, set(fr.masks))
            seen = set(fr.masks)
            assert all(m.shape == (video.height, video.width) and m.dtype == bool for m in fr.masks.values())
        assert set(outcome.details.proposals) <= ids
        assert any(m.any() for m in results[0].masks.values()), f"{name}: nothing proposed on frame 0"
        # proposals on frame 0, then flow on every frame: all processed (FPS counts them)
        assert all(fr.processed for fr in results), name
        _labels(video, results)  # proposals never overlap


def _square_video():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _methods_video import iou, moving_objects

    frames, gt = moving_objects(frames=12, late_start=None)  # one textured square moving 3 px/frame
    return frames, gt, iou


def test_the_one_moving_object_is_the_first_proposal_on_every_frame():
    """A known answer: a textured square slides over a static textured background, nothing else moves,
    so the best-ranked proposal (moving candidates rank first) must be that square, found (IoU >= 0.5,
    the usual detection criterion) on every frame while it moves from x=4 to x=37."""
    frames, gt, iou = _square_video()
    with registry.create("proposals").open_session(frames) as s:
        results = list(s.propagate())
    assert [r.frame for r in results] == list(range(len(frames)))
    for r in results:
        square = gt[r.frame] == 1
        overlaps = {oid: iou(m, square) for oid, m in r.masks.items()}
        assert overlaps[1] >= 0.5, (r.frame, overlaps)
        assert max(overlaps, key=overlaps.get) == 1, (r.frame, overlaps)
    # where the square started is background by the last frame: the first id did not stay behind
    assert iou(results[-1].masks[1], gt[0] == 1) < 0.1


def test_a_mask_prompt_is_followed_to_where_the_object_is():
    """With a mask prompt the method follows that object: on the constructed video the square's true
    position is known on every frame (it shares no pixel with its first mask from frame 7 on)."""
    frames, gt, iou = _square_video()
    with registry.create("proposals").open_session(frames) as s:
        s.add_prompt(MaskPrompt(0, 1, gt[0] == 1))
        results = list(s.propagate())
    assert [set(r.masks) for r in results] == [{1}] * len(frames)
    assert iou(gt[0] == 1, gt[-1] == 1) == 0.0  # static masks would score 0 at the end
    for r in results:
        assert iou(r.masks[1], gt[r.frame] == 1) >= 0.9, r.frame


def test_max_objects_is_honoured(runs):
    video, _, _ = next(iter(runs.values()))
    method = registry.create("proposals")
    with method.open_session(video.frames, max_objects=2) as s:
        results = list(s.propagate())
    assert set(results[0].masks) <= {1, 2} and len(results) == len(video)


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="min_area"):
        registry.create("proposals", {"min_area": 0.5, "max_area": 0.1})
    with pytest.raises(ConfigError, match="preset"):
        registry.create("proposals", {"preset": "slow"})
    with pytest.raises(ConfigError, match="unknown option"):
        registry.create("proposals", {"warm_up": 3})

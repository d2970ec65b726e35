"""The weight-free unsupervised baseline (`proposals`): real proposals, scored like the runner does."""

from __future__ import annotations

import numpy as np
import pytest

from harness import registry, settings
from harness.api import MaskPrompt
from harness.errors import ConfigError
from harness.metrics.aggregate import dataset_scores
from harness.metrics.unsupervised import MAX_PROPOSALS, score_unsupervised


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
            assert fr.model_time_s >= 0
        assert set(outcome.details.proposals) <= ids
        assert any(m.any() for m in results[0].masks.values()), f"{name}: nothing proposed on frame 0"


def test_proposals_score_clearly_above_empty_predictions(runs):
    import pandas as pd

    ours, empty = [], []
    for video, results, _ in runs.values():
        ours += score_unsupervised(video, _labels(video, results))[1]
        blank = np.zeros((video.height, video.width), np.uint8)
        empty += score_unsupervised(video, lambda t, b=blank: b)[1]
    jf = dataset_scores(pd.DataFrame(ours), "mose")["JF_hat"]
    jf_empty = dataset_scores(pd.DataFrame(empty), "mose")["JF_hat"]
    # empty predictions are right on every frame an object is absent (J = F̂ = 1), so they are not 0
    assert jf_empty > 0
    print(f"proposals J&F̂ {jf:.3f}, empty {jf_empty:.3f}")
    assert jf > jf_empty + 4.0, (jf, jf_empty)  # x100 J&F̂ points


def test_max_objects_is_honoured_and_prompts_make_it_the_flow_baseline(runs):
    video, _, _ = next(iter(runs.values()))
    method = registry.create("proposals")
    with method.open_session(video.frames, max_objects=2) as s:
        results = list(s.propagate())
    assert set(results[0].masks) <= {1, 2} and len(results) == len(video)

    first = video.objects and min(video.objects, key=lambda o: (video.objects[o], o))
    f = video.objects[first]
    prompt = MaskPrompt(f, first, video.gt(f) == first)
    with method.open_session(video.frames) as s:
        s.add_prompt(prompt)
        ours = list(s.propagate())
    with registry.create("flow").open_session(video.frames) as s:
        s.add_prompt(prompt)
        theirs = list(s.propagate())
    for a, b in zip(ours, theirs):
        assert set(a.masks) == set(b.masks) == {first}
        assert np.array_equal(a.masks[first], b.masks[first])


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="min_area"):
        registry.create("proposals", {"min_area": 0.5, "max_area": 0.1})
    with pytest.raises(ConfigError, match="preset"):
        registry.create("proposals", {"preset": "slow"})
    with pytest.raises(ConfigError, match="unknown option"):
        registry.create("proposals", {"warm_up": 3})

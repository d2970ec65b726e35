"""The settings drive the real SAM2 video predictor (random weights, 64 px input, CPU).

Kept tiny: one 3-frame 64x80 synthetic video restricted to two objects, one model for all tests.
"""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest

from harness import registry, settings

pytestmark = pytest.mark.sam2

OPTIONS = {"random_init": True, "image_size": 64, "seed": 0, "proposal_grid": 3}


@pytest.fixture(scope="module")
def sam2():
    if registry.missing_requirements("sam2-t"):
        pytest.skip("sam2 is not installed")
    return registry.create("sam2-t", OPTIONS, "cpu")


@pytest.fixture(scope="module")
def video(make_synth_module):
    from harness.data import open_dataset

    ds = open_dataset(make_synth_module)
    v = ds.video(ds.videos[0])
    objs = sorted(v.objects)[:2]
    # Without a meta list, objects come from first_frames and GT ids are not validated: a two-object view.
    return dataclasses.replace(v, object_ids=None, first_frames={o: v.objects[o] for o in objs}, _cache={})


@pytest.fixture(scope="module")
def make_synth_module(tmp_path_factory):
    from harness.data.synth import generate

    return generate(tmp_path_factory.mktemp("sam2set") / "d", videos=1, frames=3, size=(64, 80), seed=0)


def run(name, method, video, **cfg):
    cls = settings.get(name)
    setting = cls(cfg=cls.Config(**cfg)) if cfg else cls()
    assert setting.unsupported_reason(method.capabilities) is None
    out = []
    outcome = setting.run(method, video, out.append)
    assert [fr.frame for fr in out] == list(range(len(video)))
    json.dumps(outcome.record_fields())
    return out, outcome


@pytest.mark.parametrize("name", ["mask", "box", "point1"])
def test_sam2_semi_supervised_settings(sam2, video, name):
    out, outcome = run(name, sam2, video)
    assert {p["obj_id"] for p in outcome.prompts} == set(video.objects)
    for fr in out:
        assert set(fr.masks) == set(video.objects)
        for m in fr.masks.values():
            assert m.shape == (video.height, video.width) and m.dtype == bool
    if name == "point1":
        # SAM2 gives prompt feedback: one click per add_prompt call, on the object.
        for p in outcome.prompts:
            x, y = p["points"][0]
            assert video.gt(p["frame"])[int(y), int(x)] == p["obj_id"]


def test_sam2_unsupervised_proposals_are_matched_at_scoring(sam2, video):
    from harness.data.masks import masks_to_labels
    from harness.metrics.unsupervised import score_unsupervised

    out, outcome = run("unsupervised", sam2, video)
    assert outcome.prompts == ()
    props = outcome.details.proposals
    assert len(props) <= 20
    preds = {fr.frame: masks_to_labels(dict(fr.masks), (video.height, video.width)) for fr in out}
    matching, rows = score_unsupervised(video, preds)
    assert set(matching.assignment) == set(video.objects)
    assert {p for p in matching.assignment.values() if p is not None} <= set(props)
    assert len(rows) == len(video.objects)
    for r in rows:
        assert 0.0 <= r["J"] <= 1.0 and 0.0 <= r["F_hat"] <= 1.0
    # The assignment is the best one-to-one choice (brute force over all injective choices).
    s = matching.score
    assert s.shape[0] == len(video.objects) and np.isfinite(s).all()
    cols = list(range(s.shape[1]))
    best = max(sum(s[i, c] for i, c in enumerate(perm)) for perm in itertools.permutations(cols, s.shape[0]))
    col_of = {p: j for j, p in enumerate(matching.proposals)}
    objs = list(matching.objects)
    used = [col_of.get(matching.assignment[o]) for o in objs]
    free = iter(c for c in cols[len(matching.proposals):])  # empty proposals fill the gaps
    chosen = [u if u is not None else next(free) for u in used]
    assert sum(s[i, c] for i, c in enumerate(chosen)) == pytest.approx(best)


def test_sam2_interactive_gets_scribbles_as_clicks(sam2, video):
    out, outcome = run("interactive", sam2, video, max_interactions=2)
    ex = outcome.details
    assert ex.prompt_kind == "points" and 1 <= len(ex.rounds) <= 2
    for p in outcome.prompts:
        assert p["kind"] == "points" and set(p["labels"]) <= {0, 1}

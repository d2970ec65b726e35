"""Unsupervised scoring against davis2017-evaluation's own unsupervised evaluation.

``golden/conventions/unsupervised_davis2017.json``: the numbers davis2017-evaluation (commit recorded
there) computed on the set that ``tests/_unsupervised_oracle_data.py`` builds (made by
``run_davis2017_unsupervised.py`` in a fetched checkout). Their per-object keys count matched pairs
in proposal order, so per-object values are compared as a multiset per sequence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from _unsupervised_oracle_data import build

GOLDEN = json.loads((Path(__file__).parent / "golden" / "conventions" / "unsupervised_davis2017.json").read_text())


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    from harness.data import open_dataset
    from harness.metrics.unsupervised import score_unsupervised

    root, res = build(tmp_path_factory.mktemp("davis_unsup"))
    ds = open_dataset(root, layout="davis")
    rows, matchings = [], {}
    for v in ds.videos:
        matchings[v], r = score_unsupervised(ds.video(v), res, protocol="davis")
        rows += r
    return pd.DataFrame(rows), matchings


def test_golden_records_the_reference_commit():
    assert GOLDEN["source"] == "davisvideochallenge/davis2017-evaluation" and len(GOLDEN["commit"]) == 40


def test_dataset_numbers_equal_davis2017_evaluation(scored):
    from harness.metrics.aggregate import dataset_scores

    objects, _ = scored
    got = dataset_scores(objects, "davis")
    g = GOLDEN["global"]
    want = {"JF": g["J&F-Mean"], "J": g["J-Mean"], "J_recall": g["J-Recall"], "J_decay": g["J-Decay"],
            "F": g["F-Mean"], "F_recall": g["F-Recall"], "F_decay": g["F-Decay"]}
    for k, v in want.items():
        assert got[k] == pytest.approx(100 * v, abs=1e-9), k


def test_per_object_values_equal_davis2017_evaluation(scored):
    objects, _ = scored
    for seq, g in objects.groupby("video"):
        ours = sorted((round(j, 9), round(f, 9)) for j, f in zip(g["J"], g["F"]))
        theirs = sorted((round(j, 9), round(f, 9)) for k, (j, f) in GOLDEN["per_object_J_F_mean"].items()
                        if k.rsplit("_", 1)[0] == seq)
        assert ours == theirs, seq


def test_matching_uses_empty_proposals_like_davis(scored):
    _, matchings = scored
    # s3 has one proposal for three objects: two objects are scored as empty predictions
    assert sorted(p is None for p in matchings["s3"].assignment.values()) == [False, True, True]


def test_scoring_streams_one_frame_pair_at_a_time(tmp_path):
    """GT and prediction of frame t are read just before frame t is scored, never all up front."""
    from harness.data import open_dataset
    from harness.metrics.unsupervised import score_unsupervised

    root, res = build(tmp_path)
    video = open_dataset(root, layout="davis").video("s2")
    events: list[tuple[str, int]] = []

    class Tracked:
        def __getattr__(self, name):
            return getattr(video, name)

        def __len__(self):
            return len(video)

        def gt(self, t):
            events.append(("gt", t))
            return video.gt(t)

    from harness.data.masks import read_label_png

    def pred(t):
        events.append(("pred", t))
        return read_label_png(res / "s2" / f"{video.frame_names[t]}.png")

    _, rows = score_unsupervised(Tracked(), pred, protocol="davis")
    assert events == [(k, t) for t in video.annotated for k in ("gt", "pred")]
    assert len(rows) == len(video.objects)

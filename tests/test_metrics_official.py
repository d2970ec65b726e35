"""mosebench score equals the official scorers on generated sets (goldens from the real tools).

``tests/golden/metrics/official.json`` holds what MOSE-api ``score.py`` and davis2017-evaluation
produced on sets from ``tests/support/testdata.py`` (commits and generator
parameters inside; regenerate with ``tests/golden/metrics/make_golden.py``). Here the same sets are
regenerated from their seeds and scored by mosebench. ``official_heavy.json`` does the same for
boundary-heavy sets (:func:`generate_heavy`) and adds the official unrounded per-frame values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.testdata import CaseSpec, HeavySpec, add_void_band, generate_case, generate_heavy, sparsify

from harness.metrics.score import score

GOLDEN = json.loads((Path(__file__).parent / "golden" / "metrics" / "official.json").read_text())


def test_golden_records_commits():
    assert len(GOLDEN["mose_api_commit"]) == 40 and len(GOLDEN["davis2017_evaluation_commit"]) == 40
    assert {"mixed", "many", "sparse"} <= set(GOLDEN["mose"])


@pytest.mark.parametrize("name", sorted(GOLDEN["mose"]))
def test_mose_equals_official_scorer(tmp_path, name):
    case = GOLDEN["mose"][name]
    root = generate_case(tmp_path / name, CaseSpec.from_json(case["spec"]))
    if case["sparse_every"]:
        sparsify(root, case["sparse_every"])  # GT every k-th frame; predictions stay dense
    summary = score(root / "meta.json", root / "Annotations", root / "pred", tmp_path / "out", jobs=1)
    ours = json.loads((tmp_path / "out" / "metrics.json").read_text())
    official = case["metrics"]
    assert ours.keys() == official.keys()
    for key, fields in official.items():
        assert ours[key] == fields, key          # every field, exactly, after the 2-decimal rounding
    assert (tmp_path / "out" / "scores.txt").read_text() == case["scores_txt"]
    assert summary.n_objects == len(official) and summary.n_missing == 0


@pytest.mark.parametrize("name", sorted(GOLDEN["davis"]))
def test_davis_protocol_equals_davis2017_evaluation(tmp_path, name):
    import pandas as pd

    case = GOLDEN["davis"][name]
    root = generate_case(tmp_path / "d", CaseSpec.from_json(case["spec"]))
    if name == "davis_void":
        add_void_band(root)
    summary = score(None, root / "Annotations", root / "pred", tmp_path / "out", protocol="davis", jobs=2)
    objects = pd.read_csv(tmp_path / "out" / "per_object.csv")
    got = {f"{r.video}_{r.object}": r for r in objects.itertuples()}
    assert got.keys() == case["per_object"].keys()
    cols = {"J-Mean": "J", "J-Recall": "J_recall", "J-Decay": "J_decay", "F-Mean": "F", "F-Recall": "F_recall",
            "F-Decay": "F_decay"}
    for key, want in case["per_object"].items():
        for field, col in cols.items():
            assert getattr(got[key], col) == pytest.approx(want[field], abs=1e-12), (key, field)
    g = case["global"]
    for field, value in [("J&F-Mean", summary.JF), ("J-Mean", summary.J), ("J-Recall", summary.J_recall),
                         ("J-Decay", summary.J_decay), ("F-Mean", summary.F), ("F-Recall", summary.F_recall),
                         ("F-Decay", summary.F_decay)]:
        assert value / 100 == pytest.approx(g[field], abs=1e-12), field
    assert summary.JF_hat is None and summary.JF_hat_d is None


HEAVY = json.loads((Path(__file__).parent / "golden" / "metrics" / "official_heavy.json").read_text())


@pytest.mark.parametrize("name", sorted(HEAVY["mose"]))
def test_boundary_heavy_equals_official_per_frame(tmp_path, name):
    """Large notched objects with jagged predictions at up to 720p: where boundary matching dominates.

    Besides the rounded ``metrics.json``, every unrounded per-frame J, F and F̂ must equal what the
    official ``metricsv2`` functions computed (``f_list`` is the adaptive F̂, ``f_list_`` the fixed F).
    """
    import pandas as pd

    assert len(HEAVY["mose_api_commit"]) == 40
    case = HEAVY["mose"][name]
    root = generate_heavy(tmp_path / name, HeavySpec.from_json(case["spec"]))
    score(root / "meta.json", root / "Annotations", root / "pred", tmp_path / "out", jobs=2)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text()) == case["metrics"]
    assert (tmp_path / "out" / "scores.txt").read_text() == case["scores_txt"]
    table = pd.read_parquet(tmp_path / "out" / "per_frame.parquet")
    n = 0
    for (vid, obj), g in table.groupby(["video", "object"]):
        want = case["per_frame"][f"{vid}_{obj}"]
        g = g.sort_values("t")
        assert g["J"].tolist() == want["J"], (vid, obj)
        assert g["F_hat"].tolist() == want["f_list"], (vid, obj)
        assert g["F"].tolist() == want["f_list_"], (vid, obj)
        n += len(g)
    assert n == sum(len(v["J"]) for v in case["per_frame"].values()) > 0

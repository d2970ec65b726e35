"""mosebench score equals the official scorers on generated sets (goldens from the real tools).

``tests/golden/metrics/official.json`` holds what MOSE-api ``score.py`` and davis2017-evaluation
produced on sets from :func:`harness.metrics.testdata.generate_case` (commits and generator
parameters inside; regenerate with ``tests/golden/metrics/make_golden.py``). Here the same sets are
regenerated from their seeds and scored by mosebench.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.metrics.score import score
from harness.metrics.testdata import CaseSpec, add_void_band, generate_case, sparsify

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

"""VOT: tight boxes from masks (empty, border-touching) and tracking scores with plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness import registry, settings
from harness.settings.semi import box_of_mask
from harness.settings.vot import score_vot


def test_box_of_an_empty_mask_is_absent():
    assert box_of_mask(np.zeros((10, 12), bool)) is None


def test_boxes_are_tight_and_pixel_inclusive_at_the_borders():
    m = np.zeros((10, 12), bool)
    m[0, 0] = True
    assert box_of_mask(m) == (0.0, 0.0, 1.0, 1.0)  # one pixel: w = h = 1
    m = np.zeros((10, 12), bool)
    m[3:10, 5:12] = True  # touches the bottom and right borders
    assert box_of_mask(m) == (5.0, 3.0, 7.0, 7.0)
    assert box_of_mask(np.ones((10, 12), bool)) == (0.0, 0.0, 12.0, 10.0)
    m = np.zeros((10, 12), bool)
    m[2, 1] = m[7, 9] = True  # two separate parts: one box around both
    assert box_of_mask(m) == (1.0, 2.0, 9.0, 6.0)


def test_box_of_mask_agrees_with_the_metrics_engine():
    from harness.metrics import vot

    rng = np.random.default_rng(0)
    for _ in range(5):
        m = rng.random((20, 30)) > 0.97
        mine, theirs = box_of_mask(m), vot.box_from_mask(m)
        assert (mine is None and theirs is None) or np.allclose(mine, theirs)


def test_vot_scores_and_plots(synth_data, tmp_path):
    from harness.data import open_dataset

    ds = open_dataset(synth_data)
    method = registry.create("csrt")
    records = {}
    for name in ds.videos[:1]:
        out = []
        records[name] = dict(settings.get("vot")().run(method, ds.video(name), out.append).extra)
    summary = score_vot(records, tmp_path)
    assert summary.n_sequences == sum(len(r["sequences"]) for r in records.values())
    assert 0 < summary.AUC <= 100 and 0 < summary.P <= 100 and 0 < summary.P_norm <= 100
    saved = json.loads((tmp_path / "vot.json").read_text())
    assert saved["summary"]["AUC"] == pytest.approx(summary.AUC)
    assert len(saved["sequences"]) == summary.n_sequences
    assert (tmp_path / "vot_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp files left"


def test_perfect_boxes_score_100_and_absent_predictions_score_0(tmp_path):
    gt = [[10.0, 10.0, 20.0, 30.0], [12.0, 11.0, 20.0, 30.0], [14.0, 12.0, 22.0, 30.0]]
    perfect = {"v": {"sequences": {"1": {"init_frame": 0, "frames": [0, 1, 2], "gt": gt, "pred": gt}}}}
    s = score_vot(perfect)
    # IoU 1 passes every threshold but "> 1.0": 20 of 21 -> AUC 95.24 (LaSOT's curve definition).
    assert s.AUC == pytest.approx(100 * 20 / 21) and s.P == pytest.approx(100.0)
    assert s.P_norm == pytest.approx(100.0)
    lost = {"v": {"sequences": {"1": {"init_frame": 0, "frames": [0, 1, 2], "gt": gt, "pred": [None] * 3}}}}
    assert score_vot(lost).AUC == pytest.approx(0.0, abs=1e-9)

"""VOT, attributes, long-video and bootstrap functions on constructed cases with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from harness.errors import DataError
from harness.metrics.aggregate import VideoInfo, dataset_scores
from harness.metrics.attributes import (
    attribute_table,
    derive_attributes,
    load_attributes,
    long_video_table,
    table9_markdown,
)
from harness.metrics.bootstrap import bootstrap_mean_ci, compare_objects, dataset_ci, paired_bootstrap
from harness.metrics.vot import _plot_pil, box_from_mask, plot_curves, vot_dataset, vot_metrics

NAN = [np.nan] * 4


def test_box_from_mask_pixel_inclusive():
    m = np.zeros((10, 10), bool)
    m[2:5, 3:4] = True
    assert box_from_mask(m) == (3, 2, 1, 3)
    assert box_from_mask(np.zeros((4, 4))) is None


def test_vot_known_answer():
    gt = np.array([[0, 0, 10, 10], [0, 0, 10, 10], NAN, [5, 5, 4, 4]], float)
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 5], [1, 1, 3, 3], NAN], float)
    r = vot_metrics(pred, gt)
    # IoU: 1 (frame 0, given), 0.5, GT empty (failure), 0 (no prediction: the previous box [1, 1, 3, 3]
    # is carried, as pytracking does). IoU 1 > t for 20 thresholds, IoU 0.5 > t (strict) for
    # t = 0..0.45 -> 10: AUC = 30 / (21 * 4)
    assert r.auc == pytest.approx(100 * 30 / 84)
    assert r.success_curve[0] == 50.0 and r.success_curve[10] == 25.0 and r.success_curve[20] == 0.0
    # centre errors 0, 2.5 px, inf, 4.5 * sqrt(2) = 6.36 px; normalised 0, 0.25, inf, 1.59
    assert r.precision == 75.0 and r.precision_curve[2] == 25.0 and r.precision_curve[3] == 50.0
    assert r.precision_curve[6] == 50.0 and r.precision_curve[7] == 75.0
    assert r.norm_precision == 25.0 and r.norm_precision_curve[25] == 50.0
    assert r.n_frames == 4


def test_vot_absent_target_in_p_norm_follows_the_convention():
    gt = np.array([[0, 0, 4, 4], NAN, [0, 0, 4, 4]])
    pred = np.array([[0, 0, 4, 4], [0, 0, 4, 4], [0, 0, 4, 4]])
    lasot = vot_metrics(pred, gt)
    loose = vot_metrics(pred, gt, convention="pytracking")
    # AUC and P: an absent target is a failure in both
    assert lasot.precision == loose.precision == pytest.approx(200 / 3)
    assert lasot.auc == loose.auc
    # P_norm: a failure under LaSOT's visibility flags, a success in pytracking's generic evaluation
    assert lasot.norm_precision == pytest.approx(200 / 3) and loose.norm_precision == pytest.approx(100.0)
    with pytest.raises(ValueError, match="initialisation frame"):
        vot_metrics(pred, np.array([NAN, [0, 0, 4, 4], [0, 0, 4, 4]]))


def test_vot_dataset_averages_sequences(tmp_path):
    a = vot_metrics(np.array([[0, 0, 4, 4]]), np.array([[0, 0, 4, 4]]))
    b = vot_metrics(np.array([NAN, NAN]), np.array([[0, 0, 4, 4], [0, 0, 4, 4]]))
    d = vot_dataset([a, b])
    assert d.auc == pytest.approx((a.auc + b.auc) / 2) and d.n_sequences == 2 and d.n_frames == 3
    assert plot_curves({"a": a, "b": b}, tmp_path / "p.png").stat().st_size > 1000
    assert _plot_pil({"a": a}, tmp_path / "q.png").stat().st_size > 100


def _frames(rows):
    cols = ["video", "object", "t", "gt_area", "gt_cx", "gt_cy", "gt_w", "gt_h"]
    return pd.DataFrame(rows, columns=cols)


def test_derive_attributes():
    rows = []
    for t in range(6):
        # object 1: fast (30 px/frame), disappears at t=2..3 and comes back: FM, DR
        present = t not in (2, 3)
        rows.append(("v", 1, t, 1000 if present else 0, 30.0 * t if present else np.nan, 50.0, 40, 25))
        # object 2: tiny (< 1% of 100x200), box grows 1x1 -> 3x3: DV, SV; absent at the start only: no DR
        present = t >= 2
        rows.append(("v", 2, t, 4 if present else 0, 5.0 if present else np.nan, 5.0, t - 1, t - 1))
    infos = {"v": VideoInfo((1, 2), 100, 200, 8), "long": VideoInfo((1,), 100, 200, 301)}
    rows.append(("long", 1, 0, 5000, 10.0, 10.0, 50, 100))
    d = derive_attributes(_frames(rows), infos)
    assert d[("v", 1)] == {"FM", "DR"}
    assert d[("v", 2)] == {"DV", "SV"}
    assert d[("long", 1)] == {"LD"}
    # the same 30 px steps between GT frames annotated every 5th frame are 6 px/frame: not FM
    sparse = _frames(rows).assign(frame=lambda f: [f"{5 * t:05d}" for t in f["t"]])
    assert derive_attributes(sparse, infos)[("v", 1)] == {"DR"}
    assert derive_attributes(_frames(rows).assign(frame=lambda f: [f"{t:05d}" for t in f["t"]]), infos)[
        ("v", 1)] == {"FM", "DR"}


def _objects():
    # J, F_hat, d/r values (fractions); object c has no d/r clips
    return pd.DataFrame({
        "video": ["a", "a", "b"], "object": [1, 2, 1],
        "J": [0.8, 0.4, 0.6], "F_hat": [0.6, 0.2, 0.4],
        "J_d": [1.0, 0.0, np.nan], "F_hat_d": [1.0, 0.0, np.nan],
        "J_r": [0.5, np.nan, np.nan], "F_hat_r": [0.3, np.nan, np.nan],
        "F": [0.7, 0.3, 0.5],
    })


def test_attribute_table_known_values():
    attrs = {("a", 1): frozenset({"OCC", "DR"}), ("a", 2): frozenset({"OCC"}), ("b", 1): frozenset({"DR"})}
    t = attribute_table(_objects(), attrs, codes=("OCC", "DR", "KD"))
    occ = t[t.attribute == "OCC"].iloc[0]
    assert occ.n_objects == 2 and occ.JF_hat == pytest.approx(50.0)          # ((0.6 + 0.4) / 2) x100
    assert occ.JF_hat_d == pytest.approx(50.0) and occ.JF_hat_r == pytest.approx(40.0)
    dr = t[t.attribute == "DR"].iloc[0]
    assert dr.JF_hat == pytest.approx(60.0) and dr.JF_hat_d == pytest.approx(100.0)
    kd = t[t.attribute == "KD"].iloc[0]
    assert kd.n_objects == 0 and pd.isna(kd.JF_hat)
    overall = t[t.attribute == "Overall"].iloc[0]
    assert overall.JF_hat == pytest.approx(55.0) and overall.JF_hat_r == pytest.approx(40.0)
    md = table9_markdown(t, "m")
    assert md.count("|") > 20 and "| m | 55.0 | 75.0 | 40.0 | 50.0 |" in md


def test_long_video_table_delta():
    infos = {"a": VideoInfo((1, 2), 10, 10, 400), "b": VideoInfo((1,), 10, 10, 50)}
    t = long_video_table(_objects(), infos)
    assert t["n_videos"] == 1 and t["n_objects"] == 2
    assert t["JF_hat"] == pytest.approx(50.0) and t["JF_hat_d"] == pytest.approx(50.0)
    assert t["JF_hat_r"] == pytest.approx(40.0) and t["delta"] == pytest.approx(10.0)


def test_load_attributes_formats(tmp_path):
    infos = {"a": VideoInfo((1, 2), 10, 10, 5)}
    p = tmp_path / "attr.json"
    p.write_text(json.dumps({"videos": {"a": {"1": ["OCC"], "2": ["DR", "OCC"]}, "zzz": {"1": ["X"]}}}))
    assert load_attributes(p, infos) == {("a", 1): {"OCC"}, ("a", 2): {"DR", "OCC"}}
    p.write_text(json.dumps({"a": ["LD"]}))
    assert load_attributes(p, infos) == {("a", 1): {"LD"}, ("a", 2): {"LD"}}
    p.write_text(json.dumps({"videos": {"a": {"x": ["LD"]}}}))
    with pytest.raises(DataError, match="not an object id"):
        load_attributes(p, infos)


def test_dataset_scores_official_arithmetic():
    ds = dataset_scores(_objects(), "mose")
    assert ds["J"] == pytest.approx(60.0) and ds["F_hat"] == pytest.approx(40.0)
    assert ds["JF_hat_d"] == pytest.approx(50.0)     # over the two objects with a d value
    assert ds["JF_hat_r"] == pytest.approx(40.0)     # the only object with an r value


def test_bootstrap_ci():
    assert bootstrap_mean_ci(np.full(10, 0.3)) == pytest.approx((0.3, 0.3))
    v = np.random.default_rng(1).normal(0.5, 0.1, 400)
    lo, hi = bootstrap_mean_ci(v, samples=2000, seed=3)
    assert lo < v.mean() < hi and hi - lo == pytest.approx(2 * 1.96 * v.std() / 20, rel=0.15)
    assert bootstrap_mean_ci(v, seed=3) == bootstrap_mean_ci(v, seed=3)
    assert np.isnan(bootstrap_mean_ci(np.array([np.nan, np.nan]))[0])
    ci = dataset_ci(_objects(), "mose", samples=200)
    assert ci["J"][0] <= 60.0 <= ci["J"][1] and ci["JF_hat_r"] == pytest.approx((40.0, 40.0))


def test_paired_bootstrap():
    a = np.random.default_rng(0).uniform(0, 1, 200)
    shift = paired_bootstrap(a, a + 0.1, samples=999)
    assert shift.diff == pytest.approx(10.0) and (shift.ci_low, shift.ci_high) == pytest.approx((10.0, 10.0))
    assert shift.p_value == pytest.approx(1 / 1000)
    same = paired_bootstrap(a, a.copy(), samples=999)
    assert same.diff == 0.0 and same.p_value == 1.0
    noise = paired_bootstrap(a, a + np.random.default_rng(1).normal(0, 0.05, 200), samples=2000)
    assert noise.ci_low < 0 < noise.ci_high and noise.p_value > 0.05
    real = paired_bootstrap(a, a + 0.02 + np.random.default_rng(2).normal(0, 0.05, 200), samples=2000)
    assert real.ci_low > 0 and real.p_value < 0.01
    with_nan = paired_bootstrap(np.array([0.1, np.nan, 0.5]), np.array([0.2, 0.3, np.nan]))
    assert with_nan.n_objects == 1


def test_compare_objects_needs_common_objects():
    a = _objects()
    b = _objects().assign(video=["x", "y", "z"])
    with pytest.raises(DataError, match="share no"):
        compare_objects(a, b, "mose")
    res = compare_objects(a, _objects().assign(J=lambda d: d.J + 0.1), "mose", samples=300)
    assert res["J"].diff == pytest.approx(10.0) and res["F_hat"].diff == 0.0

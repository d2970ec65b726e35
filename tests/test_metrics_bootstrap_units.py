"""Bootstrap resampling unit: videos by default (objects of one video are correlated), objects on request."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.metrics.bootstrap import compare_objects, dataset_ci


def _table(values_per_video: list[list[float]]) -> pd.DataFrame:
    rows = [{"video": f"v{i}", "object": k + 1, "J": v, "F_hat": v, "J_d": v, "F_hat_d": v, "J_r": v, "F_hat_r": v,
             "F": v} for i, vs in enumerate(values_per_video) for k, v in enumerate(vs)]
    return pd.DataFrame(rows)


def test_correlated_objects_give_a_wider_video_interval():
    # 4 videos x 5 objects; within a video every object scores the same (perfect correlation)
    t = _table([[v] * 5 for v in (0.1, 0.9, 0.2, 0.8)])
    lo_v, hi_v = dataset_ci(t, "mose", samples=2000, seed=1)["J"]
    lo_o, hi_o = dataset_ci(t, "mose", samples=2000, seed=1, unit="object")["J"]
    assert (hi_v - lo_v) > 1.5 * (hi_o - lo_o)
    assert lo_v <= 50 <= hi_v and lo_o <= 50 <= hi_o
    # the video bootstrap can only reach means of whole videos: its extremes are video values
    assert lo_v >= 10 - 1e-9 and hi_v <= 90 + 1e-9


def test_one_object_per_video_makes_the_units_equal():
    t = _table([[v] for v in np.random.default_rng(0).random(12)])
    assert dataset_ci(t, "mose", samples=500) == dataset_ci(t, "mose", samples=500, unit="object")


def test_paired_comparison_resamples_videos_by_default():
    a = _table([[v] * 4 for v in (0.3, 0.5, 0.4, 0.6, 0.2)])
    # B is better by +0.05 on three videos and worse by 0.05 on two, for all of their objects
    b = a.copy()
    b["J"] = b["J"] + np.where(b["video"].isin(["v0", "v1", "v2"]), 0.05, -0.05)
    by_video = compare_objects(a, b, "mose", samples=4000, seed=2)["J"]
    by_object = compare_objects(a, b, "mose", samples=4000, seed=2, unit="object")["J"]
    assert by_video.diff == pytest.approx(by_object.diff) == pytest.approx(1.0)
    assert (by_video.ci_high - by_video.ci_low) > 1.5 * (by_object.ci_high - by_object.ci_low)
    assert by_video.p_value > by_object.p_value


def test_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="unit"):
        dataset_ci(_table([[0.5]]), "mose", unit="frame")

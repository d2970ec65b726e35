"""The scribble robot: strokes lie inside the error regions they correct."""

from __future__ import annotations

import time

import numpy as np
import pytest

from harness.settings import robot


def blob(shape, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    m = np.zeros(shape, bool)
    for _ in range(3):
        cx, cy = rng.integers(10, shape[1] - 10), rng.integers(10, shape[0] - 10)
        a, b = rng.integers(6, 25, 2)
        m |= ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1
    return m


def assert_on_region(stroke, region):
    xs, ys = stroke[:, 0].astype(int), stroke[:, 1].astype(int)
    assert np.array_equal(stroke, np.round(stroke)), "strokes are pixel centres"
    assert region[ys, xs].all(), "a stroke left its error region"
    steps = np.abs(np.diff(stroke, axis=0))
    assert steps.max() <= 1, "consecutive stroke points are 8-neighbours"


@pytest.mark.parametrize("seed", range(6))
def test_strokes_lie_inside_the_region(seed):
    region = blob((90, 120), seed)
    s = robot.strokes(region)
    assert s, "a solid blob gets at least one stroke"
    for st in s:
        assert len(st) >= robot.RobotConfig().min_nodes
        assert_on_region(st, region)
    again = robot.strokes(region.copy())
    assert len(again) == len(s) and all(np.array_equal(a, b) for a, b in zip(s, again)), "deterministic"


def test_interact_draws_positive_strokes_on_misses_and_negative_on_false_alarms():
    gt = np.zeros((80, 100), np.uint8)
    gt[10:50, 10:50] = 1
    gt[20:60, 60:90] = 2
    pred = np.zeros_like(gt)
    pred[10:50, 10:28] = 1  # object 1: right part missed (FN 40x22)
    pred[55:78, 5:45] = 1  # object 1: false alarm below (FP 23x40)
    pred[20:60, 60:90] = 2  # object 2: perfect
    out = robot.interact(pred, gt, [1, 2], frame=7)
    assert set(out) == {1}
    p = out[1]
    assert p.frame == 7 and p.obj_id == 1 and p.positive and p.negative
    fn = (gt == 1) & (pred != 1)
    fp = (pred == 1) & (gt != 1)
    for st in p.positive:
        assert_on_region(st, fn)
    for st in p.negative:
        assert_on_region(st, fp)


def test_thin_slivers_get_no_stroke_but_thin_objects_do_on_the_first_interaction():
    sliver = np.zeros((200, 60), bool)
    sliver[20:180, 30:32] = True  # 2 px wide, 160 px long: a boundary-style error
    assert robot.strokes(sliver) == []
    first = robot.strokes(sliver, keep_thin=True)
    assert first and len(first[0]) >= 120
    assert_on_region(first[0], sliver)


def test_large_regions_are_fast_and_still_inside():
    region = np.zeros((1080, 1920), bool)
    region[100:900, 200:1500] = True
    region[300:500, 400:700] = False
    t0 = time.perf_counter()
    s = robot.strokes(region)
    elapsed = time.perf_counter() - t0
    assert s and len(s[0]) > 500
    for st in s:
        assert_on_region(st, region)
    assert elapsed < 3.0, f"robot took {elapsed:.2f} s on a 1080p region"


def test_scribbles_convert_to_clicks_at_stroke_middles():
    gt = np.zeros((80, 100), np.uint8)
    gt[10:50, 10:60] = 1
    pred = np.zeros_like(gt)
    pred[60:78, 60:98] = 1
    sp = robot.interact(pred, gt, [1], frame=3)[1]
    pp = robot.scribble_to_points(sp)
    assert pp.frame == 3 and pp.obj_id == 1
    assert pp.labels == (1,) * len(sp.positive) + (0,) * len(sp.negative)
    for (x, y), lab in zip(pp.points, pp.labels):
        region = (gt == 1) & (pred != 1) if lab == 1 else (pred == 1) & (gt != 1)
        assert region[int(y), int(x)]


@pytest.mark.parametrize("seed", range(3))
def test_cropped_robot_equals_the_full_frame_robot(seed):
    region = blob((90, 120), seed)
    region[:, :4] |= region[:, 4:5]  # reach the border
    full = robot._strokes_in(region, robot.RobotConfig(), False)
    crop = robot.strokes(region)
    assert len(full) == len(crop) and all(np.array_equal(a, b) for a, b in zip(full, crop))

"""Hand-computed cases for the per-frame metrics, boundaries, disks and clip rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support.reference import _f as full_frame_f

from harness.metrics.boundary import disk, disk_rects, f_measures, seg2bmap, seg2bmap_fast
from harness.metrics.clips import clip_mean, find_clips
from harness.metrics.frame import boundary_radii, measure_frame, score_frame
from harness.metrics.region import diagonal, jaccard_davis, jaccard_mose


def _frame(h, w, boxes):
    a = np.zeros((h, w), np.uint8)
    for oid, (y0, y1, x0, x1) in boxes.items():
        a[y0:y1, x0:x1] = oid
    return a


def test_four_pixel_object_shifted_by_two():
    # 100x100: D = 141.42, 0.008 D = 1.131; A = 4 -> w = ceil(0.2) = 1 < 1.131, so F uses r = 2, F̂ r = 1.
    gt = _frame(100, 100, {1: (10, 12, 10, 12)})
    pred = _frame(100, 100, {1: (10, 12, 12, 14)})
    assert boundary_radii(4, 100, 100) == (2.0, 1.0)
    s = score_frame(pred, gt, [1])[1]
    assert s.J == pytest.approx(1 / 9)          # (0 + 1) / (8 + 1)
    assert s.F == 1.0                           # every boundary pixel within the 5x5 disk of the other
    assert s.F_hat == pytest.approx(5 / 8)      # cross-shaped r=1 disk: 5 of 8 pixels matched each way
    d = score_frame(pred, gt, [1], protocol="davis")[1]
    assert d.J == 0.0 and d.F_hat is None and d.F == 1.0   # DAVIS: r = ceil(1.131) = 2


def test_perfect_four_pixel_object_with_empty_disk_kernel():
    # 20x20: r = 0.008 * 28.28 = 0.226 (A = 4 -> w = 1 >= r, so both F use the unrounded r). No grid
    # point of disk(0.226) lies inside it; OpenCV then uses the kernel's top-left element only (a shift
    # by one pixel down-right), and a perfect prediction scores F = 2/8 each way = 0.25. We reproduce it.
    gt = _frame(20, 20, {1: (4, 6, 4, 6)})
    assert not disk(0.008 * diagonal(20, 20)).any()
    assert disk_rects(0.008 * diagonal(20, 20)).tolist() == [[-1, -1, -1, -1]]
    s = score_frame(gt.copy(), gt, [1])[1]
    assert s.J == 1.0 and s.F == pytest.approx(0.25) and s.F_hat == pytest.approx(0.25)


def test_disk_non_integer_radius_by_hand():
    # arange(-1.6, 2.6) = [-1.6, -0.6, 0.4, 1.4, 2.4]; x^2 + y^2 <= 2.56
    expected = np.array([[0, 0, 0, 0, 0], [0, 1, 1, 1, 0], [0, 1, 1, 1, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 0]])
    assert np.array_equal(disk(1.6), expected)
    assert np.array_equal(disk(1), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])


def test_disk_matches_skimage():
    skm = pytest.importorskip("skimage.morphology")
    for r in (0.5, 0.82, 1, 1.6, 2.3, 3.0, 4.999, 5.76, 7.5, 11.749, 15.2):
        assert np.array_equal(disk(r), skm.disk(r)), r


def test_seg2bmap_by_hand_and_fast_path():
    seg = np.zeros((3, 3), bool)
    seg[1, 1] = True
    assert seg2bmap(seg).astype(int).tolist() == [[1, 1, 0], [1, 1, 0], [0, 0, 0]]
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = rng.random(tuple(rng.integers(1, 25, 2))) < rng.random()
        assert np.array_equal(seg2bmap(m), seg2bmap_fast(m).astype(bool))


def test_boundary_empty_cases():
    empty = np.zeros((10, 10), bool)
    one = np.zeros((10, 10), bool)
    one[3:6, 3:6] = True
    b = seg2bmap(one)
    assert f_measures(empty, empty, (2.0,)) == (1.0,)
    assert f_measures(b, empty, (2.0,)) == (0.0,)
    assert f_measures(empty, b, (2.0,)) == (0.0,)


def test_region_conventions():
    assert jaccard_mose(0, 0) == 1.0 and jaccard_davis(0, 0) == 1.0
    assert jaccard_mose(0, 9) == pytest.approx(0.1)          # empty GT, 9-pixel prediction: 1 / (9 + 1)
    assert jaccard_davis(0, 9) == 0.0
    assert jaccard_mose(5, 5) == 1.0 and jaccard_mose(2, 6) == pytest.approx(3 / 7)
    assert diagonal(720, 1280) == float(np.linalg.norm((720, 1280)))


def test_adaptive_radii_rules():
    d = diagonal(720, 1280)
    assert boundary_radii(100, 720, 1280) == (math.ceil(0.008 * d), 1.0)   # w = ceil(0.1*10) = 1
    assert boundary_radii(200_000, 720, 1280) == (0.008 * d, 0.008 * d)     # large: unrounded 11.749
    assert boundary_radii(0, 720, 1280) == (0.008 * d, 0.008 * d)           # empty GT: ceil(0.1 D) -> min


def test_boundary_coverage_equals_cv2_dilation():
    rng = np.random.default_rng(3)
    for trial in range(150):
        h, w = (int(v) for v in rng.integers(2, 40, 2))
        p = rng.random((h, w)) < rng.random() * 0.5
        g = rng.random((h, w)) < rng.random() * 0.5
        r = float(rng.choice([0.3, 0.51, 0.8, 1, 1.6, 2, 2.7, 3, 4.4, 6.0, 11.749]))
        want = full_frame_f(p.astype(np.uint8), g.astype(np.uint8), r)
        assert f_measures(seg2bmap(p), seg2bmap(g), (r,))[0] == want, (trial, r)


def test_cropped_frame_equals_full_frame():
    from support.reference import _bmap  # noqa: F401  (reference path used below)

    rng = np.random.default_rng(5)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(5, 70, 2))
        gt = np.zeros((h, w), np.uint8)
        pred = np.zeros((h, w), np.uint8)
        for oid in (1, 2):
            for arr in (gt, pred):
                if rng.random() < 0.8:
                    y, x = rng.integers(0, h), rng.integers(0, w)
                    arr[y: y + rng.integers(1, h), x: x + rng.integers(1, w)] = oid
        m = measure_frame(pred, gt, [1, 2])
        for i, oid in enumerate((1, 2)):
            g = (gt == oid).astype(np.uint8)
            p = (pred == oid).astype(np.uint8)
            r_f, r_hat = boundary_radii(int(g.sum()), h, w)
            assert m.F[i] == full_frame_f(p, g, r_f) and m.F_hat[i] == full_frame_f(p, g, r_hat)
            union = int((g | p).sum())
            assert m.J[i] == (1.0 if union == 0 else min(1.0, (int((g & p).sum()) + 1) / (union + 1)))


def test_measure_frame_boxes_and_centroid():
    gt = _frame(10, 12, {1: (2, 4, 3, 7)})
    m = measure_frame(np.zeros_like(gt), gt, [1, 2])
    assert m.gt_box[0].tolist() == [3, 2, 4, 2] and np.isnan(m.gt_box[1]).all()
    assert np.isnan(m.pred_box).all()
    assert (m.gt_cx[0], m.gt_cy[0]) == (4.5, 2.5)
    assert m.J[1] == 1.0 and m.F[1] == 1.0      # absent and not predicted


@pytest.mark.parametrize("flags, d, r", [
    ([0, 0, 1, 1, 0, 0], [(2, 4)], [(4, 6)]),                 # one disappearance, one reappearance
    ([1, 1, 0, 0], [], [(2, 4)]),                              # absent at the first scored frame: no d-clip
    ([0, 1, 0, 1, 1, 0], [(1, 2), (3, 5)], [(2, 3), (5, 6)]),  # repeated disappearance
    ([0, 0, 1, 1], [(2, 4)], []),                              # gone until the end
    ([1, 1, 1], [], []),
    ([0, 0, 0], [], []),
    ([], [], []),
])
def test_clip_rules(flags, d, r):
    clips = find_clips(np.array(flags, bool))
    assert list(clips.disappear) == d and list(clips.reappear) == r


def test_clip_mean_is_unweighted_over_clips():
    v = [1, 2, 3, 4, 5, 6]
    assert clip_mean(v, [(1, 2), (3, 5)]) == pytest.approx((2 + 4.5) / 2)
    assert clip_mean(v, []) is None

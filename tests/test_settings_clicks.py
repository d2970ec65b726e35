"""Click placement for the point settings: constructed masks with known answers."""

from __future__ import annotations

import numpy as np

from harness.settings.clicks import farthest_interior_point, interior_distance, next_click, place_clicks


def disk(shape, cx, cy, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r


def test_first_click_is_the_disk_centre():
    m = disk((60, 80), 40, 30, 12)
    ck = next_click(m)
    assert (ck.x, ck.y, ck.rule) == (40, 30, "interior")
    assert ck.radius == interior_distance(m).max()


def test_first_click_goes_to_the_thick_part_of_an_l_shape():
    m = np.zeros((60, 80), bool)
    m[5:55, 5:11] = True  # thin vertical bar (6 px)
    m[35:55, 5:45] = True  # thick foot (20 px)
    ck = next_click(m)
    assert 35 <= ck.y < 55 and 11 <= ck.x < 45
    assert ck.radius >= 9.5


def test_image_border_counts_as_boundary():
    m = np.zeros((50, 50), bool)
    m[0:20, 0:20] = True  # touches the top and left borders
    ck = farthest_interior_point(m)
    # With the border as boundary the farthest point is the square's centre, not the corner region.
    assert abs(ck.x - 9.5) <= 0.5 and abs(ck.y - 9.5) <= 0.5
    assert ck.radius == 10.0


def test_ties_go_to_the_centre_of_the_tied_pixels():
    m = np.zeros((30, 60), bool)
    m[10:20, 5:55] = True  # the distance maximum is a horizontal run of pixels
    ck = next_click(m)
    assert ck.y in (14, 15) and abs(ck.x - 29.5) <= 0.5


def test_later_clicks_without_feedback_go_to_the_remaining_mask():
    big = disk((80, 120), 35, 40, 14)
    small = disk((80, 120), 95, 40, 6)
    clicks = place_clicks(big | small, 2)
    assert (clicks[0].x, clicks[0].y) == (35, 40)
    assert (clicks[1].x, clicks[1].y, clicks[1].rule) == (95, 40, "remaining")


def test_later_clicks_with_feedback_go_to_what_the_method_missed():
    big = disk((80, 120), 35, 40, 14)
    small = disk((80, 120), 95, 40, 6)
    mask = big | small
    first = next_click(mask)
    # The method segmented the small blob only (the click was elsewhere): next click in the big one.
    pred = small.copy()
    second = next_click(mask, [first], prediction=pred)
    assert second.rule == "feedback" and big[second.y, second.x]
    assert (second.x, second.y) != (first.x, first.y)
    # Full coverage by the method: fall back to the remaining-mask rule.
    third = next_click(mask, [first], prediction=mask)
    assert third.rule == "remaining" and (third.x, third.y) == (95, 40)


def test_thin_objects_get_distinct_clicks_then_stop():
    m = np.zeros((20, 20), bool)
    m[10, 4:8] = True  # 4 pixels, 1 px thick
    clicks = place_clicks(m, 6)
    coords = [(c.x, c.y) for c in clicks]
    assert len(coords) == 4 and len(set(coords)) == 4
    assert all(m[y, x] for x, y in coords)
    assert clicks[1].rule in ("remaining", "farthest")


def test_empty_mask_gives_no_click_and_placement_is_deterministic():
    assert next_click(np.zeros((10, 10), bool)) is None
    rng = np.random.default_rng(3)
    m = np.zeros((64, 64), bool)
    for _ in range(4):
        m |= disk((64, 64), *rng.integers(8, 56, 2), int(rng.integers(3, 10)))
    a, b = place_clicks(m, 5), place_clicks(m.copy(), 5)
    assert a == b
    assert all(m[c.y, c.x] for c in a)


def test_cropped_placement_equals_the_full_frame_rule():
    from harness.settings.clicks import _next_click, _pick_max

    rng = np.random.default_rng(7)
    for k in range(6):
        m = np.zeros((70, 90), bool)
        for _ in range(3):
            m |= disk((70, 90), *rng.integers(0, 90, 1), *rng.integers(0, 70, 1), int(rng.integers(4, 15)))
        if k % 2:
            m[:, :3] = True  # touch the left border too
        r, c = _pick_max(interior_distance(m))
        first = next_click(m)
        assert (first.x, first.y) == (c, r)
        full = []
        for _ in range(4):  # the same rule on the uncropped frame
            ck = _next_click(m, full, None)
            if ck is None:
                break
            full.append(ck)
        assert place_clicks(m, 4) == full

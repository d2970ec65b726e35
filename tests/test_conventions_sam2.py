"""SAM2 conventions checked against the original code's own outputs (tests/golden/conventions).

``sam2_conventions.json`` holds what facebookresearch/sam2's ``tools/vos_inference.py
put_per_obj_mask`` and ``sam2/utils/misc.py mask_to_box`` returned on constructed masks (the
commit is recorded in the file; made by ``make_sam2_conventions.py`` in a fetched checkout).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.boxes import box_of_mask
from harness.data.masks import masks_to_labels

GOLDEN = json.loads((Path(__file__).parent / "golden" / "conventions" / "sam2_conventions.json").read_text())


def test_golden_records_the_reference_commit():
    assert GOLDEN["source"] == "facebookresearch/sam2" and len(GOLDEN["commit"]) == 40


def test_label_merge_matches_vos_inference_on_overlaps():
    masks = {int(k): np.array(v, bool) for k, v in GOLDEN["merge"]["masks"].items()}
    expected = np.array(GOLDEN["merge"]["labels"], np.uint8)
    # the constructed masks do overlap, so the rule is exercised
    overlap = sum(m.astype(int) for m in masks.values()) > 1
    assert overlap.sum() >= 3
    got = masks_to_labels(masks, tuple(GOLDEN["shape"]))
    np.testing.assert_array_equal(got, expected)
    # order of the mapping does not matter
    got = masks_to_labels(dict(sorted(masks.items(), reverse=True)), tuple(GOLDEN["shape"]))
    np.testing.assert_array_equal(got, expected)


def test_sam2_box_equals_sam2_mask_to_box():
    from adapters.sam2_vos import sam2_box

    for m, want in zip(GOLDEN["mask_to_box"]["masks"], GOLDEN["mask_to_box"]["boxes_xyxy"]):
        got = sam2_box(box_of_mask(np.array(m, bool)))
        assert got.tolist() == [float(v) for v in want]


def test_box_prompt_reaches_the_predictor_in_sam2_convention():
    """The box the SAM2 predictor receives for a mask's box is sam2's own mask_to_box of that mask."""
    pytest.importorskip("sam2")
    torch = pytest.importorskip("torch")
    from _methods_video import moving_objects

    from harness import registry
    from harness.api import BoxPrompt

    torch.set_num_threads(1)
    method = registry.create("sam2-t", {"random_init": True, "seed": 0, "image_size": 64})
    video, _ = moving_objects(frames=2, size=(48, 64), late_start=None)
    seen = []
    with method.open_session(video) as s:
        real = s.predictor.add_new_points_or_box

        def spy(*args, **kwargs):
            seen.append(np.asarray(kwargs["box"]).tolist())
            return real(*args, **kwargs)

        s.predictor.add_new_points_or_box = spy
        for k, m in enumerate(GOLDEN["mask_to_box"]["masks"], start=1):
            s.add_prompt(BoxPrompt(0, k, box_of_mask(np.array(m, bool))))
    assert seen == [[float(v) for v in b] for b in GOLDEN["mask_to_box"]["boxes_xyxy"]]

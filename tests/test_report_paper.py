"""The paper's numbers shipped with mosebench: present, cited, self-consistent, matched by explicit labels."""

from __future__ import annotations

import pytest

from harness.report import paper


@pytest.mark.parametrize("number", paper.TABLES)
def test_every_table_loads_with_numbers(number):
    t = paper.load(number)
    assert t.rows and t.columns
    assert any(v is not None for row in t.rows.values() for v in row.values())


def test_table4_is_internally_consistent():
    """J&F̂ = (J+F̂)/2 and J&F = (J+F)/2 within the paper's rounding, for every row (catches a shifted column)."""
    for label, r in paper.load(4).rows.items():
        assert abs(r["mosev2_JF_hat"] - (r["mosev2_J"] + r["mosev2_F_hat"]) / 2) <= 0.1, label
        assert abs(r["mosev2_JF"] - (r["mosev2_J"] + r["mosev2_F"]) / 2) <= 0.1, label


def test_values_the_text_states():
    """Numbers the paper's sentences repeat (Sec. 4): the columns are where the text says."""
    assert paper.load(4).rows["SAM2-B+"]["mosev2_JF"] == 47.1
    assert paper.load(4).rows["Cutie-B"]["mosev2_JF_hat_r"] == 18.3
    assert paper.load(5).rows["SAM2Long-L"]["mosev2_JF"] == 51.5
    assert paper.load(6).rows["SAM2Long-L"]["mosev2_JF_hat_1clk"] == 48.5
    assert paper.load(7).rows["DEVA"]["mosev2_JF"] == 36.0
    assert paper.load(8).rows["STCN"]["mosev2_JF_at_60s"] == 54.1
    assert paper.load(10).rows["SAMURAI-L"]["mosev2_AUC"] == 36.1


def test_lost_columns_stay_empty():
    assert all(r["mosev2_JF"] is None for r in paper.load(8).rows.values())
    assert paper.load(5).rows["SAM2Long-L"]["davis17_JF"] is None


def test_row_matching_is_explicit():
    assert paper.load(5).row_for("sam2-b+")[0] == "SAM2-B+"
    assert paper.load(4).row_for("sam2-l")[0] == "SAM2-L (ZS)"
    assert paper.load(11).row_for("sam2-l")[0] == "SAM2"
    assert paper.load(4).row_for("flow") is None
    assert paper.load(4).row_for("sam2-t") is None

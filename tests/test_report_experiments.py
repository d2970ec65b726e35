"""The paper's experiment files (configs/experiment/paper-table*.yaml) load, plan and fit `mosebench report`."""

from __future__ import annotations

import pytest

from harness.config import expand_cells, load_experiment
from harness.report import layouts
from harness.runner.plan import check_capabilities, make_setting

SETTINGS = {4: {"mask"}, 5: {"box"}, 6: {"point1", "point3", "point5"}, 7: {"unsupervised"}, 8: {"interactive"},
            9: {"mask"}, 10: {"vot"}, 11: {"mask"}}


def _with_checkpoints(methods: set[str], tmp_path) -> list[str]:
    """Overrides giving each SAM2 size among ``methods`` a checkpoint file (weights are never downloaded)."""
    out = []
    for m in sorted(x for x in methods if x.startswith("sam2-")):
        ckpt = tmp_path / f"{m}.pt"
        ckpt.write_bytes(b"not loaded: planning only")
        out.append(f"method.{m}.ckpt={ckpt}")
    return out


@pytest.mark.parametrize("number", sorted(SETTINGS))
def test_paper_experiment_plans(number, tmp_path):
    cfg = load_experiment(f"paper-table{number}")
    used = {c.method for c in expand_cells(cfg)}
    cfg = load_experiment(f"paper-table{number}", _with_checkpoints(used, tmp_path))
    cells = expand_cells(cfg)
    check_capabilities(cfg, cells)  # every method can run every setting it is listed for
    assert {c.setting for c in cells} == SETTINGS[number]
    assert {c.dataset for c in cells} == {"mosev2-valid"}
    assert cfg.cluster.executor == "slurm"
    if number in layouts.LAYOUTS:  # the report lays out what the experiment produces
        assert set(layouts.LAYOUTS[number].settings) == SETTINGS[number]


def test_interactive_protocol_is_the_papers():
    cfg = load_experiment("paper-table8")
    s = make_setting(cfg, "interactive")
    assert s.cfg.max_interactions == 8 and s.cfg.seconds_per_object_interaction == 30.0


def test_sam2_sizes_of_the_mask_table():
    cells = expand_cells(load_experiment("paper-table4"))  # planning without checkpoints: cells only
    assert {"sam2-t", "sam2-s", "sam2-b+", "sam2-l"} <= {c.method for c in cells}

"""Every scoring kind a setting can declare goes through the runner to a cell summary (tiny data)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from _runner_common import PLUGIN, smoke

from harness.config import load_experiment
from harness.runner.driver import run_experiment


def _summary(tmp: Path, data: Path, *over: str) -> dict:
    cfg = load_experiment("smoke", smoke(tmp, data, f"plugins=[{PLUGIN}]", "dataset.max_videos=1", *over)[1:])
    out = run_experiment(cfg, quiet=True)
    assert not out.incomplete and not out.failures, out
    cell = out.cells[0]
    return json.loads((out.run_dir / cell / "summary.json").read_text())


def test_unsupervised_interactive_and_vot_cells_are_scored(tmp_path: Path, synth_data: Path) -> None:
    uns = _summary(tmp_path / "u", synth_data, "method=halves", "setting=unsupervised")
    assert {"JF_hat", "J", "F_hat"} <= set(uns["metrics"]) and 0 <= uns["metrics"]["JF_hat"] <= 100
    assert any((tmp_path / "u").glob("results/runs/smoke/*/halves--unsupervised--synth-tiny/scores/per_object.csv"))

    inter = _summary(tmp_path / "i", synth_data, "method=click-discs", "setting=interactive",
                     "setting.options={max_interactions: 2}")
    assert set(inter["metrics"]) >= {"AUC", "JF_at_60s", "JF", "fps"}
    assert "time_threshold_s" not in inter["metrics"]
    assert all(0 <= inter["metrics"][k] <= 100 for k in ("AUC", "JF_at_60s", "JF"))

    vot = _summary(tmp_path / "v", synth_data, "method=csrt", "setting=vot")
    assert set(vot["metrics"]) >= {"AUC", "P", "P_norm"} and not math.isnan(vot["metrics"]["AUC"])

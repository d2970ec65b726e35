"""Every scoring kind a setting can declare goes through the runner to a cell summary (tiny data)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from _runner_common import PLUGIN, smoke

from harness.config import load_experiment
from harness.runner.driver import run_experiment

ORACLE = str(Path(__file__).resolve().parent / "_oracle_plugins.py")


def _summary(tmp: Path, data: Path, *over: str, plugin: str = PLUGIN) -> dict:
    cfg = load_experiment("smoke", smoke(tmp, data, f"plugins=[{plugin}]", "dataset.max_videos=1", *over)[1:])
    out = run_experiment(cfg, quiet=True)
    assert not out.incomplete and not out.failures, out
    cell = out.cells[0]
    return json.loads((out.run_dir / cell / "summary.json").read_text())


def test_unsupervised_interactive_and_vot_cells_are_scored(tmp_path: Path, synth_data: Path) -> None:
    uns = _summary(tmp_path / "u", synth_data, "method=halves", "setting=unsupervised")
    assert {"JF_hat", "J", "F_hat"} <= set(uns["metrics"])
    assert any((tmp_path / "u").glob("results/runs/smoke/*/halves--unsupervised--synth-tiny/scores/per_object.csv"))

    inter = _summary(tmp_path / "i", synth_data, "method=click-discs", "setting=interactive",
                     "setting.options={max_interactions: 2}")
    assert set(inter["metrics"]) >= {"AUC", "JF_at_60s", "JF", "fps"}
    assert "time_threshold_s" not in inter["metrics"]
    assert all(not math.isnan(inter["metrics"][k]) for k in ("AUC", "JF_at_60s", "JF"))

    vot = _summary(tmp_path / "v", synth_data, "method=csrt", "setting=vot")
    assert set(vot["metrics"]) >= {"AUC", "P", "P_norm"} and not math.isnan(vot["metrics"]["AUC"])


def _objects(data: Path, video: str) -> int:
    import numpy as np
    from PIL import Image

    ids = set()
    for png in (data / "Annotations" / video).glob("*.png"):
        ids |= set(np.unique(np.asarray(Image.open(png))).tolist())
    return len(ids - {0})


def test_known_answers_of_each_scoring_kind(tmp_path: Path, synth_data: Path) -> None:
    """A method that returns the ground truth (tests/_oracle_plugins.py) has answers known a priori.

    Unsupervised, under reversed ids: the scorer matches proposals to objects, so J = F̂ = J&F̂ = 100;
    scored as semi-supervised VOS (ids compared) the same masks are far from 100, so a cell scored
    with the wrong kind fails. Interactive, perfect from the first round: J&F = J&F@60s = 100 and,
    by the DAVIS definition (curve from (0, 0) to (t1, 1), flat to the time-out T = objects x
    max_interactions x 30 s), AUC = 100 (1 - t1 / 2T) with T from the setting's own options.
    """
    oracle = ("method=gt-oracle", f"method.root={synth_data}")
    uns = _summary(tmp_path / "u", synth_data, *oracle, "method.reverse_ids=true", "setting=unsupervised",
                   plugin=ORACLE)["metrics"]
    assert (uns["J"], uns["F_hat"], uns["JF_hat"]) == (100.0, 100.0, 100.0), uns
    vos = _summary(tmp_path / "m", synth_data, *oracle, "method.reverse_ids=true", "setting=mask",
                   plugin=ORACLE)["metrics"]
    assert vos["JF_hat"] < 50, vos  # ids compared: reversed ids miss (the scoring kinds differ)

    inter = _summary(tmp_path / "i", synth_data, *oracle, "setting=interactive",
                     "setting.options={max_interactions: 2, seconds_per_object_interaction: 10}",
                     plugin=ORACLE)["metrics"]
    assert (inter["JF"], inter["JF_at_60s"]) == (100.0, 100.0), inter
    doc = json.loads(next((tmp_path / "i").glob("results/runs/smoke/*/gt-oracle--interactive--synth-tiny"
                                                 "/scores/interactive.json")).read_text())
    from harness.data import open_dataset

    video = open_dataset(synth_data).videos[0]
    timeout = _objects(synth_data, video) * 2 * 10.0  # the options above, not the defaults (8 x 30 s)
    assert doc["global_timeout_s"] == timeout, doc
    t1 = doc["curve_time_s"][1]
    assert 0 < t1 < 60
    assert inter["AUC"] == pytest.approx(100.0 * (1 - t1 / (2 * timeout)), rel=1e-12), (inter, doc)

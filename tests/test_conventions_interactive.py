"""Interactive summary against davisinteractive's own ``EvaluationService.summarize_report``, and the
runner's interactive scoring using the setting's options.

``golden/conventions/interactive_davisinteractive.json``: a constructed interactive result (3
videos, 1-3 objects, a time-out and an early stop, non-default options) and the AUC / J&F at the
threshold that davisinteractive 1.0.4 computed on it (``run_davisinteractive.py``, outputs only).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.errors import ConfigError, DataError
from harness.metrics.interactive import InteractiveVideo, SummaryOptions, summarize_interactive
from harness.settings.interactive import InteractiveConfig, InteractiveSetting

GOLDEN = json.loads((Path(__file__).parent / "golden" / "conventions" / "interactive_davisinteractive.json")
                    .read_text())


def _details(v: dict) -> dict:
    """A video's details as the interactive setting stores them: per-object means over frames."""
    rounds = []
    for r in v["rounds"]:
        objs = {}
        for o, frames in r["per_frame"].items():
            j, f = np.mean(np.array(frames), axis=0)
            objs[o] = {"J": float(j), "F": float(f), "F_hat": float(f)}
        rounds.append({"interaction": r["interaction"], "frame": r["frame"], "time_s": r["time_s"],
                       "counted": r["counted"], "objects": objs})
    return {"kind": "interactive", "objects": v["objects"], "rounds": rounds, "scribbled_frames": [],
            "time_budget_s": 0.0, "stop_reason": "", "prompt_kind": "scribble"}


def _records() -> dict[str, dict]:
    return {v["name"]: {"details": _details(v)} for v in GOLDEN["videos"]}


def _options() -> SummaryOptions:
    o = GOLDEN["options"]
    return SummaryOptions(o["max_interactions"], o["seconds_per_object_interaction"], o["time_threshold_s"])


def test_summary_equals_davisinteractive():
    videos = [InteractiveVideo.from_json(r["details"], k) for k, r in sorted(_records().items())]
    s = summarize_interactive(videos, _options())
    assert s.AUC == pytest.approx(100 * GOLDEN["AUC"], abs=1e-9)
    assert s.JF_at_60s == pytest.approx(100 * GOLDEN["JF_at_threshold"], abs=1e-9)
    assert s.curve_time_s == pytest.approx(GOLDEN["curve_time"])
    assert s.curve_value == pytest.approx([100 * v for v in GOLDEN["curve_JF"]])


def test_runner_scoring_uses_the_settings_options(tmp_path):
    """Scoring with the DAVIS defaults instead of the setting's options gives other numbers."""
    from harness.runner.scoring import score_cell

    o = GOLDEN["options"]
    setting = InteractiveSetting(cfg=InteractiveConfig(
        max_interactions=o["max_interactions"], seconds_per_object_interaction=o["seconds_per_object_interaction"],
        time_threshold_s=o["time_threshold_s"]))
    res = score_cell(setting, None, None, _records(), tmp_path / "pred", tmp_path)
    assert res["metrics"]["AUC"] == pytest.approx(100 * GOLDEN["AUC"], abs=1e-9)
    assert res["metrics"]["JF_at_60s"] == pytest.approx(100 * GOLDEN["JF_at_threshold"], abs=1e-9)
    assert res["n_objects"] == sum(len(v["objects"]) for v in GOLDEN["videos"])
    assert json.loads((tmp_path / "interactive.json").read_text())["AUC"] == pytest.approx(res["metrics"]["AUC"])
    default = summarize_interactive([InteractiveVideo.from_json(r["details"], k) for k, r in sorted(_records().items())],
                        SummaryOptions())
    assert abs(default.AUC - res["metrics"]["AUC"]) > 1.0


def test_records_without_interactive_details_are_refused(tmp_path):
    from harness.runner.scoring import score_cell

    with pytest.raises(DataError, match="video 'v1'.*'interactive' details"):
        score_cell(InteractiveSetting(), None, None, {"v1": {"extra": {}}}, tmp_path, tmp_path)
    broken = _records()
    del broken["v2"]["details"]["rounds"][0]["time_s"]
    with pytest.raises(DataError, match="video 'v2'.*'time_s'"):
        score_cell(InteractiveSetting(), None, None, broken, tmp_path, tmp_path)


def test_unknown_scoring_kind_is_an_error(tmp_path):
    from harness import settings
    from harness.runner.scoring import SCORING_KINDS, score_cell

    class Misspelt(InteractiveSetting):
        scoring = "unsupervized"

    with pytest.raises(ConfigError, match="unsupervized"):
        score_cell(Misspelt(), None, None, _records(), tmp_path, tmp_path)
    # every registered setting declares a kind the runner scores
    assert {settings.get(n).scoring for n in settings.names()} <= set(SCORING_KINDS)
    assert settings.get("unsupervised").scoring == "unsupervised"

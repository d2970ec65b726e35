"""VOT: toolkit conventions checked against pytracking's own analysis code, the setting's records,
and the scoring outputs (JSON + plots written by the runner's scoring, not the setting).

``golden/conventions/vot_pytracking.json``: AUC, P and P_norm that visionml/pytracking's
``extract_results`` + ``plot_results`` computed on the constructed sequences stored in the same
file (commit recorded there; made by ``run_pytracking.py`` in a fetched checkout).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness import registry, settings
from harness.errors import ConfigError
from harness.metrics.vot import VOTSequence, VOTVideo, score_vot, vot_metrics

GOLDEN = json.loads((Path(__file__).parent / "golden" / "conventions" / "vot_pytracking.json").read_text())


def _golden_videos() -> dict[str, VOTVideo]:
    def tup(rows):
        return tuple(None if b is None else tuple(b) for b in rows)

    return {s["name"]: VOTVideo((VOTSequence(1, tuple(range(len(s["gt"]))), tup(s["gt"]), tup(s["pred"])),))
            for s in GOLDEN["sequences"]}


def test_golden_records_the_reference_commit():
    assert GOLDEN["source"] == "visionml/pytracking" and len(GOLDEN["commit"]) == 40


@pytest.mark.parametrize("convention", ["lasot", "pytracking"])
def test_dataset_scores_equal_pytracking(convention):
    want = GOLDEN["modes"][convention]
    s = score_vot(_golden_videos(), convention=convention)
    # pytracking keeps its curves in float32
    assert (s.AUC, s.P, s.P_norm) == pytest.approx((want["AUC"], want["P"], want["P_norm"]), abs=1e-4)
    assert s.n_sequences == len(GOLDEN["sequences"])


@pytest.mark.parametrize("convention", ["lasot", "pytracking"])
def test_per_sequence_scores_equal_pytracking(convention):
    s = score_vot(_golden_videos(), convention=convention)
    got = {r["video"]: (r["AUC"], r["P"], r["P_norm"]) for r in s.per_sequence}
    for name, want in GOLDEN["modes"][convention]["per_sequence"].items():
        assert got[name] == pytest.approx((want["AUC"], want["P"], want["P_norm"]), abs=1e-4), name


def test_the_two_conventions_differ_only_in_p_norm_on_absent_frames():
    a = GOLDEN["modes"]["lasot"]["per_sequence"]
    b = GOLDEN["modes"]["pytracking"]["per_sequence"]
    assert b["b_absent"]["P_norm"] > a["b_absent"]["P_norm"]  # absent frames: successes vs failures
    assert b["a_drift"] == a["a_drift"]


def test_frame_zero_is_given_and_counted():
    """A wrong frame-0 prediction (a grown init box) is not scored; frame 0 stays in the denominator."""
    gt = np.array([[10.0, 10.0, 4.0, 4.0], [11.0, 10.0, 4.0, 4.0], [12.0, 10.0, 4.0, 4.0]])
    pred = gt.copy()
    pred[0] = [8.0, 8.0, 8.0, 8.0]  # the tracker's grown init box
    pred[1:] = [100.0, 100.0, 4.0, 4.0]  # lost afterwards
    r = vot_metrics(pred, gt)
    assert r.precision == pytest.approx(100 / 3)  # 1 of 3 frames (the given one) within 20 px
    assert r.success_curve[0] == pytest.approx(100 / 3)


def test_missing_prediction_carries_the_previous_box():
    gt = np.array([[10.0, 10.0, 4.0, 4.0]] * 3)
    pred = np.array([[10.0, 10.0, 4.0, 4.0], [10.0, 10.0, 4.0, 4.0], [np.nan] * 4])
    assert vot_metrics(pred, gt).precision == pytest.approx(100.0)


def test_unknown_convention_is_a_config_error():
    with pytest.raises(ConfigError, match="setting.vot.convention"):
        score_vot({}, convention="otb")
    with pytest.raises(ConfigError):
        settings.get("vot").Config(convention="LaSOT")


def test_vot_setting_records_and_runner_scoring_writes_outputs(synth_data, tmp_path):
    from harness.data import open_dataset
    from harness.runner.scoring import score_cell

    ds = open_dataset(synth_data)
    method = registry.create("csrt")
    setting = settings.get("vot")()
    records = {}
    for name in ds.videos[:1]:
        outcome = setting.run(method, ds.video(name), [].append)
        video = ds.video(name)
        # each sequence starts on the object's first annotated frame with its GT box given
        for seq in outcome.details.sequences:
            assert seq.frames[0] == video.objects[seq.obj_id] and seq.gt[0] is not None
        records[name] = json.loads(json.dumps(outcome.record_fields()))  # as stored in the record
    res = score_cell(setting, ds, None, records, tmp_path / "pred", tmp_path)
    saved = json.loads((tmp_path / "vot.json").read_text())
    assert saved["summary"]["AUC"] == pytest.approx(res["metrics"]["AUC"])
    assert saved["summary"]["convention"] == "lasot"
    assert len(saved["sequences"]) == res["n_objects"] == sum(len(r["details"]["sequences"]) for r in records.values())
    assert (tmp_path / "vot_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp files left"
    # the scores are those of the records' boxes
    direct = score_vot({v: VOTVideo.from_json(r["details"], v) for v, r in records.items()})
    assert res["metrics"]["AUC"] == pytest.approx(direct.AUC)


def test_perfect_boxes_score_100_and_lost_tracks_only_the_given_frame():
    gt = ((10.0, 10.0, 20.0, 30.0), (12.0, 11.0, 20.0, 30.0), (14.0, 12.0, 22.0, 30.0))
    perfect = {"v": VOTVideo((VOTSequence(1, (0, 1, 2), gt, gt),))}
    s = score_vot(perfect)
    # IoU 1 passes every threshold but "> 1.0": 20 of 21 -> AUC 95.24 (LaSOT's curve definition).
    assert s.AUC == pytest.approx(100 * 20 / 21) and s.P == pytest.approx(100.0)
    assert s.P_norm == pytest.approx(100.0)
    far = ((200.0, 200.0, 20.0, 30.0),) * 3
    lost = {"v": VOTVideo((VOTSequence(1, (0, 1, 2), gt, far),))}
    assert score_vot(lost).P == pytest.approx(100 / 3)  # frame 0 is given


def test_opencv_tracker_reports_the_given_init_box_not_the_grown_one():
    from _methods_video import moving_objects

    from harness.api import BoxPrompt

    video, _ = moving_objects(frames=3, size=(48, 64), late_start=None)
    tiny = (20.0, 20.0, 3.0, 3.0)  # below OpenCV's 8 px minimum: the tracker itself starts from a grown box
    with registry.create("csrt").open_session(video) as s:
        s.add_prompt(BoxPrompt(0, 1, tiny))
        first = next(iter(s.propagate()))
    assert first.boxes[1] == tiny

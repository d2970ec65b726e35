"""Setting-specific scoring: DAVIS-interactive curve arithmetic and unsupervised proposal matching."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.metrics.frame import score_frame
from harness.metrics.interactive import InteractiveVideo, SummaryOptions, curve_metrics, summarize_interactive
from harness.metrics.unsupervised import hungarian, match_scores, relabel, score_unsupervised

# --- interactive ------------------------------------------------------------------------------------


def test_curve_auc_and_value_at_60s_on_a_known_curve():
    # Interactions end at 10 s and 30 s with J&F 0.5 and 0.8; time-out 120 s.
    # Curve (0,0) (10,.5) (30,.8) (120,.8): area = 2.5 + 13 + 72 = 87.5 -> AUC = 87.5 / 120.
    auc, at60, t, v = curve_metrics([10, 30], [0.5, 0.8], 120.0, 60.0)
    assert auc == pytest.approx(87.5 / 120)
    assert at60 == pytest.approx(0.8)
    assert t.tolist() == [0, 10, 30, 120] and v.tolist() == [0, 0.5, 0.8, 0.8]
    _, at20, _, _ = curve_metrics([10, 30], [0.5, 0.8], 120.0, 20.0)
    assert at20 == pytest.approx(0.65)  # interpolated between (10, .5) and (30, .8)
    _, at5, _, _ = curve_metrics([10, 30], [0.5, 0.8], 120.0, 5.0)
    assert at5 == pytest.approx(0.25)  # between the origin and the first interaction


def rnd(i, frame, t, scores, counted=True):
    return {"interaction": i, "frame": frame, "time_s": t, "counted": counted,
            "objects": {str(k): {"J": j, "F": f, "F_hat": f} for k, (j, f) in scores.items()}}


def vid(objects, rounds):
    """An interactive video's details as stored in its record (JSON), parsed back."""
    return InteractiveVideo.from_json({"kind": "interactive", "objects": objects, "rounds": rounds,
                                       "scribbled_frames": [], "time_budget_s": 0.0, "stop_reason": "",
                                       "prompt_kind": "scribble"}, "test")


def test_summarize_follows_davis_reconstruction_and_time_averaging():
    # Video A (1 object): 2 interactions, 10 s each. Video B (2 objects): 1 interaction of 30 s,
    # then a time-out (its 2nd interaction does not count).
    a = vid([1], [rnd(1, 0, 10.0, {1: (0.4, 0.6)}), rnd(2, 3, 10.0, {1: (0.8, 0.8)})])
    b = vid([1, 2], [rnd(1, 0, 30.0, {1: (0.2, 0.2), 2: (0.6, 0.4)}),
                     rnd(2, 5, 500.0, {1: (1.0, 1.0), 2: (1.0, 1.0)}, counted=False)])
    s = summarize_interactive([a, b], SummaryOptions(max_interactions=2, seconds_per_object_interaction=30.0))
    # Entries: A1, B1, B2. Interaction 1: (.5 + .2 + .5)/3 = .4; interaction 2: (.8 + .2 + .5)/3 = .5
    # (B keeps its interaction-1 scores, at 0 s). Times: mean(10, 30) = 20, then mean(10, 0) = 5.
    # Global time-out: 1.5 objects x 2 x 30 s = 90 s.
    assert s.curve_time_s == pytest.approx((0, 20, 25, 90))
    assert s.curve_value == pytest.approx((0, 40, 50, 50))
    area = 0.5 * 20 * 40 + 0.5 * 5 * (40 + 50) + 65 * 50
    assert s.AUC == pytest.approx(area / 90)
    assert s.JF_at_60s == pytest.approx(50.0) and s.JF == pytest.approx(50.0)
    assert s.global_timeout_s == 90.0 and s.n_entries == 3


def test_a_video_without_any_counted_interaction_scores_zero():
    a = vid([1], [rnd(1, 0, 999.0, {1: (0.9, 0.9)}, counted=False)])
    b = vid([1], [rnd(1, 0, 10.0, {1: (1.0, 1.0)})])
    s = summarize_interactive([a, b], SummaryOptions(max_interactions=1))
    assert s.JF == pytest.approx(50.0)
    assert s.curve_time_s[1] == pytest.approx(5.0)  # mean of 0 (missing) and 10


# --- unsupervised -----------------------------------------------------------------------------------


def test_hungarian_beats_greedy():
    # Greedy (row 0 takes its best, column 0) would give 0.9 + 0.1; the optimum is 0.8 + 0.8.
    score = np.array([[0.9, 0.8], [0.8, 0.1]])
    assert hungarian(score) == [1, 0]


def test_more_proposals_than_objects():
    score = np.array([[0.1, 0.7, 0.2, 0.0], [0.6, 0.65, 0.0, 0.3]])
    m = match_scores(score, objects=[3, 5], proposals=[11, 12, 13, 14])
    assert dict(m.assignment) == {3: 12, 5: 11}


def test_more_objects_than_proposals_pads_with_empty_predictions():
    # 3 objects, 1 proposal; columns 1-2 are the empty predictions' scores (e.g. objects absent
    # on many frames score well against an empty prediction).
    score = np.array([[0.9, 0.1, 0.1], [0.5, 0.05, 0.05], [0.95, 0.6, 0.6]])
    m = match_scores(score, objects=[1, 2, 3], proposals=[7])
    assert m.assignment[1] == 7 and m.assignment[2] is None and m.assignment[3] is None
    with pytest.raises(ValueError):
        match_scores(score[:, :1], objects=[1, 2, 3], proposals=[7])


def test_relabel_maps_proposals_to_objects_and_drops_the_rest():
    lab = np.array([[0, 7, 8], [9, 7, 0]], np.uint8)
    assert relabel(lab, {1: 8, 2: 7, 3: None}).tolist() == [[0, 2, 1], [0, 2, 0]]


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    from harness.data import open_dataset
    from harness.data.synth import generate

    root = generate(tmp_path_factory.mktemp("unsup") / "d", videos=1, frames=6, size=(64, 80), seed=4)
    ds = open_dataset(root)
    return ds.video(ds.videos[0])


def test_score_unsupervised_recovers_a_permuted_labelling(video):
    objs = sorted(video.objects)
    assert len(objs) >= 2
    perm = {o: 40 + i for i, o in enumerate(reversed(objs))}  # proposal ids unrelated to GT ids
    lut = np.zeros(256, np.uint8)
    for o, p in perm.items():
        lut[o] = p
    preds = {t: lut[video.gt(t)] for t in video.annotated}
    # An extra, spurious proposal on the first frame only.
    preds[video.annotated[0]] = preds[video.annotated[0]].copy()
    preds[video.annotated[0]][:3, :3] = 99
    matching, rows = score_unsupervised(video, preds)
    assert {o: matching.assignment[o] for o in objs} == perm
    assert len(rows) == len(objs)
    for row in rows:
        assert row["J"] > 0.99 and row["F_hat"] > 0.99
        assert set(row) >= {"video", "object", "JF_hat", "J", "F_hat", "JF_hat_d", "JF_hat_r", "F", "JF"}


def test_score_unsupervised_scores_unmatched_objects_as_empty(video):
    objs = sorted(video.objects)
    keep = objs[0]
    preds = {t: np.where(video.gt(t) == keep, 5, 0).astype(np.uint8) for t in video.annotated}
    matching, rows = score_unsupervised(video, preds)
    assert matching.assignment[keep] == 5
    assert all(matching.assignment[o] is None for o in objs[1:])
    by_obj = {r["object"]: r for r in rows}
    # The unmatched objects' J equals the J of an empty prediction, frame by frame.
    other = objs[1]
    empty = np.zeros((video.height, video.width), np.uint8)
    js = [score_frame(empty, video.gt(t), [other])[other].J for t in video.annotated]
    assert by_obj[other]["J"] == pytest.approx(float(np.mean(js)))
    assert by_obj[keep]["J"] > 0.99


def test_score_unsupervised_refuses_more_than_20_proposals(video):
    from harness.errors import DataError

    t0 = video.annotated[0]
    lab = np.zeros((video.height, video.width), np.uint8)
    lab.flat[: 21 * 3 : 3] = np.arange(1, 22)
    preds = {t: (lab if t == t0 else np.zeros_like(lab)) for t in video.annotated}
    with pytest.raises(DataError, match="at most 20"):
        score_unsupervised(video, preds)


def test_score_unsupervised_reads_prediction_pngs(video, tmp_path):
    from harness.data.masks import write_label_png

    for t in range(len(video)):
        lab = video.gt(t) if video.is_annotated(t) else np.zeros((video.height, video.width), np.uint8)
        write_label_png(tmp_path / video.name / f"{video.frame_names[t]}.png", lab)
    matching, rows = score_unsupervised(video, tmp_path)
    assert all(matching.assignment[o] == o for o in video.objects)
    assert all(math.isclose(r["JF_hat"], 1.0) for r in rows)


def test_match_matrix_equals_pairwise_scoring(video):
    objs = sorted(video.objects)
    rng = np.random.default_rng(1)
    preds = {}
    for t in video.annotated:
        gt = video.gt(t)
        p = np.zeros_like(gt)
        p[np.roll(gt == objs[0], 3, axis=1)] = 10  # a shifted copy of one object
        p[(gt == objs[1]) & (rng.random(gt.shape) > 0.3)] = 11  # a ragged copy of another
        p[:8, :8] = 12  # a corner blob
        preds[t] = p
    matching, _ = score_unsupervised(video, preds)
    assert matching.proposals == (10, 11, 12)
    for i, o in enumerate(objs):
        for j, prop in enumerate(matching.proposals + (None,) * (matching.score.shape[1] - 3)):
            vals = []
            for t in video.annotated:
                g = (video.gt(t) == o).astype(np.uint8)
                q = np.zeros_like(g) if prop is None else (preds[t] == prop).astype(np.uint8)
                s = score_frame(q, g, [1])[1]
                vals.append((s.J, s.F_hat))
            j_mean, f_mean = np.mean(vals, axis=0)
            assert matching.score[i, j] == pytest.approx((j_mean + f_mean) / 2)

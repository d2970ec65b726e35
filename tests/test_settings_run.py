"""Every setting driven end to end with the weight-free methods on the synthetic set."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from harness import registry, settings
from harness.api import Capabilities, FrameResult, Method, OutputKind, PromptKind, Session
from harness.errors import ConfigError
from harness.metrics.frame import score_frame
from harness.settings import multisession
from harness.settings.base import Setting
from harness.settings.semi import box_of_mask


@pytest.fixture(scope="module")
def dataset(synth_data):
    from harness.data import open_dataset

    return open_dataset(synth_data)


@pytest.fixture(scope="module")
def video(dataset):
    return dataset.video("synth001")  # object 6 first appears on frame 4


def run(setting: Setting, method: Method, video) -> tuple[list[FrameResult], object]:
    out: list[FrameResult] = []
    outcome = setting.run(method, video, out.append)
    assert [fr.frame for fr in out] == list(range(len(video))), "one result per frame, in order"
    json.dumps(outcome.record_fields())  # recorded with the run
    return out, outcome


def test_table_lookup_and_unknown_names():
    assert settings.names() == ("mask", "box", "point1", "point3", "point5", "unsupervised", "interactive", "vot")
    for name in settings.names():
        cls = settings.get(name)
        assert issubclass(cls, Setting) and cls.name == name and cls.metrics
    with pytest.raises(ConfigError, match="Did you mean 'mask'"):
        settings.get("maks")


@pytest.mark.parametrize("method,allowed", [
    ("static", {"mask"}),
    ("flow", {"mask", "box", "point1", "point3", "point5", "interactive", "vot"}),
    ("csrt", {"vot"}),
    ("sam2", {"mask", "box", "point1", "point3", "point5", "unsupervised", "interactive", "vot"}),
])
def test_capabilities_decide_which_settings_run(method, allowed):
    caps = registry.get(method).capabilities  # class attribute: no weights load
    runs = {s for s in settings.names() if settings.get(s)().unsupported_reason(caps) is None}
    assert runs == allowed
    if "vot" in allowed and "mask" not in allowed:
        assert "mask output" in settings.get("mask")().unsupported_reason(caps)


def test_session_planning():
    objs = {1: 0, 2: 0, 3: 4, 4: 9}
    full = Capabilities(prompts=frozenset({PromptKind.MASK}))
    assert multisession.plan_sessions(full, objs) == [(1, 2, 3, 4)]
    no_mid = Capabilities(prompts=frozenset({PromptKind.MASK}), add_objects_mid_video=False)
    assert multisession.plan_sessions(no_mid, objs) == [(1, 2), (3,), (4,)]
    single = Capabilities(prompts=frozenset({PromptKind.MASK}), multi_object=False)
    assert multisession.plan_sessions(single, objs) == [(1,), (2,), (3,), (4,)]


def test_mask_setting_prompts_each_object_on_its_first_annotated_frame(video):
    method = registry.create("static")
    out, outcome = run(settings.get("mask")(), method, video)
    frames = {p["obj_id"]: p["frame"] for p in outcome.prompts}
    assert frames == dict(video.objects)
    for p in outcome.prompts:
        gt = video.gt(p["frame"]) == p["obj_id"]
        assert p["kind"] == "mask" and p["area"] == int(gt.sum())
        assert p["bbox"] == [int(v) for v in box_of_mask(gt)]
    # The static baseline repeats its prompt: frame 0 reproduces the ground truth exactly.
    gt0 = video.gt(0)
    for oid, start in video.objects.items():
        if start == 0:
            assert np.array_equal(out[0].masks[oid], gt0 == oid)


@pytest.mark.parametrize("name", ["box", "point1", "point3", "point5"])
def test_flow_runs_box_and_point_settings_deterministically(video, name):
    method = registry.create("flow")
    setting = settings.get(name)()
    out, outcome = run(setting, method, video)
    _, again = run(settings.get(name)(), registry.create("flow"), video)
    assert outcome.prompts == again.prompts, "prompt generation is deterministic"
    assert {p["obj_id"] for p in outcome.prompts} == set(video.objects)
    for p in outcome.prompts:
        gt = video.gt(p["frame"]) == p["obj_id"]
        if name == "box":
            assert p["box"] == list(box_of_mask(gt))
        else:
            n = int(name[-1])
            assert len(p["points"]) == n and p["labels"] == [1] * n
            assert all(gt[int(y), int(x)] for x, y in p["points"]), "positive clicks lie on the object"
    # The method saw all objects and tracked them: results carry every object after its start frame.
    assert set(out[-1].masks) == set(video.objects)


class _CopyPrompt(Method):
    """Single-object test method: repeats its mask prompt on every frame from the prompt on."""

    name = "copy-prompt"
    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK}), multi_object=False,
                                add_objects_mid_video=False)
    opened = 0

    def open_session(self, video, max_objects=20):
        type(self).opened += 1
        return _CopySession(video)


class _CopySession(Session):
    def __init__(self, video):
        self.video, self.prompt = video, None

    def add_prompt(self, prompt):
        assert self.prompt is None, "one object per session"
        self.prompt = prompt

    def propagate(self) -> Iterator[FrameResult]:
        p = self.prompt
        empty = np.zeros_like(p.mask)
        for t in range(len(self.video)):
            yield FrameResult(t, masks={p.obj_id: p.mask if t >= p.frame else empty})


def test_single_object_methods_get_one_session_per_object_merged_per_frame(video):
    _CopyPrompt.opened = 0
    out, outcome = run(settings.get("mask")(), _CopyPrompt(), video)
    assert _CopyPrompt.opened == len(video.objects)
    assert outcome.sessions == tuple((o,) for o in sorted(video.objects, key=lambda o: (video.objects[o], o)))
    late = [o for o, f in video.objects.items() if f > 0][0]
    start = video.objects[late]
    assert not out[start - 1].masks[late].any()
    assert np.array_equal(out[start].masks[late], video.gt(start) == late)
    assert set(out[0].masks) == set(video.objects)


def test_vot_setting_records_boxes_for_trackers_and_vos_methods(video):
    for name in ("csrt", "flow"):
        method = registry.create(name)
        out, outcome = run(settings.get("vot")(), method, video)
        seqs = {s.obj_id: s for s in outcome.details.sequences}
        assert set(seqs) == set(video.objects)
        for oid, seq in seqs.items():
            assert len(seq.frames) == len(seq.gt) == len(seq.pred)
            assert seq.frames[0] == video.objects[oid]
            assert seq.gt[0] == box_of_mask(video.gt(seq.frames[0]) == oid)
        if method.capabilities.output == OutputKind.BOX:
            # Trackers report the given prompt box on their init frame (not OpenCV's grown one).
            assert seqs[1].pred[0] == seqs[1].gt[0]


def test_interactive_rounds_scores_and_final_predictions(video):
    from harness.metrics.interactive import summarize_interactive
    from harness.settings.interactive import InteractiveConfig, InteractiveSetting

    cfg = InteractiveConfig(max_interactions=3)  # the flow baseline's GrabCut is slow; 3 rounds do
    out, outcome = run(InteractiveSetting(cfg=cfg), registry.create("flow"), video)
    ex = outcome.details
    rounds = ex.rounds
    assert len(rounds) == 3 and all(r.counted for r in rounds)
    assert ex.prompt_kind == "scribble"
    # First interaction: scribbles inside each object's GT on the chosen frame.
    first = rounds[0].frame
    gt = video.gt(first)
    for p in outcome.prompts:
        if p["interaction"] == 1:
            assert p["kind"] == "scribble" and p["positive"] and not p["negative"]
            for stroke in p["positive"]:
                xy = np.asarray(stroke, int)
                assert (gt[xy[:, 1], xy[:, 0]] == p["obj_id"]).all()
    # Later interactions go to frames not scribbled before, worst first.
    frames = [r.frame for r in rounds]
    assert len(set(frames)) == len(frames)
    # The emitted predictions are those of the last interaction: re-scoring them gives its numbers.
    objs = sorted(video.objects)
    sums = {o: 0.0 for o in objs}
    for t in video.annotated:
        labels = np.zeros((video.height, video.width), np.uint8)
        for o in objs:
            labels[out[t].masks[o]] = o
        sc = score_frame(labels, video.gt(t), objs)
        for o in objs:
            sums[o] += sc[o].J
    last = rounds[-1].objects
    for o in objs:
        assert sums[o] / len(video.annotated) == pytest.approx(last[o].J)
    s = summarize_interactive([ex], cfg.summary_options)
    # final J&F (DAVIS interactive's default metric): the mean over objects of (J + F) / 2 of the
    # last counted round, x100 (rounds all counted here)
    assert s.JF == pytest.approx(100 * np.mean([(last[o].J + last[o].F) / 2 for o in objs]))
    assert s.AUC <= max(s.curve_value) + 1e-9
    # The first interaction depends on ground truth only: a re-run gives the same scribbles (later
    # ones follow the method's predictions, and GrabCut inside the flow baseline is randomised).
    _, again = run(InteractiveSetting(cfg=InteractiveConfig(max_interactions=1)),
                   registry.create("flow"), video)
    assert again.prompts == tuple(p for p in outcome.prompts if p["interaction"] == 1)


def test_interactive_time_budget_discards_late_interactions(video):
    from harness.metrics.interactive import summarize_interactive
    from harness.settings.interactive import InteractiveConfig, InteractiveSetting

    setting = InteractiveSetting(cfg=InteractiveConfig(seconds_per_object_interaction=1e-9))
    out, outcome = run(setting, registry.create("flow"), video)
    rounds = outcome.details.rounds
    assert len(rounds) == 1 and not rounds[0].counted and outcome.details.stop_reason == "time_budget"
    assert all(not m.any() for fr in out for m in fr.masks.values())
    assert summarize_interactive([outcome.details], setting.cfg.summary_options).JF == 0.0


class _SlowPromptSession(Session):
    """Takes 50 ms per prompt (like SAM2 encoding the prompt frame) and nothing per frame."""

    def __init__(self, video) -> None:
        self.video, self.masks = video, {}

    def add_prompt(self, prompt):
        import time

        time.sleep(0.05)
        self.masks[prompt.obj_id] = prompt.mask
        return None

    def propagate(self) -> Iterator[FrameResult]:
        for t in range(len(self.video)):
            yield FrameResult(t, masks=dict(self.masks), model_time_s=0.0)


class _SlowPromptMethod(Method):
    name = "slow-prompt"
    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK}))

    def open_session(self, video, max_objects=20):
        return _SlowPromptSession(video)


def test_prompt_time_is_model_time_of_the_prompt_frame(video):
    out, _ = run(settings.get("mask")(), _SlowPromptMethod(), video)
    starts = multisession.start_frames(video)
    per_frame = {f: sum(1 for s in starts.values() if s == f) for f in set(starts.values())}
    for fr in out:
        expected = 0.05 * per_frame.get(fr.frame, 0)
        assert expected <= fr.model_time_s < expected + 0.05 * max(1, per_frame.get(fr.frame, 0)), fr.frame

"""Interface contract, checked on every registered method whose dependencies are installed.

SAM2 sizes run on seeded random weights at a 64-pixel model input (their masks mean nothing here;
the interface does). Videos: the shared synthetic set (``synth_data``) and an in-memory video
with an object that first appears on frame 5.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import registry
from harness.api import (
    BoxPrompt,
    FrameResult,
    MaskPrompt,
    OutputKind,
    PointsPrompt,
    PromptKind,
    ScribblePrompt,
)
from harness.errors import CapabilityError

sys.path.insert(0, str(Path(__file__).parent))
from _methods_video import moving_objects  # noqa: E402

from adapters.prompt_masks import box_of_mask  # noqa: E402

# Options for methods with weights (no checkpoint in CI), each passed to methods whose Config has
# it: sam2* at a 64-pixel input; cutie* with top_k null (a 48x64 frame has 12 memory keys, fewer
# than the default top 30).
TEST_OPTIONS = {"random_init": True, "image_size": 64, "top_k": None}
# Same adapter class as sam2-t / cutie-b, only the (random) backbone differs: these run the mid-video
# and capability parts of the contract, sam2-t runs all of it (keeps this file within its CPU budget).
BACKBONE_ALIASES = {"sam2", "sam2-s", "sam2-b+", "sam2-l", "cutie"}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny tensors on a shared 2-core machine: thread hand-offs cost more than the maths (5x)."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _installed() -> list[str]:
    return [n for n in registry.names() if not registry.missing_requirements(n)]


def _create(name: str):
    cls = registry.get(name)
    fields = {f.name for f in dataclasses.fields(cls.Config)} if dataclasses.is_dataclass(cls.Config) else set()
    opts = {k: v for k, v in TEST_OPTIONS.items() if k in fields} if "random_init" in fields else None
    return registry.create(name, opts, "cpu")


def _first_prompts(caps, gt_of, objects):
    """One prompt per object on its first frame, of a kind the method accepts (mask first)."""
    out = []
    for oid, f in sorted(objects.items()):
        m = gt_of(f) == oid
        if PromptKind.MASK in caps.prompts:
            out.append(MaskPrompt(f, oid, m))
        else:
            out.append(BoxPrompt(f, oid, box_of_mask(m)))
    return out


def _run(method, frames, prompts) -> list[FrameResult]:
    with method.open_session(frames) as session:
        for p in prompts:
            session.add_prompt(p)
        return list(session.propagate())


def _check(method, frames, prompts, results):
    caps = method.capabilities
    h, w = frames.height, frames.width
    assert [r.frame for r in results] == list(range(len(frames)))
    starts = {}
    for p in prompts:
        starts[p.obj_id] = min(starts.get(p.obj_id, p.frame), p.frame)
    first = min(starts.values(), default=None)
    for r in results:
        assert isinstance(r, FrameResult)
        if first is not None:  # FPS counts processed frames: none before the first prompt, the prompt frame is one
            assert r.processed == (r.frame >= first) or r.frame > first, (r.frame, r.processed, first)
        live = {o for o, f in starts.items() if r.frame >= f}
        if caps.output is OutputKind.MASK:
            assert live <= set(r.masks) <= set(starts), (r.frame, set(r.masks), starts)
            for oid, m in r.masks.items():
                assert m.shape == (h, w) and m.dtype == bool, (oid, m.shape, m.dtype)
                if r.frame < starts[oid]:
                    assert not m.any(), f"object {oid} predicted before its first prompt (frame {r.frame})"
            if r.frame in {p.frame for p in prompts}:
                assert any(r.masks[p.obj_id].any() for p in prompts if p.frame == r.frame)
        else:
            assert live <= set(r.boxes) <= set(starts)
            for b in r.boxes.values():
                assert b is None or (len(b) == 4 and b[2] > 0 and b[3] > 0)
        for oid, s in r.scores.items():
            assert oid in starts and 0.0 <= s <= 1.0


@pytest.fixture(scope="module")
def small_synth(tmp_path_factory):
    """One short synthetic MOSE-layout video from the data engineer's generator (the real reader)."""
    from harness.data.synth import generate

    return generate(tmp_path_factory.mktemp("contract") / "data", videos=1, frames=6, size=(48, 64), seed=3)


@pytest.fixture(scope="module")
def late_video():
    video, gt = moving_objects(frames=8, size=(48, 64), late_start=5)
    return video, gt


@pytest.mark.parametrize("name", _installed())
def test_method_contract(name, small_synth, late_video):
    from harness.data import open_dataset

    method = _create(name)
    caps = method.capabilities
    full = name not in BACKBONE_ALIASES
    if full:
        ds = open_dataset(small_synth)
        v = ds.video(ds.videos[0])
        synth_prompts = _first_prompts(caps, v.gt, v.objects)
        first = _run(method, v.frames, synth_prompts)
        _check(method, v.frames, synth_prompts, first)

    # objects added mid-video: object 2 first appears (and is first prompted) on frame 5
    video, gt = late_video
    prompts = _first_prompts(caps, lambda f: gt[f], {1: 0, 2: 5})
    results = _run(method, video, prompts)
    _check(method, video, prompts, results)
    field = "masks" if caps.output is OutputKind.MASK else "boxes"
    assert 2 not in getattr(results[4], field) or not np.any(getattr(results[4], field)[2])
    assert 2 in getattr(results[5], field)

    # a fresh session per video: running another video in between changes nothing
    if full:
        again = _run(method, v.frames, synth_prompts)
        _check(method, v.frames, synth_prompts, again)
        for a, b in zip(first, again) if getattr(method, "deterministic", True) else ():
            for oid in a.masks:
                assert np.array_equal(a.masks[oid], b.masks[oid]), (name, a.frame, oid)

    h, w = video.height, video.width
    # unprompted methods propose ids 1..K (K <= max_objects) with masks of frame size
    if caps.unprompted and full:
        with method.open_session(video, max_objects=3) as session:
            proposed = list(session.propagate())
        assert [r.frame for r in proposed] == list(range(len(video)))
        for r in proposed:
            assert set(r.masks) <= {1, 2, 3}
            assert all(m.shape == (h, w) and m.dtype == bool for m in r.masks.values())

    # unsupported prompt kinds are refused with a CapabilityError naming the method
    samples = {
        PromptKind.MASK: MaskPrompt(0, 1, np.ones((h, w), bool)),
        PromptKind.BOX: BoxPrompt(0, 1, (1.0, 1.0, 5.0, 5.0)),
        PromptKind.POINTS: PointsPrompt(0, 1, ((3.0, 3.0),), (1,)),
        PromptKind.SCRIBBLE: ScribblePrompt(0, 1, (np.array([[1.0, 1.0], [4.0, 4.0]]),)),
    }
    for kind, prompt in samples.items():
        if kind in caps.prompts:
            continue
        with method.open_session(video) as session, pytest.raises(CapabilityError, match=kind.value):
            session.add_prompt(prompt)


def test_every_builtin_is_covered():
    assert {"static", "flow", "csrt", "mil", "sam2", "sam2-t", "sam2-s", "sam2-b+", "sam2-l",
            "cutie", "cutie-b", "cutie-s"} <= set(_installed())

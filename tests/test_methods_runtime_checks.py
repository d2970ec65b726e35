"""The runner validates every FrameResult (harness.contract): a broken adapter fails the videos it
breaks, with an error naming the method, video, frame and object; the other videos go on; the cell is
not scored (no floor score reported as a result) and `run`/`status` say so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _runner_common import main, smoke

from harness.api import FrameResult
from harness.contract import MethodOutputError, checked_method, result_problems
from harness.runner.rundir import RunDir

BROKEN = str(Path(__file__).resolve().parent / "_broken_plugins.py")


@pytest.mark.parametrize("method,needle", [
    ("wrong-ids", "object 101: id 101 was never prompted"),
    ("short-masks", "mask has shape (95, 128), the video's frames are (96, 128)"),
    ("half-res", "mask has shape (48, 64)"),
    ("byte-masks", "mask has dtype uint8, must be bool"),
    ("missing-frame", "frame 2: yielded frame 3 where frame 2 was due"),
])
def test_runner_fails_the_broken_video_only(tmp_path: Path, synth_data: Path, capsys, fresh_registries, method,
                                            needle) -> None:
    from harness.data import open_dataset

    videos = open_dataset(synth_data).videos
    bad = videos[1]
    rc, out = main(capsys, "run", *smoke(tmp_path, synth_data, f"method={method}", f"method.only_video={bad}",
                                         f"plugins=[{BROKEN}]"))
    cell = f"{method}--mask--synth-tiny"
    assert rc == 1
    assert "shard(s) failed" in out and f"incomplete (not scored): {cell}" in out
    run_dir = Path(next(line for line in out.splitlines() if line.startswith("run directory:")).split(": ", 1)[1])
    cdir = RunDir(run_dir).cell(cell)
    for v in videos:
        rec = json.loads(cdir.record_path(v).read_text())
        if v != bad:
            assert rec["status"] == "done", (v, rec.get("error"))
            continue
        assert rec["status"] == "failed" and "MethodOutputError" in rec["error"]
        assert f"method '{method}'" in rec["error"] and f"video '{bad}'" in rec["error"], rec["error"]
        assert needle in rec["error"], rec["error"]
    assert not cdir.summary.exists()  # nothing scored: no empty-mask floor passed off as a result
    rc, status = main(capsys, "status", str(run_dir))
    assert f"{cell}/{bad} failed" in status and needle in status and "to do: mosebench resume" in status


def test_checked_session_catches_what_a_setting_would_pass_on() -> None:
    """The session wrapper checks each yielded result and the prompt feedback, per session."""
    from _methods_video import moving_objects

    from harness import registry
    from harness.api import MaskPrompt

    video, gt = moving_objects(frames=4, size=(32, 48), late_start=None)
    method = checked_method(registry.create("static"), "static")
    assert method.capabilities == registry.get("static").capabilities  # the method's own attributes
    with method.open_session(video) as s:
        s.add_prompt(MaskPrompt(0, 1, gt[0] == 1))
        assert [r.frame for r in s.propagate()] == [0, 1, 2, 3]
    shape = (32, 48)
    ok = FrameResult(0, masks={1: np.zeros(shape, bool)}, boxes={1: None}, scores={1: 0.5}, model_time_s=0.1)
    assert result_problems(ok, shape, frozenset({1}), expected_frame=0) == []
    bad = FrameResult(1, masks={"1": np.zeros(shape, bool), 2: [[0]]}, boxes={1: (0, 0, -1, 2)},
                      scores={1: 1.5}, model_time_s=float("nan"))
    got = {(p.check, p.obj_id) for p in result_problems(bad, shape, frozenset({1, 2}), expected_frame=0)}
    assert got == {("frames", None), ("ids", "1"), ("masks", 2), ("boxes", 1), ("scores", 1), ("timing", None)}
    # unprompted sessions may use any proposal id in 1..255
    assert result_problems(FrameResult(0, masks={7: np.zeros(shape, bool)}), shape, None) == []
    assert result_problems(FrameResult(0, masks={256: np.zeros(shape, bool)}), shape, None)[0].check == "ids"
    with pytest.raises(MethodOutputError, match="frame 3: propagate stopped after 3 of 4 frames"):
        from harness.contract import CheckedSession

        class _Short:
            def propagate(self):
                yield from (FrameResult(t) for t in range(3))

        list(CheckedSession(_Short(), "short", video).propagate())


def test_runtime_error_names_the_registered_name_of_an_unnamed_plugin(tmp_path: Path, synth_data: Path, capsys,
                                                                      fresh_registries) -> None:
    """A plugin class without ``name`` is named in errors by its registered name (what ``method=`` and
    ``check-method`` take), not by its class name (found by the verify pass: "check-method Tracker")."""
    plugin = str(Path(__file__).resolve().parent / "_unnamed_plugin.py")
    rc, out = main(capsys, "run", *smoke(tmp_path, synth_data, "method=my-tracker", f"plugins=[{plugin}]"))
    assert rc == 1
    run_dir = Path(next(line for line in out.splitlines() if line.startswith("run directory:")).split(": ", 1)[1])
    errors = [json.loads(p.read_text())["error"] for p in
              sorted(RunDir(run_dir).cell("my-tracker--mask--synth-tiny").records.glob("*.json"))]
    assert errors and all("method 'my-tracker'" in e and "check-method my-tracker" in e for e in errors), errors

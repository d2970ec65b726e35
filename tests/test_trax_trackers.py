"""OSTrack-family trackers out of process (adapters/ostrack_family.py) and the retry policy on a TraX fault.

The real-checkout tests run each tracker from its checkout in its own environment when
``MOSEBENCH_<T>_REPO`` and ``MOSEBENCH_<T>_PYTHON`` are set (T in SEQTRACK, AQATRACK, ODTRACK,
SUTRACK; ``MOSEBENCH_<T>_CKPT`` optional: else seeded random weights are built by the checkout's own
network code), and compare mosebench's boxes over TraX with the original's own
``Tracker.run_sequence`` on the same frames and weights: equal. CI cannot clone the checkouts: those
tests may skip (with the reason printed). The retry test needs only the CSRT TraX env.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _runner_common import REPO, cli, run_dir_from, smoke
from _trax_env import make_tracker_env

pytest.importorskip("trax", reason="vot-trax is a dependency (pyproject.toml); pip install vot-trax==4.0.2")
FAULT_SERVER = str(REPO / "tests" / "_trax_fault_server.py")
SERVER = REPO / "harness" / "trax_ostrack_server.py"
ORIGINAL = REPO / "tests" / "_ostrack_original.py"
DEFAULT_PARAM = {"seqtrack": "seqtrack_b256", "aqatrack": "AQATrack-ep150-full-256", "odtrack": "baseline",
                 "sutrack": "sutrack_b224"}
RANDOM_CFG = {"seqtrack": ("--cfg", "MODEL.ENCODER.PRETRAIN_TYPE=scratch")}  # no MAE download at build


def _records(run_dir: Path, cell: str) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (run_dir / cell / "records").glob("*.json")}


@pytest.fixture(scope="module")
def tracker_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python, _how = make_tracker_env(tmp_path_factory.mktemp("trax-env"))
    return python


def test_a_tracker_crash_on_the_first_attempt_succeeds_on_retry(tmp_path, make_synth, tracker_python):
    """``retry.attempts=1``: a tracker process that crashes once (a transient fault) fails its video on
    attempt 1; the driver resubmits, the video completes on attempt 2 and the run exits 0. The other
    video is not redone."""
    python = tracker_python
    data = make_synth(videos=2, frames=5)
    from harness.data import open_dataset

    v = open_dataset(data).videos
    state = tmp_path / "once"
    proc = cli("run", *smoke(tmp_path, data, "method=trax", f"method.python={python}",
                             f"method.command={FAULT_SERVER}", f"method.args=[--crash-once,{v[0]}@2,--state,{state}]",
                             "setting=vot", "retry.attempts=1", "progress=false"), check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (state / "crashed-once").exists()  # the fault did fire on the first attempt
    assert "planted one-off crash" in proc.stdout + proc.stderr  # its stderr tail reached the log
    recs = _records(run_dir_from(proc.stdout), "trax--vot--synth-tiny")
    assert recs[v[0]]["status"] == "done" and recs[v[0]]["attempt"] == 2
    assert recs[v[1]]["status"] == "done" and recs[v[1]]["attempt"] == 1
    assert recs[v[0]]["tracker_process"]["model_time_source"] == "tracker"


def test_scores_and_the_optional_confidence_threshold(tmp_path, synth_data, tracker_python):
    """A server whose ``properties()`` sends ``score``: scores reach the frame results; boxes stay as
    given without a threshold (box trackers never say absent) and turn absent below one; a threshold
    on a tracker that sends no score is a fault naming the option."""
    server = tmp_path / "scored_server.py"
    server.write_text(f"import sys\nsys.path.insert(0, {str(REPO / 'harness')!r})\n"
                      "from trax_csrt_server import CSRT\nfrom trax_server import serve\n"
                      "class Scored(CSRT):\n    n = 0\n"
                      "    def track(self, path):\n        self.n += 1\n        return super().track(path)\n"
                      "    def properties(self):\n        return {'score': str(1.0 / (1 + self.n))}\n"
                      "serve(Scored, name='scored')\n")
    from harness import registry
    from harness.api import BoxPrompt
    from harness.boxes import box_of_mask
    from harness.data import open_dataset
    from harness.trax_client import TrackerFault

    ds = open_dataset(synth_data)
    video = ds.video(ds.videos[0])
    oid, first = sorted(video.objects.items())[0]
    prompt = BoxPrompt(frame=first, obj_id=oid, box=box_of_mask(video.gt(first) == oid))

    def run(command, threshold):
        method = registry.create("trax", registry.build_config(registry.get("trax"), {
            "python": str(tracker_python), "command": str(command), "confidence_threshold": threshold}), "cpu")
        with method.open_session(video.frames) as s:
            s.add_prompt(prompt)
            return [r for r in s.propagate() if r.processed]

    plain = run(server, None)
    assert [r.scores[oid] for r in plain[1:4]] == pytest.approx([1 / 2, 1 / 3, 1 / 4])
    assert all(r.boxes[oid] is not None for r in plain)
    cut = run(server, 0.3)  # scores 1/2 (kept), 1/3 (kept), 1/4 and below (absent)
    assert [r.boxes[oid] is None for r in cut[:5]] == [False, False, False, True, True]
    assert cut[1].boxes[oid] == plain[1].boxes[oid]
    with pytest.raises(TrackerFault, match="confidence_threshold is set but the tracker reports no 'score'"):
        run(REPO / "harness" / "trax_csrt_server.py", 0.3)


def _given(tracker: str) -> dict:
    env = {k: os.environ.get(f"MOSEBENCH_{tracker.upper()}_{k.upper()}", "") for k in ("repo", "python", "ckpt")}
    if not (env["repo"] and env["python"]):
        reason = (f"MOSEBENCH_{tracker.upper()}_REPO and MOSEBENCH_{tracker.upper()}_PYTHON not set: no {tracker} "
                  "checkout/env here (CI cannot clone; docs/trackers.md says how to make one)")
        print(reason)
        pytest.skip(reason)
    return env


@pytest.mark.allow_skip(reason="needs a user checkout of the tracker and its environment, which CI cannot obtain")
@pytest.mark.parametrize("tracker", sorted(DEFAULT_PARAM))
def test_real_checkout_over_trax_gives_the_originals_boxes(tracker, tmp_path, make_synth):
    spec = _given(tracker)
    param = DEFAULT_PARAM[tracker]
    ckpt = spec["ckpt"]
    if not ckpt:
        ckpt = str(tmp_path / "random.pth.tar")
        subprocess.run([spec["python"], str(SERVER), "--tracker", tracker, "--param", param, "--save-random-ckpt",
                        ckpt, "--seed", "0", "--threads", "1", *RANDOM_CFG.get(tracker, ())], cwd=spec["repo"], check=True, timeout=900)
    from harness import registry
    from harness.api import BoxPrompt
    from harness.boxes import box_of_mask
    from harness.data import open_dataset

    data = make_synth(videos=1, frames=3, size=(240, 320))
    video = open_dataset(data).video(open_dataset(data).videos[0])
    oid, first = sorted(video.objects.items())[0]
    box = tuple(float(x) for x in box_of_mask(video.gt(first) == oid))
    method = registry.create(tracker, registry.build_config(registry.get(tracker), {
        "python": spec["python"], "repo": spec["repo"], "ckpt": ckpt, "threads": 1}), "cpu")
    with method.open_session(video.frames) as s:
        s.add_prompt(BoxPrompt(frame=first, obj_id=oid, box=box))
        ours = [r.boxes[oid] for r in s.propagate()][first:]
    report = method.take_video_report()
    assert report["model_time_source"] == "tracker" and report["frames_tracker_time"] == len(ours)
    assert report["peak_rss_bytes"] > 200 * 2**20  # the tracker process's own high-water mark
    frames = [str(p) for p in video.frames.paths[first:]]
    proc = subprocess.run([spec["python"], str(ORIGINAL), tracker, param, ckpt, "mose", ",".join(map(str, box)),
                           *RANDOM_CFG.get(tracker, ()), "--", *frames], cwd=spec["repo"], capture_output=True, text=True, timeout=1800,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(next(line[6:] for line in proc.stdout.splitlines() if line.startswith("BOXES ")))
    print(f"{tracker}: ours {ours}\ntheirs {theirs}", file=sys.stderr)
    assert len(theirs) == len(ours) >= 3
    # TraX rectangles are single precision: equal up to float32 rounding of the reply
    for a, b in zip(ours, theirs):
        assert list(a) == pytest.approx(b, rel=1e-6, abs=1e-4), (ours, theirs)
    assert any(list(b) != list(box) for b in ours[1:])  # it tracked: boxes moved off the init box

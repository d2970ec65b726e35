"""The out-of-process TraX runtime with a real tracker in its own virtual environment (no mocks).

The tracker is OpenCV's CSRT behind ``harness/trax_csrt_server.py`` (and its faulty twin,
``tests/_trax_fault_server.py``) running in a venv created by the test; the harness drives it over
a TraX socket through the real runner (inline executor).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import psutil
import pytest
from _runner_common import REPO, cli, main, run_dir_from, smoke
from _trax_env import make_tracker_env

from harness.config import load_experiment
from harness.runner.driver import run_experiment
from harness.runner.rundir import RunDir

pytest.importorskip("trax", reason="vot-trax is a dependency (pyproject.toml); pip install vot-trax==4.0.2")
FAULT_SERVER = str(REPO / "tests" / "_trax_fault_server.py")


@pytest.fixture(scope="module")
def tracker_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python, _how = make_tracker_env(tmp_path_factory.mktemp("trax-env"))
    return python


def _tracker_processes(python: Path) -> list[psutil.Process]:
    """Live processes running the test venv's interpreter (unique to this test session)."""
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info.get("cmdline") or []
        if cmd and cmd[0] == str(python):
            out.append(p)
    return out


def _records(run_dir: Path, cell: str) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (run_dir / cell / "records").glob("*.json")}


def test_tracker_runs_in_its_own_interpreter_as_a_child_seen_by_peak_rss(tracker_python, synth_data):
    from harness import registry
    from harness.api import BoxPrompt
    from harness.boxes import box_of_mask
    from harness.data import open_dataset
    from harness.runner.memory import tree_rss_bytes

    method = registry.create("trax-csrt", registry.build_config(registry.get("trax-csrt"),
                                                                {"python": str(tracker_python)}), "cpu")
    assert _tracker_processes(tracker_python) == []  # the handshake probe is gone
    ds = open_dataset(synth_data)
    video = ds.video(ds.videos[0])
    oid, first = sorted(video.objects.items())[0]
    box = box_of_mask(video.gt(first) == oid)
    with method.open_session(video.frames) as session:
        session.add_prompt(BoxPrompt(frame=first, obj_id=oid, box=box))
        results = session.propagate()
        for r in results:
            if r.processed:
                break
        procs = _tracker_processes(tracker_python)
        assert len(procs) == 1 and procs[0].ppid() == os.getpid()  # a child: PeakRSS samples it
        assert procs[0].cmdline()[0] != sys.executable  # the test venv's interpreter, not ours
        rss = procs[0].memory_info().rss
        assert rss > 10 * 2**20 and tree_rss_bytes() >= psutil.Process().memory_info().rss + rss // 2
        rest = list(results)
    # every processed frame carries a model time (which source, the tracker's report or the
    # client-side round trip, is not observable here: see the note in docs/adding_a_method.md)
    assert rest and all(r.model_time_s > 0 for r in rest)
    assert _tracker_processes(tracker_python) == []  # closed with the session


def test_an_exception_in_the_caller_kills_the_tracker(tracker_python, synth_data):
    from harness.trax_client import TraxTracker

    with pytest.raises(KeyError), TraxTracker([str(tracker_python), str(REPO / "harness" / "trax_csrt_server.py")]):
        assert len(_tracker_processes(tracker_python)) == 1
        raise KeyError("the runner failed elsewhere")
    assert _tracker_processes(tracker_python) == []


def test_trax_csrt_end_to_end_through_the_runner(tmp_path, synth_data, tracker_python):
    setting = "vot"
    cfg = load_experiment("smoke", smoke(tmp_path, synth_data, "method=trax-csrt", f"setting={setting}",
                                         f"method.python={tracker_python}")[1:])
    out = run_experiment(cfg, quiet=True)
    assert not out.failures and not out.incomplete
    cell = f"trax-csrt--{setting}--synth-tiny"
    recs = _records(RunDir(out.run_dir).root, cell)
    assert len(recs) == 3 and all(r["status"] == "done" for r in recs.values())
    for r in recs.values():
        assert r["boxes"] and r["model_frames"] > 0 and r["model_s"] > 0
        assert all(len(b) == r["frames"] for b in r["boxes"].values())
    assert out.summaries[0]["metrics"]["AUC"] > 5  # CSRT follows the synthetic objects
    assert _tracker_processes(tracker_python) == []


def test_mask_settings_refuse_a_box_tracker_before_it_starts(tmp_path, synth_data, tracker_python):
    """The box setting scores masks: a box-output TraX tracker is refused (exit 2), no process started."""
    proc = cli("run", *smoke(tmp_path, synth_data, "method=trax-csrt", "setting=box",
                             f"method.python={tracker_python}"), check=False)
    assert proc.returncode == 2 and "needs mask output" in proc.stderr + proc.stdout
    assert _tracker_processes(tracker_python) == []


def test_each_fault_fails_its_video_only(tmp_path, make_synth, tracker_python):
    """Five videos: a slow start (the first video's first tracker), a crash, a hang and a garbage
    box each fail one video with a clear error; the fifth video completes."""
    data = make_synth(videos=5, frames=6)
    from harness.data import open_dataset

    v = open_dataset(data).videos
    state = tmp_path / "starts"
    args = (f"[--slow-start,2,--state,{state},--crash,{v[1]}@2,--hang,{v[2]}@3,--garbage,{v[3]}@2]")
    proc = cli("run", *smoke(tmp_path, data, "method=trax", f"method.python={tracker_python}",
                             f"method.command={FAULT_SERVER}", f"method.args={args}", "setting=vot",
                             "method.startup_timeout_s=20", "method.frame_timeout_s=8"),
               check=False, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    recs = _records(run_dir_from(proc.stdout), "trax--vot--synth-tiny")
    assert set(recs) == set(v)
    assert recs[v[4]]["status"] == "done" and recs[v[4]]["boxes"]
    errors = {name: recs[name].get("error", "") for name in v[:4]}
    assert all(recs[name]["status"] == "failed" for name in v[:4]), errors
    assert "handshake within 20 s" in errors[v[0]]
    assert "exited with status 3" in errors[v[1]] and "planted crash" in errors[v[1]]  # the stderr tail
    assert "timed out" in errors[v[2]] and "the tracker was killed" in errors[v[2]]
    assert "malformed box" in errors[v[3]] and "-5.0" in errors[v[3]]
    assert _tracker_processes(tracker_python) == []


def test_out_of_process_csrt_gives_the_in_process_csrt_boxes(tracker_python, synth_data):
    """Same OpenCV tracker, same frames, same init rounding: the boxes over TraX equal the in-process
    ``csrt`` adapter's on every frame it reports a box (it says None where CSRT loses the target; the
    TraX server repeats the last box there, as box trackers do)."""
    import subprocess

    import cv2

    from harness import registry
    from harness.api import BoxPrompt
    from harness.boxes import box_of_mask
    from harness.data import open_dataset

    theirs = subprocess.run([str(tracker_python), "-c", "import cv2; print(cv2.__version__)"], capture_output=True,
                            text=True, check=True).stdout.strip()
    assert theirs == cv2.__version__  # tests/_trax_env.py pins it: the same OpenCV on both sides
    local = registry.create("csrt", None, "cpu")
    remote = registry.create("trax-csrt", registry.build_config(registry.get("trax-csrt"),
                                                                {"python": str(tracker_python)}), "cpu")
    ds = open_dataset(synth_data)
    compared = 0
    for name in ds.videos[:2]:
        video = ds.video(name)
        for oid, first in sorted(video.objects.items()):
            prompt = BoxPrompt(frame=first, obj_id=oid, box=box_of_mask(video.gt(first) == oid))
            runs = []
            for method in (local, remote):
                with method.open_session(video.frames) as s:
                    s.add_prompt(prompt)
                    runs.append([r.boxes.get(oid) for r in s.propagate()])
            for t, (a, b) in enumerate(zip(*runs)):
                if a is not None:
                    assert b is not None and tuple(a) == pytest.approx(tuple(b)), (name, oid, t, a, b)
                    compared += 1
    assert compared > 20


def test_mask_regions_end_to_end_through_the_runner(tmp_path, synth_data, tracker_python):
    """``trax-mask``: mask prompts go to the tracker as TraX mask regions and its mask replies are
    scored by the mask setting (the CSRT server answers with its tracked box, filled)."""
    cfg = load_experiment("smoke", smoke(tmp_path, synth_data, "method=trax-mask", "setting=mask",
                                         f"method.python={tracker_python}",
                                         "method.command=harness/trax_csrt_server.py")[1:])
    out = run_experiment(cfg, quiet=True)
    assert not out.failures and not out.incomplete
    recs = _records(RunDir(out.run_dir).root, "trax-mask--mask--synth-tiny")
    assert len(recs) == 3 and all(r["status"] == "done" and r["model_frames"] > 0 for r in recs.values())
    assert 5 < out.summaries[0]["metrics"]["JF_hat"] < 100  # filled boxes: overlapping, never exact
    assert _tracker_processes(tracker_python) == []


def test_a_box_only_tracker_is_refused_by_the_mask_kind_before_any_video(tmp_path, tracker_python):
    """The handshake decides: a server offering only rectangles cannot be a ``trax-mask`` method (exit 2)."""
    server = tmp_path / "box_only_server.py"
    harness_dir = str(REPO / "harness")
    server.write_text(f"import sys\nsys.path.insert(0, {harness_dir!r})\nfrom trax_csrt_server import CSRT\n"
                      "from trax_server import serve\nserve(CSRT, name='box-only')\n")
    from harness import registry
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="needs 'mask' regions"):
        registry.create("trax-mask", registry.build_config(registry.get("trax-mask"), {
            "python": str(tracker_python), "command": str(server)}), "cpu")
    assert _tracker_processes(tracker_python) == []


def test_the_records_host_memory_includes_the_tracker_processes(tmp_path, synth_data, tracker_python):
    """A video's ``peak_host_rss_bytes`` counts the out-of-process trackers (children of the harness,
    one Python + OpenCV process per object): well above the same tracker run in process."""
    from harness import registry, settings
    from harness.data import open_dataset
    from harness.runner.memory import current_rss_bytes
    from harness.runner.predict import predict_video
    from harness.runner.rundir import CellDir

    ds = open_dataset(synth_data)
    video = ds.video(ds.videos[0])
    growth = {}
    for name, cfg in (("csrt", None), ("trax-csrt", {"python": str(tracker_python)})):
        method = registry.create(name, registry.build_config(registry.get(name), cfg) if cfg else None, "cpu")
        before = current_rss_bytes()
        rec = predict_video(method, settings.get("vot")(), video, CellDir(tmp_path / name))
        assert rec["status"] == "done"
        growth[name] = rec["peak_host_rss_bytes"] - before
    assert growth["trax-csrt"] - growth["csrt"] > 50 * 2**20, growth


def test_methods_lists_the_trax_kinds_and_a_missing_command_is_exit_2(capsys, tmp_path, synth_data):
    rc, out = main(capsys, "methods")
    rows = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert rc == 0 and "output=box" in rows["trax"] and "output=mask" in rows["trax-mask"]
    assert "output=box" in rows["trax-csrt"]
    proc = cli("run", *smoke(tmp_path, synth_data, "method=trax", "setting=vot"), check=False)
    assert proc.returncode == 2 and "method.command" in proc.stderr + proc.stdout


def test_closing_kills_the_trackers_whole_process_group(tmp_path, tracker_python):
    """A tracker that starts helpers of its own (a data loader, a shell wrapper) leaves none behind."""
    server = tmp_path / "spawning_server.py"
    harness_dir = str(REPO / "harness")
    server.write_text(f"import subprocess, sys\nsys.path.insert(0, {harness_dir!r})\n"
                      "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
                      "from trax_csrt_server import CSRT\nfrom trax_server import serve\nserve(CSRT)\n")
    from harness.trax_client import TraxTracker

    with TraxTracker([str(tracker_python), str(server)]) as tracker:
        kids = psutil.Process(tracker.proc.pid).children()
        assert len(kids) == 1 and kids[0].cmdline()[0] == str(tracker_python)
        server_pid, helper = tracker.proc.pid, kids[0]
    # the server and its helper (the grandchild) are gone: checked by pid, not by scanning for the
    # interpreter (other tests' trackers may still be exiting), allowing the kernel a moment to reap
    # the reparented helper (a zombie counts as gone: it runs nothing)
    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.time() + 10
    while (alive(server_pid) or alive(helper.pid)) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(server_pid) and not alive(helper.pid)

"""The predict loop, run directory, records, skip/force, failures and the retry policy (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from _runner_common import PLUGIN, cli, run_dir_from, smoke

from harness.config import load_experiment
from harness.runner.driver import resume, run_experiment
from harness.runner.rundir import RunDir


def _starts(run_dir: Path, cell: str) -> list[str]:
    return [e["video"] for e in RunDir(run_dir).cell(cell).starts()]


def test_inline_run_writes_a_complete_run_directory(tmp_path: Path, synth_data: Path) -> None:
    cfg = load_experiment("smoke", smoke(tmp_path, synth_data)[1:])
    out = run_experiment(cfg, quiet=True)
    run = RunDir(out.run_dir)
    cell = "static--mask--synth-tiny"
    assert out.cells == (cell,) and not out.incomplete and not out.failures
    doc = yaml.safe_load(run.config.read_text())
    prov = doc["provenance"]
    assert len(prov["git_commit"]) in (7, 40) or prov["git_commit"] == "unknown"
    assert prov["packages"]["omegaconf"] and prov["host"] and prov["python"]
    assert doc["experiment"]["cells"][0]["methods"] == ["static"]
    from harness.data import open_dataset

    ds = open_dataset(synth_data)
    for name in ds.videos:
        video = ds.video(name)
        rec = json.loads(run.cell(cell).record_path(name).read_text())
        assert rec["status"] == "done" and rec["frames"] == len(video)
        assert len(rec["model_time_s"]) == len(rec["io_time_s"]) == len(video)
        assert rec["peak_host_rss_bytes"] > 0 and rec["prompts"]
        pngs = sorted(p.stem for p in (run.cell(cell).predictions / name).glob("*.png"))
        assert pngs == list(video.frame_names)
    summary = json.loads(run.cell(cell).summary.read_text())
    assert summary["metrics"]["JF_hat"] == out.summaries[0]["metrics"]["JF_hat"]
    assert 0 <= summary["metrics"]["JF_hat"] <= 100 and summary["metrics"]["fps"] > 0
    assert (run.cell(cell).scores / "per_object.csv").is_file()

    # rerun: everything is skipped, nothing predicted twice, same numbers
    again = run_experiment(cfg, quiet=True)
    assert again.run_dir == out.run_dir
    assert sorted(_starts(run.root, cell)) == sorted(ds.videos)
    assert again.summaries[0]["metrics"] == out.summaries[0]["metrics"]
    # --force redoes every video once more
    forced = run_experiment(load_experiment("smoke", smoke(tmp_path, synth_data, "force=true")[1:]), quiet=True)
    assert sorted(_starts(run.root, cell)) == sorted(list(ds.videos) * 2)
    assert forced.summaries[0]["metrics"]["JF_hat"] == pytest.approx(out.summaries[0]["metrics"]["JF_hat"])


def test_box_output_tracker_keeps_boxes_in_records(tmp_path: Path, synth_data: Path) -> None:
    cfg = load_experiment("smoke", smoke(tmp_path, synth_data, "method=csrt", "setting=vot",
                                         "dataset.max_videos=1")[1:])
    out = run_experiment(cfg, quiet=True)
    run = RunDir(out.run_dir)
    rec = json.loads(next((run.root / "csrt--vot--synth-tiny" / "records").glob("*.json")).read_text())
    assert rec["status"] == "done" and rec["boxes"]
    first = next(iter(rec["boxes"].values()))
    assert len(first) == rec["frames"] and any(b is not None and len(b) == 4 for b in first)
    assert rec["extra"]["sequences"]  # the VOT setting's boxes for scoring


def test_failed_video_is_reported_and_retry_policy_applies_overrides(tmp_path: Path, synth_data: Path) -> None:
    from harness.data import open_dataset

    bad = open_dataset(synth_data).videos[1]
    over = smoke(tmp_path, synth_data, "method=slow-static", f"method.fail_on={bad}", f"plugins=[{PLUGIN}]")
    proc = cli("run", *over, check=False)
    assert proc.returncode == 1, proc.stderr
    run_dir = run_dir_from(proc.stdout)
    assert "injected failure" in proc.stdout and "log:" in proc.stdout
    failures = json.loads((run_dir / "failures.json").read_text())
    assert failures and Path(failures[0]["log"]).name.endswith(".err")
    assert "injected failure" in Path(failures[0]["log"]).read_text()
    status = cli("status", str(run_dir)).stdout
    assert f"slow-static--mask--synth-tiny/{bad} failed" in status and "to do: mosebench resume" in status

    # the retry policy: second attempt with the method option overridden succeeds
    proc = cli("resume", str(run_dir), "retry.attempts=1", "retry.method_overrides={fail_on: ''}", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "attempt 1" in proc.stdout and "attempt 2" in proc.stdout
    starts = [e["video"] for e in RunDir(run_dir).cell("slow-static--mask--synth-tiny").starts()]
    assert sorted(starts) == sorted([*open_dataset(synth_data).videos, bad, bad])
    assert "complete" in cli("status", str(run_dir)).stdout


def test_predict_only_and_resume_from_directory(tmp_path: Path, synth_data: Path) -> None:
    proc = cli("predict", *smoke(tmp_path, synth_data))
    run_dir = Path(proc.stdout.splitlines()[-2]).parents[1]
    assert not (run_dir / "static--mask--synth-tiny" / "summary.json").exists()
    out = resume(run_dir, quiet=True)
    assert out.summaries and not out.incomplete


def test_explicit_run_id_with_another_config_is_refused(tmp_path: Path, synth_data: Path) -> None:
    from harness.errors import ConfigError

    run_experiment(load_experiment("smoke", smoke(tmp_path, synth_data, "run_id=mine")[1:]), quiet=True)
    with pytest.raises(ConfigError, match="different configuration"):
        run_experiment(load_experiment("smoke", smoke(tmp_path, synth_data, "run_id=mine",
                                                      "setting.mask.seed=3")[1:]), quiet=True)
    # execution options may differ: same run, nothing redone
    out = run_experiment(load_experiment("smoke", smoke(tmp_path, synth_data, "run_id=mine", "cluster.jobs=4",
                                                        "retry.attempts=2")[1:]), quiet=True)
    assert out.run_dir.name == "mine" and not out.incomplete


def test_run_directory_is_usable_from_another_working_directory(tmp_path: Path, synth_data: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: relative paths in config.yaml (results, dataset root) were resolved against the
    cwd of `mosebench resume/status/log/ui`, so resuming from elsewhere failed every video and
    pointed MLflow at another store."""
    import shutil

    from harness.runner.rundir import load_run_config

    start, elsewhere = tmp_path / "start", tmp_path / "elsewhere"
    start.mkdir()
    elsewhere.mkdir()
    shutil.copytree(synth_data, start / "data")
    monkeypatch.chdir(start)
    out = run_experiment(load_experiment("smoke", ["results=results", "dataset.root=data"]), quiet=True)
    run_dir = (start / out.run_dir).resolve()
    next(run_dir.glob("*/records/*.json")).unlink()  # one video to redo
    monkeypatch.chdir(elsewhere)
    cfg = load_run_config(RunDir.open(run_dir))
    assert Path(cfg.results) == start / "results" and Path(cfg.dataset["synth-tiny"].root) == start / "data"
    again = resume(run_dir, quiet=True)
    assert again.summaries and not again.incomplete and not again.failures
    assert not (elsewhere / "results").exists()
    monkeypatch.chdir(start)  # from where it started, the run is the same run (nothing anchored)
    assert run_experiment(load_experiment("smoke", ["results=results", "dataset.root=data"]),
                          quiet=True).run_dir.resolve() == run_dir


def test_status_reports_a_cell_whose_scoring_failed(tmp_path: Path, synth_data: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    """Regression: a scoring error (here a corrupt GT PNG the static method never reads) left the
    cell unscored while `mosebench status` said 'complete' and showed no error."""
    import shutil

    from _runner_common import main

    data = tmp_path / "data"
    shutil.copytree(synth_data, data)
    bad = sorted((data / "Annotations").glob("*/*.png"))[1]
    bad.write_bytes(b"not a png")
    out = run_experiment(load_experiment("smoke", smoke(tmp_path, data)[1:]), quiet=True)
    assert out.incomplete and not out.summaries
    rc, text = main(capsys, "status", str(out.run_dir))
    assert rc == 0 and "scoring failed" in text and bad.name in text and "\ncomplete" not in text

"""MLflow logging is idempotent against interruptions (B5), checks its store before any work (B20),
names runs uniquely, and costs nothing (no MLflow import) when there is nothing to log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _runner_common import REPO, main, run_dir_from, smoke

CELL = "static--mask--synth-tiny"


def _all_runs(db: Path, experiment: str = "smoke", kind: str = "cell") -> list:
    """Every MLflow run of the experiment of ``kind`` (cell: the children; run: the parents), deleted ones too."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.get_experiment_by_name(experiment)
    runs = [] if exp is None else client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL)
    return [r for r in runs if r.data.tags.get("mosebench.kind") == kind]


def _scored_run(tmp: Path, data: Path, capsys: pytest.CaptureFixture) -> Path:
    """A scored run directory, not yet logged anywhere."""
    rc, out = main(capsys, "run", *smoke(tmp, data))
    assert rc == 0
    return run_dir_from(out)


def test_logging_interrupted_after_run_creation_is_finished_not_duplicated(
        tmp_path: Path, synth_data: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = _scored_run(tmp_path, synth_data, capsys)
    db = tmp_path / "results" / "mlflow.db"
    # A real fault after the MLflow run exists: the artifact folder cannot be created (a file is in the way).
    blocker = tmp_path / "results" / "mlartifacts" / "smoke"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("in the way")
    rc, _ = main(capsys, "log", str(run_dir))
    assert rc == 2
    (first,) = _all_runs(db)
    assert first.info.status != "FINISHED" and not (run_dir / CELL / "mlflow.json").exists()

    blocker.unlink()
    rc, out = main(capsys, "log", str(run_dir))
    assert rc == 0, out
    runs = _all_runs(db)
    assert len(runs) == 1, [(r.info.run_name, r.info.status, r.info.lifecycle_stage) for r in runs]
    (run,) = runs
    assert run.info.status == "FINISHED" and run.info.run_id == first.info.run_id
    summary = json.loads((run_dir / CELL / "summary.json").read_text())
    assert run.data.metrics["JF_hat"] == pytest.approx(summary["metrics"]["JF_hat"])
    assert json.loads((run_dir / CELL / "mlflow.json").read_text())["run_id"] == run.info.run_id


def test_logged_run_without_its_note_is_adopted(tmp_path: Path, synth_data: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    """Killed after MLflow finished the run but before `<cell>/mlflow.json` was written."""
    run_dir = _scored_run(tmp_path, synth_data, capsys)
    db = tmp_path / "results" / "mlflow.db"
    assert main(capsys, "log", str(run_dir))[0] == 0
    note = json.loads((run_dir / CELL / "mlflow.json").read_text())
    (run_dir / CELL / "mlflow.json").unlink()
    assert main(capsys, "log", str(run_dir))[0] == 0
    runs = _all_runs(db)
    assert [r.info.run_id for r in runs] == [note["run_id"]]


def test_run_names_are_unique_and_the_dataset_is_tagged_by_identity(
        tmp_path: Path, synth_data: Path, capsys: pytest.CaptureFixture) -> None:
    names = []
    for n in (1, 2):  # two runs of the same cell (different configs -> different run ids)
        rc, out = main(capsys, "run", *smoke(tmp_path, synth_data, f"dataset.max_videos={n}", "mlflow.enabled=true"))
        assert rc == 0
        names.append(run_dir_from(out).name)
    rc, out = main(capsys, "run", *smoke(tmp_path, synth_data, "dataset.max_videos=1", "mlflow.enabled=true"),
                   "--force")
    assert rc == 0
    runs = _all_runs(tmp_path / "results" / "mlflow.db")
    got = sorted(r.info.run_name for r in runs)
    assert got == sorted([f"{CELL} {names[0]}", f"{CELL} {names[0]} #2", f"{CELL} {names[1]}"]), got
    for r in runs:
        assert r.data.tags["dataset.root"] == str(synth_data.resolve())
        assert r.data.tags["dataset"].startswith(str(synth_data.resolve()))
        assert r.data.tags["dataset.name"] == "synth-tiny"


@pytest.mark.parametrize("store", ["dir", "garbage", "scheme"])
def test_unusable_store_is_refused_before_any_work(tmp_path: Path, synth_data: Path, store: str,
                                                   capsys: pytest.CaptureFixture) -> None:
    if store == "dir":
        (tmp_path / "store.db").mkdir()
        uri, words = f"sqlite:///{tmp_path / 'store.db'}", "is a directory"
    elif store == "garbage":
        (tmp_path / "store.db").write_text("not a database\n")
        uri, words = f"sqlite:///{tmp_path / 'store.db'}", "not a sqlite database"
    else:
        uri, words = "foo://bar", "unknown scheme 'foo'"
    from harness.cli import main as cli_main

    t0 = time.perf_counter()
    capsys.readouterr()
    rc = cli_main(["run", *smoke(tmp_path, synth_data, "mlflow.enabled=true", f"mlflow.tracking_uri={uri}")])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and "mlflow.enabled=false" in err, err
    assert time.perf_counter() - t0 < 10
    assert not (tmp_path / "results" / "runs").exists()  # nothing started


def test_rerun_of_a_logged_run_imports_no_mlflow_and_says_so(tmp_path: Path, synth_data: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    over = smoke(tmp_path, synth_data, "mlflow.enabled=true")
    assert main(capsys, "run", *over)[0] == 0
    code = ("import sys; from harness.cli import main; rc = main(sys.argv[1:]); "
            "print('MLFLOW IMPORTED' if 'mlflow' in sys.modules else 'no mlflow'); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "run", *over], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "no mlflow" in proc.stdout and "already logged" in proc.stdout, proc.stdout
    assert proc.stdout.index("JF_hat") < proc.stdout.index("MLflow:")  # the table comes first


def test_status_line_says_why_nothing_was_logged(tmp_path: Path, synth_data: Path) -> None:
    """B19: MLflow enabled, nothing scored -> not 'disabled'."""
    from harness.config import load_experiment
    from harness.runner.cell_summary import aggregate_run
    from harness.runner.driver import prepare

    cfg = load_experiment("smoke", smoke(tmp_path, synth_data, "mlflow.enabled=true")[1:])
    run = prepare(cfg)
    assert aggregate_run(run.root)["mlflow"] == "nothing to log (no cell is scored)"


def test_logger_killed_mid_way_then_logged_again_gives_one_finished_run(
        tmp_path: Path, synth_data: Path, capsys: pytest.CaptureFixture) -> None:
    """B5 as the fault trial hit it: kill -9 of the logging process when its first artifact appears."""
    run_dir = _scored_run(tmp_path, synth_data, capsys)
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "log", str(run_dir)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    arts = tmp_path / "results" / "mlartifacts" / "smoke"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(arts.glob("*/artifacts/*")):
        time.sleep(0.002)
    proc.kill()
    proc.wait()
    db = tmp_path / "results" / "mlflow.db"
    assert main(capsys, "log", str(run_dir))[0] == 0
    runs = _all_runs(db)
    assert [(r.info.status, r.info.lifecycle_stage) for r in runs] == [("FINISHED", "active")], runs


def test_store_on_a_read_only_mount_is_refused_at_once(tmp_path: Path) -> None:
    """B20 (m6): a sqlite store on a read-only filesystem, new or existing."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a read-only tmpfs")
    from harness.errors import ConfigError
    from harness.runner.mlflow_log import check_store

    mnt = tmp_path / "ro"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        (mnt / "mlflow.db").write_bytes(b"")
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        t0 = time.perf_counter()
        for path, words in ((mnt / "mlflow.db", "not writable"), (mnt / "sub" / "new.db", "cannot be created")):
            with pytest.raises(ConfigError, match=words):
                check_store(f"sqlite:///{path}")
        assert time.perf_counter() - t0 < 1
    finally:
        subprocess.run(["umount", "-l", str(mnt)])


def test_a_cell_logged_before_parent_runs_existed_is_adopted_under_its_parent(
        tmp_path: Path, synth_data: Path, capsys: pytest.CaptureFixture) -> None:
    """A store written by an older mosebench: the cell's run has no parent; logging again nests it, no copy."""
    from mlflow.tracking import MlflowClient

    run_dir = _scored_run(tmp_path, synth_data, capsys)
    db = tmp_path / "results" / "mlflow.db"
    assert main(capsys, "log", str(run_dir))[0] == 0
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    (cell,) = _all_runs(db)
    (parent,) = _all_runs(db, kind="run")
    client.delete_tag(cell.info.run_id, "mlflow.parentRunId")
    client.delete_run(parent.info.run_id)
    (run_dir / CELL / "mlflow.json").unlink()
    assert main(capsys, "log", str(run_dir))[0] == 0
    (again,) = [r for r in _all_runs(db) if r.info.lifecycle_stage == "active"]
    parents = [r for r in _all_runs(db, kind="run") if r.info.lifecycle_stage == "active"]
    assert again.info.run_id == cell.info.run_id and len(parents) == 1
    assert again.data.tags["mlflow.parentRunId"] == parents[0].info.run_id

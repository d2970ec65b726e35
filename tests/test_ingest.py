"""`mosebench ingest`: the official scorer's output (tests/golden/ingest, see its README) becomes a cell's scores."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from _runner_common import cli, main

GOLDEN = Path(__file__).resolve().parent / "golden" / "ingest"
CELL = "static--mask--synth-tiny"


@pytest.fixture
def predicted(tmp_path) -> Path:
    """A predict-only run (no scores) of the cell the golden result was scored on."""
    cli("predict", "experiment=smoke", f"results={tmp_path / 'results'}")
    (run,) = (tmp_path / "results" / "runs" / "smoke").iterdir()
    assert not (run / CELL / "summary.json").exists()
    return run


def _zip(tmp_path: Path, scores: str | None = None, metrics: str | None = None) -> Path:
    z = tmp_path / "result.zip"
    with zipfile.ZipFile(z, "w") as f:  # the server nests its files in a folder
        f.writestr("output/scores.txt", scores if scores is not None else (GOLDEN / "scores.txt").read_text())
        f.writestr("output/metrics.json", metrics if metrics is not None else (GOLDEN / "metrics.json").read_text())
    return z


def test_ingest_zip_gives_a_scored_cell_and_a_report_row(predicted, tmp_path, capsys):
    before = cli("report", str(predicted))  # predict-only: speed and memory, no scores yet
    row = next(line for line in before.stdout.splitlines() if line.startswith("| static |"))
    assert "| predict-only | – | – |" in row and "mosebench ingest" in before.stderr
    z = _zip(tmp_path)
    rc, out = main(capsys, "ingest", str(predicted / CELL), str(z))
    assert rc == 0 and "server scores attached" in out
    s = json.loads((predicted / CELL / "summary.json").read_text())
    assert s["source"] == "server" and s["server_result"]["sha256"] == hashlib.sha256(z.read_bytes()).hexdigest()
    official = dict(line.split(": ") for line in (GOLDEN / "scores.txt").read_text().splitlines())
    assert s["metrics"]["JF_hat"] == float(official["J&F_new"]) and s["metrics"]["JF"] == float(official["J&F"])
    assert s["metrics"]["JF_hat_r"] == float(official["reappear_J&F_new"])
    # speed from the cell's own records (processed frames / model time, docs/metrics.md)
    assert s["metrics"]["fps"] == pytest.approx(s["model_frames"] / s["model_s"]) and s["n_objects"] == 18
    assert (predicted / CELL / "server_scores" / "metrics.json").is_file()
    rc, out = main(capsys, "report", str(predicted), "--table", "4")
    row = next(line for line in out.splitlines() if line.startswith("| static |"))
    assert f"| server | {float(official['J&F_new']):.1f} |" in row

    from harness.runner.cell_summary import aggregate_run

    aggregate_run(predicted, log_mlflow=False)  # resume/log: the ingested cell is not rescored
    assert json.loads((predicted / CELL / "summary.json").read_text()) == s


def test_ingest_reads_a_scores_txt_next_to_metrics_json(predicted, capsys):
    rc, _ = main(capsys, "ingest", str(predicted / CELL), str(GOLDEN / "scores.txt"))
    assert rc == 0
    assert json.loads((predicted / CELL / "summary.json").read_text())["n_objects"] == 18


def test_edited_copy_paste_line_is_refused(predicted, tmp_path):
    bad = (GOLDEN / "scores.txt").read_text().replace("J&F_new: 29.94", "J&F_new: 39.94")
    p = cli("ingest", str(predicted / CELL), str(_zip(tmp_path, scores=bad)), check=False)
    assert p.returncode == 2 and "Copy-Paste line" in p.stderr
    assert not (predicted / CELL / "summary.json").exists()


def test_result_of_other_videos_is_refused(predicted, tmp_path):
    other = (GOLDEN / "metrics.json").read_text().replace("synth001_", "video9_")
    p = cli("ingest", str(predicted / CELL), str(_zip(tmp_path, metrics=other)), check=False)
    assert p.returncode == 2 and "synth001" in p.stderr and "this cell's submission" in p.stderr
    assert not (predicted / CELL / "summary.json").exists()


def test_locally_scored_cell_needs_replace(tmp_path):
    out = cli("run", "experiment=smoke", f"results={tmp_path / 'results'}").stdout
    (run,) = (tmp_path / "results" / "runs" / "smoke").iterdir()
    assert "run directory" in out
    p = cli("ingest", str(run / CELL), str(GOLDEN / "scores.txt"), check=False)
    assert p.returncode == 2 and "--replace" in p.stderr
    cli("ingest", str(run / CELL), str(GOLDEN / "scores.txt"), "--replace")
    assert json.loads((run / CELL / "summary.json").read_text())["source"] == "server"


def test_not_a_result_is_refused(predicted, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    p = cli("ingest", str(predicted / CELL), str(junk), check=False)
    assert p.returncode == 2 and "scores.txt" in p.stderr


def test_ingested_cell_logs_to_mlflow_with_its_source(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cli("predict", "experiment=smoke", f"results={tmp_path / 'results'}", "mlflow.enabled=true",
        f"mlflow.tracking_uri={uri}")
    (run,) = (tmp_path / "results" / "runs" / "smoke").iterdir()
    out = cli("ingest", str(run / CELL), str(GOLDEN / "scores.txt")).stdout
    assert f"mosebench log {run}" in out
    cli("log", str(run), timeout=300)
    from mlflow.tracking import MlflowClient

    logged = json.loads((run / CELL / "mlflow.json").read_text())
    r = MlflowClient(uri).get_run(logged["run_id"])
    assert r.data.metrics["JF_hat"] == 29.94 and r.data.tags["scores_source"] == "server"
    assert r.data.tags["server_result_sha256"] == hashlib.sha256((GOLDEN / "scores.txt").read_bytes()).hexdigest()
    arts = {a.path for a in MlflowClient(uri).list_artifacts(logged["run_id"], "server_scores")}
    assert {"server_scores/scores.txt", "server_scores/metrics.json", "server_scores/source.json"} <= arts


def test_long_video_table_from_the_servers_per_object_scores(predicted, capsys):
    """With every video counted as long, TABLE 11 from metrics.json must equal the official scorer's own
    dataset numbers in scores.txt (up to its 2-decimal rounding of each object)."""
    from harness.report.server import long_video_scores, read_result

    res = read_result(GOLDEN / "scores.txt")
    frames = {v: 6 for v in ("synth000", "synth001", "synth002")}
    all_long = long_video_scores(res.per_object, frames, min_frames=5)
    assert all_long["n_objects"] == 18
    for k in ("JF_hat", "JF_hat_d", "JF_hat_r"):
        assert all_long[k] == pytest.approx(res.metrics[k], abs=0.01)
    assert long_video_scores(res.per_object, frames)["n_objects"] == 0  # 6 frames: none is > 300
    main(capsys, "ingest", str(predicted / CELL), str(GOLDEN / "scores.txt"))
    saved = json.loads((predicted / CELL / "server_scores" / "long_videos.json").read_text())
    assert saved["min_frames"] == 300 and saved["n_videos"] == 0


def test_a_speed_only_summary_does_not_block_ingest(predicted, capsys):
    """A predict-only cell may carry a summary with FPS/memory only: that is not a local score."""
    (predicted / CELL / "summary.json").write_text(json.dumps(
        {"cell": CELL, "method": "static", "setting": "mask", "dataset": "synth-tiny", "metrics": {"fps": 10.0}}))
    rc, _ = main(capsys, "ingest", str(predicted / CELL), str(GOLDEN / "scores.txt"))
    assert rc == 0 and json.loads((predicted / CELL / "summary.json").read_text())["source"] == "server"

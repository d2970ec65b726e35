"""MLflow: the default sqlite store, a real `mlflow server` (started by `mosebench ui`) queried through
its REST API, logging later when the server was unreachable, and the runs page in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from _runner_common import REPO, main, run_dir_from, smoke


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=20) as r:
        return json.loads(r.read())


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """`mosebench ui --store ...`: a real MLflow server on 127.0.0.1 (stopped by pid afterwards)."""
    tmp = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "ui", "--store", str(tmp / "server.db"),
                             "--artifacts", str(tmp / "artifacts"), "--port", str(port)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (tmp / "server.db").touch()  # `ui` refuses a missing store; mlflow creates the tables
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/health", timeout=2).read().strip() == b"OK":
                break
        except OSError:
            time.sleep(0.5)
        if proc.poll() is not None:
            raise AssertionError(f"mlflow server exited: {proc.stdout.read()}")
    else:
        proc.kill()
        raise AssertionError("mlflow server did not answer /health within 90 s")
    yield url
    proc.send_signal(signal.SIGTERM)  # `mosebench ui` stops the server's process group
    proc.wait(timeout=30)


def test_default_sqlite_store_logs_once(tmp_path: Path, synth_data: Path, capsys: pytest.CaptureFixture) -> None:
    from mlflow.tracking import MlflowClient

    rc, out = main(capsys, "run", *smoke(tmp_path, synth_data, "mlflow.enabled=true"))
    assert rc == 0 and "mosebench ui" in out and "static" in out
    db = tmp_path / "results" / "mlflow.db"
    assert db.is_file()
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.get_experiment_by_name("smoke")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.data.tags["mosebench.kind"] for r in runs) == ["cell", "run"]  # one parent, one child
    (cell,) = [r for r in runs if r.data.tags["mosebench.kind"] == "cell"]
    summary = json.loads((run_dir_from(out) / "static--mask--synth-tiny" / "summary.json").read_text())
    assert cell.data.metrics["JF_hat"] == pytest.approx(summary["metrics"]["JF_hat"])
    assert main(capsys, "run", *smoke(tmp_path, synth_data, "mlflow.enabled=true"))[0] == 0  # nothing new
    assert len(client.search_runs([exp.experiment_id])) == 2
    rc, cmd = main(capsys, "ui", str(run_dir_from(out)), "--dry-run", "--port", "5123")
    assert rc == 0 and f"--backend-store-uri sqlite:///{db}" in cmd and "--host 127.0.0.1 --port 5123" in cmd


def test_runs_are_made_for_comparing_methods(tmp_path: Path, synth_data: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    """Parent per run directory with a child per cell; description, dataset input, CI metrics, tables and
    VOT curves as artifacts; no cluster params; a plugin method's adapter source logged."""
    from _runner_common import PLUGIN
    from mlflow.tracking import MlflowClient

    exp_file = tmp_path / "compare.yaml"  # a built-in, a plugin method and a tracker in one mosebench run
    exp_file.write_text("defaults: [smoke]\nname: compare\ncells:\n"
                        "  - {methods: [static, slow-static], settings: [mask], datasets: [synth-tiny]}\n"
                        "  - {methods: [flow], settings: [vot], datasets: [synth-tiny]}\n")
    over = [f"experiment={exp_file}", *smoke(tmp_path, synth_data, "mlflow.enabled=true")[1:]]
    rc, out = main(capsys, "run", *over, "--plugin", PLUGIN)
    assert rc == 0, out
    run_dir = run_dir_from(out)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("compare")
    runs = client.search_runs([exp.experiment_id])
    (parent,) = [r for r in runs if r.data.tags["mosebench.kind"] == "run"]
    cells = {r.data.tags["mosebench.cell"]: r for r in runs if r.data.tags["mosebench.kind"] == "cell"}
    names = {"static--mask--synth-tiny", "slow-static--mask--synth-tiny", "flow--vot--synth-tiny"}
    assert set(cells) == names
    assert parent.info.run_name == f"compare {run_dir.name}" and parent.info.status == "FINISHED"
    assert "3 cell(s)" in parent.data.tags["mlflow.note.content"]
    assert {r.data.tags["mlflow.parentRunId"] for r in cells.values()} == {parent.info.run_id}
    assert len({r.info.run_name for r in runs}) == len(runs)  # unique names

    mask = cells["static--mask--synth-tiny"]
    note = mask.data.tags["mlflow.note.content"]
    assert "**static**" in note and "setting **mask**" in note and "dataset **synth-tiny**" in note
    assert not [k for k in mask.data.params if k.startswith("cluster")]
    assert mask.data.tags["cluster"] == "inline"
    ci = json.loads((run_dir / mask.data.tags["mosebench.cell"] / "scores" / "summary.json").read_text())["ci"]
    assert mask.data.metrics["JF_hat_ci_low"] == pytest.approx(ci["JF_hat"][0])
    assert mask.data.metrics["JF_hat_ci_high"] == pytest.approx(ci["JF_hat"][1])
    assert mask.data.metrics["JF_hat_d_ci_low"] <= mask.data.metrics["JF_hat_d"] <= mask.data.metrics["JF_hat_d_ci_high"]

    full = client.get_run(mask.info.run_id)  # the runs page's "Dataset" column
    (ds,) = full.inputs.dataset_inputs
    fp = mask.data.tags["dataset.fingerprint"]
    assert ds.dataset.name == "synth-tiny" and ds.dataset.digest == fp[:12]
    assert str(synth_data.resolve()) in ds.dataset.source
    assert {t.key: t.value for t in ds.tags}["mlflow.data.context"] == "eval"

    def files(rid: str, path: str) -> set[str]:
        return {a.path for a in client.list_artifacts(rid, path)}

    assert {"scores/per_object.csv", "scores/attributes.csv", "scores/long_videos.json",
            "scores/vot.json"} <= files(mask.info.run_id, "scores")
    vot = cells["flow--vot--synth-tiny"].info.run_id
    assert "plots/vot_curves.png" in files(vot, "plots")
    png = Path(client.download_artifacts(vot, "plots/vot_curves.png", str(tmp_path / "dl")))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert files(mask.info.run_id, "adapter") == set()  # built-in: its code is the git commit
    plugin = cells["slow-static--mask--synth-tiny"].info.run_id
    assert {"adapter/_runner_plugins.py", "adapter/adapter.json"} <= files(plugin, "adapter")

    # one experiment-level view with the paper's metrics as columns (an experiment tag MLflow's UI reads)
    view = json.loads(client.get_experiment(exp.experiment_id).tags["mlflow.sharedViewState.mosebench"])
    assert view["selectedColumns"][:2] == ["attributes.`Dataset`", "attributes.`Description`"]
    assert "metrics.`JF_hat`" in view["selectedColumns"] and "metrics.`JF_hat_ci_low`" in view["selectedColumns"]

    # logging again (the note files gone, as after a crash) adopts everything: no duplicate parent or child
    for name in names:
        (run_dir / name / "mlflow.json").unlink()
    assert main(capsys, "log", str(run_dir))[0] == 0
    again = client.search_runs([exp.experiment_id])
    assert sorted(r.info.run_id for r in again) == sorted(r.info.run_id for r in runs)


def test_unreachable_server_then_log_through_real_server(tmp_path: Path, synth_data: Path, server: str,
                                                        capsys: pytest.CaptureFixture) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    rc, out = main(capsys, "run", *smoke(tmp_path, synth_data, "mlflow.enabled=true", f"mlflow.tracking_uri={dead}"))
    run_dir = run_dir_from(out)
    assert rc == 0 and "mosebench log" in out and (run_dir / "mlflow_pending.json").is_file()
    assert "MLflow logging pending" in main(capsys, "status", str(run_dir))[1]
    assert main(capsys, "log", str(run_dir), "--tracking-uri", dead)[0] == 2

    rc, out = main(capsys, "log", str(run_dir), "--tracking-uri", server)
    assert "logged 1 new MLflow run" in out and not (run_dir / "mlflow_pending.json").exists()
    assert "logged 0 new" in main(capsys, "log", str(run_dir), "--tracking-uri", server)[1]

    exp = _get(f"{server}/api/2.0/mlflow/experiments/get-by-name?experiment_name=smoke")["experiment"]
    runs = _post(f"{server}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]]})["runs"]
    kinds = [{t["key"]: t["value"] for t in r["data"]["tags"]}["mosebench.kind"] for r in runs]
    assert sorted(kinds) == ["cell", "run"]
    run = runs[kinds.index("cell")]
    metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    summary = json.loads((run_dir / "static--mask--synth-tiny" / "summary.json").read_text())
    assert not {"gpu_reserved_gib", "gpu_allocated_gib"} & set(metrics)  # CPU run: absent, never a fake 0
    for key in ("JF_hat", "J", "F_hat", "JF_hat_d", "JF_hat_r", "F", "JF", "fps", "fps_after_warmup", "host_rss_gib"):
        assert metrics[key] == pytest.approx(summary["metrics"][key]), key
    assert params["method"] == "static" and params["setting"] == "mask"
    assert not [k for k in params if k.startswith("cluster")]  # where it ran: a tag and the config artifact
    assert params["dataset_cfg.root"] == str(synth_data)
    assert tags["mlflow.runName"] == f"static--mask--synth-tiny {run_dir.name}" and tags["cluster"] == "inline"
    assert tags["dataset.root"] == str(synth_data.resolve()) and tags["dataset.name"] == "synth-tiny"
    assert re.fullmatch(r"[0-9a-f]{40}|unknown", tags["git_commit"])
    arts = _get(f"{server}/api/2.0/mlflow/artifacts/list?run_id={run['info']['run_id']}")["files"]
    assert {"config.yaml", "scores", "cell"} <= {a["path"] for a in arts}
    scores = _get(f"{server}/api/2.0/mlflow/artifacts/list?run_id={run['info']['run_id']}&path=scores")["files"]
    assert {"scores/per_object.csv", "scores/per_frame.parquet"} <= {a["path"] for a in scores}


def _chromium_dom(url: str, tmp: Path, width: int = 1600) -> tuple[str, str]:
    """(the page's DOM after its scripts ran, its text) from headless Chromium."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (make test installs it: scripts/install_chromium.sh)")
    proc = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--no-first-run", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp}", f"--window-size={width},1000", "--virtual-time-budget=15000",
                           "--dump-dom", url], capture_output=True, text=True, timeout=120)
    html = re.sub(r"<style.*?</style>", " ", proc.stdout, flags=re.S)
    return proc.stdout, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _shown(v: float, text: str) -> bool:
    """Whether the page shows the value (MLflow prints the float as JavaScript does, or rounded)."""
    return any(s in text for s in {repr(v), f"{v:.2f}", f"{v:.3f}", f"{v:.4g}"})


@pytest.mark.browser
def test_runs_page_in_headless_chromium(tmp_path: Path, synth_data: Path, server: str,
                                        capsys: pytest.CaptureFixture) -> None:
    """A demo-like experiment logged through a real MLflow server: its shared view shows the paper's metrics
    and the Dataset column, sorted by J&F̂; the default view shows each mosebench run as one parent row."""
    exp_file = tmp_path / "demo-ui.yaml"
    exp_file.write_text("defaults: [smoke]\nname: demo-ui\ncells:\n"
                        "  - {methods: [static, flow], settings: [mask], datasets: [synth-tiny]}\n"
                        "  - {methods: [flow], settings: [vot], datasets: [synth-tiny]}\n")
    rc, out = main(capsys, "run", f"experiment={exp_file}", *smoke(tmp_path, synth_data, "mlflow.enabled=true",
                                                                   f"mlflow.tracking_uri={server}")[1:])
    assert rc == 0, out
    run_dir = run_dir_from(out)
    cells = {c: json.loads((run_dir / c / "summary.json").read_text())["metrics"]
             for c in ("static--mask--synth-tiny", "flow--mask--synth-tiny", "flow--vot--synth-tiny")}
    eid = _get(f"{server}/api/2.0/mlflow/experiments/get-by-name?experiment_name=demo-ui")["experiment"][
        "experiment_id"]
    runs = _post(f"{server}/api/2.0/mlflow/runs/search", {"experiment_ids": [eid]})["runs"]
    assert len(runs) == 4
    digest = json.loads((run_dir / "static--mask--synth-tiny" / "mlflow.json").read_text())  # logged
    assert digest["parent_run_id"] in {r["info"]["run_id"] for r in runs}

    # the experiment's shared view (set by the logger): the paper's metrics as columns, sorted by J&F̂
    html, text = _chromium_dom(f"{server}/#/experiments/{eid}/runs?viewStateShareKey=mosebench",
                               tmp_path / "c1", width=3600)
    assert "4 matching runs" in text and "You're viewing a shared view" in text, text[:3000]
    header = text[text.index("Run Name"):text.index("Hide run")]
    for col in ("Dataset", "Description", "method", "setting", "J", "F_hat", "JF_hat", "JF_hat_d", "JF_hat_r",
                "JF_hat_ci_low", "JF_hat_ci_high", "fps"):
        assert f" {col} " in header, (col, header)
    # every cell's Dataset column: its name and fingerprint digest (MLflow's dataset input)
    datasets = re.findall(r"synth-tiny \(([0-9a-f]{12})\) eval", text)
    assert len(datasets) == 3 and len(set(datasets)) == 1, datasets
    for name, m in cells.items():
        for key in ("JF_hat", "J", "F_hat", "JF_hat_r") if "--mask--" in name else ("AUC",):
            assert _shown(m[key], text), (name, key, m[key])
    first, second = sorted((c for c in cells if "--mask--" in c), key=lambda c: -cells[c]["JF_hat"])
    assert text.index(f"{first} {run_dir.name}") < text.index(f"{second} {run_dir.name}")  # by J&F̂, best first
    assert "**static**, setting **mask**" in text  # the Description column (cut to its width)

    # the default view: one row per mosebench run (its cells folded under it, an expand control)
    html, text = _chromium_dom(f"{server}/#/experiments/{eid}/runs", tmp_path / "c2")
    assert "4 matching runs" in text
    assert f"demo-ui {run_dir.name}" in text and not any(f"{c} {run_dir.name}" in text for c in cells), text[:3000]
    assert "runnamecellrenderer" in html  # the parent row's expand button

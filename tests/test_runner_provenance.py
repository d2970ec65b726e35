"""Which code and which data made a number: identities in plan, records and MLflow; a rerun or resume
after the code or the data changed refuses (exit 2) naming the change, and never mixes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from _runner_common import PLUGIN, cli, main, run_dir_from, smoke

from harness.config import load_experiment
from harness.runner.driver import execute, prepare, resume, run_experiment
from harness.runner.identity import IdentityChanged
from harness.runner.rundir import RunDir, cell_identity

CELL = "slow-static--mask--synth-tiny"


def _plugin_copy(tmp: Path) -> Path:
    dst = tmp / "my_plugin.py"
    shutil.copy(PLUGIN, dst)
    return dst


def _records(run_dir: Path, cell: str) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (run_dir / cell / "records").glob("*.json")}


def test_records_and_plan_carry_code_and_data_identity(tmp_path: Path, make_synth) -> None:
    data = make_synth()
    plugin = Path(PLUGIN)  # (in this process: a copy would register 'slow-static' a second time)
    out = run_experiment(load_experiment("smoke", smoke(tmp_path, data, "method=slow-static",
                                                        f"plugins=[{plugin}]")[1:]), quiet=True)
    ident = cell_identity(RunDir(out.run_dir), CELL)
    assert ident is not None
    sources = dict(ident.code.sources)
    assert sources[str(plugin)] == __import__("hashlib").sha1(plugin.read_bytes()).hexdigest()
    assert dict(ident.code.packages)["mosebench"]
    assert ident.data.root == str(data.resolve()) and len(ident.data.videos) == 2
    for video, rec in _records(out.run_dir, CELL).items():
        assert rec["identity"] == {"code": ident.code.digest, "data": ident.data.video(video)}
        assert rec["code"]["commit"] == ident.code.commit and rec["method_overrides"] == {}
    tags = ident.tags()
    assert tags["mosebench.code"] == ident.code.digest[:12] and "_runner_plugins.py=" in tags["mosebench.sources"]


def test_editing_a_plugin_then_rerunning_is_refused_not_served_stale(tmp_path: Path, make_synth) -> None:
    """Regression (newcomer trial, point 1): an edited plugin, the same command rerun, printed the old
    table from the old predictions."""
    data = make_synth()
    plugin = _plugin_copy(tmp_path)
    args = ["run", *smoke(tmp_path, data, "method=slow-static"), "--plugin", str(plugin), "--quiet"]
    first = cli(*args)
    run_dir = run_dir_from(first.stdout)
    old = _records(run_dir, CELL)
    plugin.write_text(plugin.read_text() + "\n# an edit that could change the masks\n")
    again = cli(*args, check=False)
    assert again.returncode == 2, again.stdout + again.stderr
    assert "my_plugin.py" in again.stderr and "--force" in again.stderr and "run_id=" in again.stderr
    assert _records(run_dir, CELL) == old  # nothing touched
    assert cli("resume", str(run_dir), check=False).returncode == 2
    forced = cli(*args, "--force")
    assert forced.returncode == 0
    new = _records(run_dir, CELL)
    assert all(new[v]["identity"]["code"] != old[v]["identity"]["code"] for v in old)
    assert cell_identity(RunDir(run_dir), CELL).code.digest == next(iter(new.values()))["identity"]["code"]


def test_regenerated_data_under_the_same_path_is_refused_by_resume(tmp_path: Path, make_synth) -> None:
    """Regression B1: `resume` after another config regenerated the shared data finished the run on the
    new data, exit 0, with wrong numbers."""
    from harness.data.synth import generate

    data = make_synth()
    out = run_experiment(load_experiment("smoke", smoke(tmp_path, data)[1:]), quiet=True)
    cell = "static--mask--synth-tiny"
    rec = next((out.run_dir / cell / "records").glob("*.json"))
    rec.unlink()  # one video left to do, as after a kill
    shutil.rmtree(data)
    generate(data, videos=2, frames=10, size=(64, 80), seed=1)  # same path, other content
    proc = cli("resume", str(out.run_dir), check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "data: files (names, sizes or mtimes) of 2 of 2 video(s)" in proc.stderr
    assert not rec.exists() and "--force" in proc.stderr
    rerun = cli("run", *smoke(tmp_path, data), check=False)
    assert rerun.returncode == 2 and "data:" in rerun.stderr
    assert cli("resume", "--force", str(out.run_dir)).returncode == 0  # a new run on the new data
    recs = _records(out.run_dir, cell)
    ident = cell_identity(RunDir(out.run_dir), cell)
    assert len(recs) == 2 and all(r["identity"]["data"] == ident.data.video(v) for v, r in recs.items())


def test_data_changed_after_planning_fails_the_video_in_the_shard(tmp_path: Path, make_synth) -> None:
    """A shard compares each video's files with the plan before predicting it (a SLURM job may start
    hours after planning)."""
    data = make_synth()
    cfg = load_experiment("smoke", smoke(tmp_path, data)[1:])
    run = prepare(cfg)
    victim = sorted(p.name for p in (data / "JPEGImages").iterdir())[0]
    frame = sorted((data / "JPEGImages" / victim).iterdir())[0]
    frame.write_bytes(frame.read_bytes() + b"\0")
    out = execute(run, cfg, quiet=True)
    rec = json.loads(run.cell("static--mask--synth-tiny").record_path(victim).read_text())
    assert rec["status"] == "failed" and "changed since the run was planned" in rec["error"]
    assert out.incomplete == ("static--mask--synth-tiny",)


def test_records_of_other_code_are_never_scored_together(tmp_path: Path, synth_data: Path) -> None:
    from harness.runner.cell_summary import aggregate_run

    out = run_experiment(load_experiment("smoke", smoke(tmp_path, synth_data)[1:]), quiet=True)
    cell = RunDir(out.run_dir).cell("static--mask--synth-tiny")
    path = next(cell.records.glob("*.json"))
    rec = json.loads(path.read_text())
    rec["identity"]["code"] = "0" * 40
    path.write_text(json.dumps(rec))
    result = aggregate_run(out.run_dir, log_mlflow=False, force=True)
    assert result["incomplete"] == ["static--mask--synth-tiny"]
    assert "other code or data" in json.loads((cell.root / "score_error.json").read_text())["error"]


def test_config_yaml_keeps_the_creating_drivers_provenance(tmp_path: Path, synth_data: Path) -> None:
    """Regression: every rerun or resume rewrote config.yaml with the current commit."""
    cfg = load_experiment("smoke", smoke(tmp_path, synth_data)[1:])
    out = run_experiment(cfg, quiet=True)
    run = RunDir(out.run_dir)
    doc = yaml.safe_load(run.config.read_text())
    doc["provenance"]["git_commit"] = "the-commit-that-made-it"
    run.config.write_text(yaml.safe_dump(doc))
    run_experiment(cfg, quiet=True)
    resume(out.run_dir, quiet=True)
    assert yaml.safe_load(run.config.read_text())["provenance"]["git_commit"] == "the-commit-that-made-it"


def test_retry_overrides_are_recorded_per_video(tmp_path: Path, synth_data: Path) -> None:
    from harness.data import open_dataset

    bad = open_dataset(synth_data).videos[1]
    cfg = load_experiment("smoke", smoke(tmp_path, synth_data, "method=slow-static", f"method.fail_on={bad}",
                                         f"plugins=[{PLUGIN}]", "retry.attempts=1",
                                         "retry.method_overrides={fail_on: ''}")[1:])
    out = run_experiment(cfg, quiet=True)
    assert not out.incomplete
    recs = _records(out.run_dir, CELL)
    assert recs[bad]["method_overrides"] == {"fail_on": ""} and recs[bad]["attempt"] == 2
    assert all(r["method_overrides"] == {} for v, r in recs.items() if v != bad)


def test_mlflow_tags_carry_the_identity(tmp_path: Path, synth_data: Path, capsys: pytest.CaptureFixture) -> None:
    from mlflow.tracking import MlflowClient

    rc, out = main(capsys, "run", *smoke(tmp_path, synth_data, "mlflow.enabled=true"))
    assert rc == 0
    ident = cell_identity(RunDir(run_dir_from(out)), "static--mask--synth-tiny")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}")
    (mrun,) = client.search_runs([client.get_experiment_by_name("smoke").experiment_id],
                                 filter_string="tags.`mosebench.kind` = 'cell'")  # the cell (its parent: the run)
    tags = mrun.data.tags
    assert tags["mosebench.code"] == ident.code.digest[:12] and tags["mosebench.data"] == ident.data.digest[:12]
    assert tags["git_commit"] == ident.code.commit and tags["mosebench.data_root"] == str(synth_data.resolve())


def test_identity_changes_are_named(tmp_path: Path) -> None:
    from harness.runner.identity import CellIdentity, CodeIdentity, DataIdentity

    code = CodeIdentity("a" * 40, "", (("/x/p.py", "1" * 40),), (("torch", "2.4"),), ())
    data = DataIdentity("/d", "m", "", (("v1", "f1"), ("v2", "f2")))
    new = CellIdentity(CodeIdentity("b" * 40, "d" * 40, (("/x/p.py", "2" * 40),), (("torch", "2.5"),), ()),
                       DataIdentity("/d", "m2", "", (("v1", "f1"), ("v2", "g2"))))
    words = CellIdentity(code, data).changes(new)
    assert any("git commit aaaaaaaaaaaa -> bbbbbbbbbbbb" in w for w in words)
    assert any("uncommitted changes" in w for w in words)
    assert any("source file /x/p.py" in w for w in words) and any("package torch: 2.4 -> 2.5" in w for w in words)
    assert any("meta file" in w for w in words) and any("of 1 of 2 video(s): v2" in w for w in words)
    assert CellIdentity.from_json(CellIdentity(code, data).to_json()) == CellIdentity(code, data)
    with pytest.raises(IdentityChanged):
        raise IdentityChanged("exit status 2")
    assert IdentityChanged.exit_code == 2


def test_a_checkpoint_named_by_an_option_is_part_of_the_code(tmp_path: Path) -> None:
    from dataclasses import dataclass

    from harness.runner.identity import option_files

    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"x" * 10)

    @dataclass(frozen=True)
    class Cfg:
        ckpt: str = str(weights)
        size: str = "s"

    before = option_files(Cfg())
    assert [k for k, _ in before] == ["ckpt"] and "size=10" in before[0][1]
    weights.write_bytes(b"y" * 11)
    assert option_files(Cfg()) != before


def test_synthetic_default_folder_is_not_shared_by_other_generation_options(tmp_path: Path) -> None:
    """Regression B1: every config of dataset `synth` shared results/data/synth, and one with another
    seed regenerated it under a run in progress."""
    from harness.runner.driver import prepare
    from harness.runner.plan import SYNTH_SPEC

    base = ["experiment=smoke", f"results={tmp_path / 'results'}"]
    a = load_experiment("smoke", base[1:])
    b = load_experiment("smoke", [*base[1:], "dataset.synth-tiny.synth.seed=7"])
    root_a, root_b = Path(a.dataset["synth-tiny"].root), Path(b.dataset["synth-tiny"].root)
    assert root_a != root_b and root_a.parent == root_b.parent == tmp_path / "results" / "data"
    assert load_experiment("smoke", base[1:]).dataset["synth-tiny"].root == str(root_a)  # stable
    prepare(a)
    before = {p: p.stat().st_mtime_ns for p in root_a.rglob("*")}
    prepare(b)
    assert {p: p.stat().st_mtime_ns for p in root_a.rglob("*")} == before
    assert json.loads((root_b / SYNTH_SPEC).read_text())["seed"] == 7

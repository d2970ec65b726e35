"""Experiment configuration: schema -> YAML (defaults inheritance) -> dotlist, groups, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import expand_cells, load_experiment
from harness.errors import CapabilityError, ConfigError


def test_demo_experiment_resolves_every_group() -> None:
    cfg = load_experiment()
    cells = {c.name for c in expand_cells(cfg)}
    assert "static--mask--synth" in cells and "csrt--vot--synth" in cells
    assert cfg.cluster.name == "local" and cfg.cluster.executor == "local"
    assert cfg.dataset["synth"].synth is not None and cfg.dataset["synth"].layout == "mose"
    assert set(cfg.setting) >= {"mask", "vot"}
    assert cfg.mlflow.enabled and cfg.mlflow.tracking_uri is None


def test_merge_order_schema_then_yaml_then_dotlist() -> None:
    cfg = load_experiment("demo", ["cluster=slurm"])
    assert cfg.cluster.gpus == 1  # slurm.yaml overrides the schema default (0)
    assert cfg.cluster.partition is None  # schema default kept
    cfg = load_experiment("demo", ["cluster=slurm", "cluster.partition=gpu", "cluster.gpus=4",
                                   "cluster.extra_sbatch=[--exclusive]"])
    assert (cfg.cluster.partition, cfg.cluster.gpus, cfg.cluster.extra_sbatch) == ("gpu", 4, ["--exclusive"])


def test_group_selection_narrows_cells_and_method_shorthand() -> None:
    cfg = load_experiment("demo", ["method=flow", "setting=box,vot", "method.preset=fast"])
    assert [c.name for c in expand_cells(cfg)] == ["flow--box--synth", "flow--vot--synth"]
    assert cfg.method["flow"]["preset"] == "fast"
    assert cfg.method["flow"]["grabcut_iters"] == 5  # from configs/method/flow.yaml
    cfg = load_experiment("demo", ["method=sam2", "setting=mask", "method.size=l"])
    assert [c.name for c in expand_cells(cfg)] == ["sam2--mask--synth"]
    assert cfg.method["sam2"]["size"] == "l"


@pytest.mark.parametrize("override, names", [
    ("bogus=1", ["'bogus'", "cluster", "mlflow"]),
    ("cluster.partitionn=gpu", ["partitionn", "partition", "array_parallelism"]),
    ("cluster=nope", ["nope", "local", "slurm", "inline"]),
    ("dataset=nope", ["nope"]),
    ("retry.atempts=1", ["atempts", "attempts"]),
])
def test_unknown_keys_name_the_key_and_valid_ones(override: str, names: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        load_experiment("demo", [override])
    for n in names:
        assert n in str(err.value)


def test_ambiguous_method_shorthand_is_an_error() -> None:
    with pytest.raises(ConfigError, match="several methods"):
        load_experiment("demo", ["method.preset=fast"])


def test_defaults_inheritance_and_config_dir(tmp_path: Path) -> None:
    for group in ("experiment", "dataset", "cluster"):
        (tmp_path / group).mkdir()
    (tmp_path / "cluster" / "local.yaml").write_text("executor: local\njobs: 3\n")
    (tmp_path / "dataset" / "base.yaml").write_text("layout: davis\nroot: /data/davis\nsplit: val\n")
    (tmp_path / "dataset" / "child.yaml").write_text("defaults: [base]\nsplit: train\n")
    (tmp_path / "experiment" / "base.yaml").write_text("device: cuda\ncluster: local\n")
    (tmp_path / "experiment" / "exp.yaml").write_text(
        "defaults: [base]\ncells:\n  - {methods: [static], settings: [mask], datasets: [child]}\n")
    cfg = load_experiment("exp", cdir=tmp_path)
    assert cfg.name == "exp" and cfg.device == "cuda" and cfg.cluster.jobs == 3
    ds = cfg.dataset["child"]
    assert (ds.layout, ds.root, ds.split) == ("davis", "/data/davis", "train")


def test_method_options_and_capabilities_checked_before_any_work(tmp_path: Path) -> None:
    from harness.runner.driver import prepare

    out = [f"results={tmp_path}", f"dataset.root={tmp_path / 'never-created'}"]
    with pytest.raises(ConfigError, match="preset"):
        prepare(load_experiment("demo", ["method=flow", "setting=mask", "method.presett=fast", *out]))
    with pytest.raises(CapabilityError) as err:
        prepare(load_experiment("demo", ["method=static", "setting=box", *out]))
    msg = str(err.value)
    assert "'static' cannot run setting 'box'" in msg and "flow" in msg and "sam2" in msg
    assert not (tmp_path / "never-created").exists() and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("override", "match"), [
    ("device=tpu", "device must be cpu, cuda, cuda:N or mps, got 'tpu'"),
    ("cluster.jobs=0", "cluster.jobs must be >= 1, got 0"),
    ("retry.attempts=-1", "retry.attempts must be >= 0"),
])
def test_invalid_values_are_refused(override: str, match: str) -> None:
    """Regression: device=tpu and cluster.jobs=-1 used to be accepted (and run)."""
    with pytest.raises(ConfigError, match=match):
        load_experiment("smoke", [override])
    assert load_experiment("smoke", ["device=cuda:1"]).device == "cuda:1"


def test_dotted_override_of_an_unused_config_name_is_not_rewritten() -> None:
    """Regression: with one setting selected, `setting.box.options.x=1` became `setting.mask.box.options.x`
    ("unknown key 'setting.mask.box'"); it names setting 'box', which no cell uses."""
    with pytest.raises(ConfigError, match="setting.box configured but no cell uses setting 'box'"):
        load_experiment("smoke", ["setting.box.options.x=1"])
    with pytest.raises(ConfigError, match="method.static configured but no cell uses method 'static'"):
        load_experiment("smoke", ["method=flow", "method.static.x=1"])
    # the shorthand still works
    assert load_experiment("smoke", ["setting=interactive", "setting.options.max_interactions=3"]) \
        .setting["interactive"].options == {"max_interactions": 3}


@pytest.mark.parametrize("cells", ["[[static]]", "{methods: [static], settings: [mask], datasets: [synth]}"])
def test_malformed_cells_are_a_config_error(tmp_path: Path, cells: str) -> None:
    """Regression: a cells entry that is not a mapping crashed with a ValueError traceback."""
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "exp.yaml").write_text(f"cells: {cells}\n")
    with pytest.raises(ConfigError, match="'cells' must be a list of mappings"):
        load_experiment("exp", cdir=tmp_path)


def test_sam2_without_checkpoint_is_refused_before_any_work(tmp_path: Path) -> None:
    """Regression: a missing sam2 checkpoint used to surface only inside the shards (after a SLURM
    queue wait), leaving a run directory with every video failed."""
    from harness.runner.driver import prepare

    out = [f"results={tmp_path}", f"dataset.root={tmp_path / 'never-created'}"]
    with pytest.raises(ConfigError, match="needs a checkpoint.*sam2.1_hiera_small.pt.*method.ckpt="):
        prepare(load_experiment("demo", ["method=sam2-s", "setting=mask", *out]))
    with pytest.raises(ConfigError, match=r"^method\.flow: .*unknown option 'presett'"):  # names the key
        prepare(load_experiment("demo", ["method=flow", "setting=mask", "method.presett=fast", *out]))
    assert not (tmp_path / "never-created").exists() and not (tmp_path / "runs").exists()


def test_cli_reports_config_errors_with_exit_status_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from harness.cli import main

    assert main(["run", "bogus=1"]) == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err
    assert main(["run", "method=nosuch", "setting=mask"]) == 2
    assert "unknown method 'nosuch'" in capsys.readouterr().err
    assert main(["status", str(tmp_path)]) == 2
    assert "not a mosebench run directory" in capsys.readouterr().err
    assert main(["resume", str(tmp_path), "method=flow"]) == 2


def test_settings_take_no_seed() -> None:
    """Prompts are deterministic: a setting seed would enter the run identity and change nothing."""
    with pytest.raises(ConfigError, match="seed"):
        load_experiment("smoke", ["setting.seed=3"])

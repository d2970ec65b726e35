"""Bad options: a clear error naming the key, the value and what is expected; exit 2; nothing started.

Regressions for the reliability trial's B3, B13, B16, B17, B21, B24 (``dataset.synth.videos=8``) and
B25 (negative ``max_videos``, duplicate videos, ``run_id`` outside the results, resume overrides).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest
from _bad_input_cli import mosebench, refused

from harness import registry, settings
from harness.config import load_experiment
from harness.errors import ConfigError
from harness.options import bounds_of


def _run(tmp_path: Path, *overrides: str, experiment: str = "smoke"):
    """`mosebench run` of a small experiment whose dataset root and results live in tmp_path."""
    return mosebench("run", f"experiment={experiment}", f"results={tmp_path / 'res'}",
                     f"dataset.root={tmp_path / 'data'}", *overrides, cwd=tmp_path)


def _nothing_started(tmp_path: Path) -> None:
    assert not (tmp_path / "res").exists(), "a results folder was created"
    assert not (tmp_path / "data").exists(), "the dataset was generated"


@pytest.mark.parametrize(("overrides", "fragments"), [
    # B3: used to be accepted; GrabCut's error was swallowed and the box numbers changed (rc 0)
    (["method.grabcut_iters=abc"], ["method.flow.grabcut_iters", "'abc'", "expected an integer"]),
    (["method.grabcut_iters=2.5"], ["method.flow.grabcut_iters", "2.5", "expected an integer"]),
    (["method.grabcut_iters=-3"], ["method.flow.grabcut_iters must be >= 1, got -3"]),
    # B16: used to be accepted, then every video failed with cv2 tracebacks
    (["method.max_side=-1"], ["method.flow.max_side must be >= 0, got -1"]),
    (["method.boundary_band=-4"], ["method.flow.boundary_band must be >= 0, got -4"]),
])
def test_flow_options_are_checked_before_any_work(tmp_path: Path, overrides: list[str], fragments: list[str]) -> None:
    res = _run(tmp_path, "method=flow", "setting=box", *overrides)
    refused(res, *fragments)
    _nothing_started(tmp_path)


@pytest.mark.parametrize(("overrides", "fragments"), [
    # B13: crashed after the jobs were submitted (ValueError: sleep length must be non-negative)
    (["cluster=local", "cluster.poll_s=-1"], ["cluster.poll_s must be > 0, got -1"]),
    # B25: accepted (meant "all")
    (["dataset.synth-tiny.max_videos=-3"], ["dataset.synth-tiny.max_videos must be >= 0, got -3"]),
    # B25: accepted, synth000 predicted twice
    (["dataset.synth-tiny.videos=[synth000,synth000,synth001]"], ["dataset.synth-tiny.videos", "synth000",
                                                                  "twice"]),
    # B25: the run was written outside results/runs
    (["run_id=../../../escape"], ["run_id '../../../escape'", "one plain name"]),
    (["run_id=/tmp/absrun"], ["run_id '/tmp/absrun'"]),
    (["run_id=.."], ["run_id '..'"]),
    # B24: "AnyNode is not a ListConfig, list or tuple"
    (["dataset.synth-tiny.videos=8"], ["dataset.synth-tiny.videos", "expects a list, got 8",
                                       "dataset.synth-tiny.synth.videos"]),
    # B21: found only at scoring time, after every prediction
    (["dataset.synth-tiny.protocol=xyz"], ["dataset.synth-tiny.protocol must be one of mose | davis, got 'xyz'"]),
    (["mlflow.enabled=true", "mlflow.tracking_uri=foo://bar"], ["mlflow.tracking_uri 'foo://bar'", "scheme 'foo'"]),
    (["dataset.synth-tiny.synth.frames=-5"], ["dataset.synth-tiny.synth.frames must be >= 2, got -5"]),
])
def test_experiment_values_are_checked_before_any_work(tmp_path: Path, overrides: list[str],
                                                       fragments: list[str]) -> None:
    res = _run(tmp_path, *overrides)
    refused(res, *fragments)
    _nothing_started(tmp_path)
    assert "generating" not in res.out


def test_cell_group_without_datasets_is_refused(tmp_path: Path) -> None:
    """B17: a cell group without `datasets:` expanded to no cells: rc 0, an empty table, a run dir."""
    cdir = tmp_path / "cfg"
    import shutil

    shutil.copytree(Path(__file__).resolve().parent.parent / "configs", cdir)
    (cdir / "experiment" / "nodata.yaml").write_text(
        "name: nodata\ncells: [{methods: [static], settings: [mask]}]\ncluster: inline\n")
    res = mosebench("run", "--config-dir", str(cdir), "experiment=nodata", f"results={tmp_path / 'res'}",
                    cwd=tmp_path)
    refused(res, "cell group 1 has no datasets", "runs nothing")
    assert not (tmp_path / "res").exists()


def test_resume_overrides_are_range_checked(tmp_path: Path) -> None:
    """B25: `resume RUN cluster.jobs=-4` skipped the value checks."""
    res = _run(tmp_path, "mlflow.enabled=false", "run_id=r")
    assert res.rc == 0, res.err
    run_dir = tmp_path / "res" / "runs" / "smoke" / "r"
    before = sorted(p.name for p in run_dir.rglob("*"))
    refused(mosebench("resume", str(run_dir), "cluster.jobs=-4", cwd=tmp_path), "cluster.jobs must be >= 1, got -4")
    refused(mosebench("resume", str(run_dir), "cluster.poll_s=0", cwd=tmp_path), "cluster.poll_s must be > 0")
    assert sorted(p.name for p in run_dir.rglob("*")) == before


# --- the mechanism: every option of every method and setting is checked ---------------------------------


def _bad_values(tp: typing.Any) -> list[object]:
    """Values of the wrong type for annotation ``tp``."""
    base = {int: ["abc", 2.5, True], float: ["abc", True], bool: ["maybe", 1], str: [[1], {"a": 1}]}
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return base.get(args[0] if len(args) == 1 else tp, [])


def _configs() -> list[tuple[str, type]]:
    out = []
    for name in registry.names():
        try:
            cls = registry.get(name)
        except Exception:  # an optional dependency missing here
            continue
        schema = getattr(cls, "Config", None)
        if schema is not None and dataclasses.is_dataclass(schema):
            out.append((f"method.{name}", schema))
    for name in settings.names():
        schema = getattr(settings.get(name), "Config", None)
        if schema is not None:
            out.append((f"setting.{name}.options", schema))
    return out


def _every_field() -> list[tuple[str, type, dataclasses.Field, typing.Any]]:
    rows = []
    for where, schema in _configs():
        hints = typing.get_type_hints(schema)
        rows += [(where, schema, f, hints[f.name]) for f in dataclasses.fields(schema)]
    return rows


@pytest.mark.parametrize(("where", "schema", "f", "tp"), _every_field(),
                         ids=[f"{w}.{f.name}" for w, _, f, _ in _every_field()])
def test_every_option_is_type_and_range_checked(where: str, schema: type, f: dataclasses.Field,
                                                tp: typing.Any) -> None:
    from harness.options import build

    for bad in _bad_values(tp):
        with pytest.raises(ConfigError, match=rf"{re.escape(where)}\.{f.name}: expected .*got {re.escape(repr(bad))}"):
            build(schema, {f.name: bad}, where=where)
    b = bounds_of(f)
    if b is None:
        return
    for bad in [v for v in (b.ge - 1 if b.ge is not None else None, b.gt, b.le + 1 if b.le is not None else None,
                            b.lt) if v is not None]:
        bad = int(bad) if typing.get_args(tp) == () and tp is int else bad
        with pytest.raises(ConfigError, match=rf"{re.escape(where)}\.{f.name} must be"):
            build(schema, {f.name: bad}, where=where)
    if b.choices is not None:
        with pytest.raises(ConfigError, match=rf"{re.escape(where)}\.{f.name} must be one of"):
            build(schema, {f.name: "no-such-choice"}, where=where)


def test_counts_and_sizes_declare_bounds() -> None:
    """Every int/float option of the built-in flow/proposals methods and of the experiment's cluster
    declares its range (so a negative value cannot reach OpenCV or time.sleep)."""
    from adapters.flow_baseline import FlowConfig
    from adapters.motion_proposals import ProposalsConfig
    from harness.config import ClusterConfig, SynthSpec

    for schema in (FlowConfig, ProposalsConfig, ClusterConfig, SynthSpec):
        hints = typing.get_type_hints(schema)
        unbounded = [f.name for f in dataclasses.fields(schema)
                     if hints[f.name] in (int, float) and bounds_of(f) is None]
        assert not unbounded, f"{schema.__name__}: {unbounded}"


def test_choice_lists_match_their_owners() -> None:
    from harness import config
    from harness.data.dataset import LAYOUTS
    from harness.metrics.frame import PROTOCOLS
    from harness.runner.executors import EXECUTORS

    assert (config.LAYOUTS, config.PROTOCOLS, config.EXECUTORS) == (LAYOUTS, PROTOCOLS, EXECUTORS)


def test_grabcut_errors_other_than_an_empty_model_are_raised() -> None:
    """B3: `_grabcut` swallowed every cv2.error (a bad iteration count fell back to the raw box)."""
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    from adapters.prompt_masks import _grabcut

    frame = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    hint = np.full((40, 40), cv2.GC_BGD, np.uint8)
    hint[10:30, 10:30] = cv2.GC_PR_FGD
    with pytest.raises(cv2.error):
        _grabcut(frame, hint, "abc")  # type: ignore[arg-type]
    whole = np.full((40, 40), cv2.GC_PR_FGD, np.uint8)  # no background sample: falls back to the hint
    assert _grabcut(frame, whole, 5).all()


def test_good_values_still_load() -> None:
    cfg = load_experiment("smoke", ["cluster.poll_s=0.5", "dataset.synth-tiny.max_videos=2", "run_id=abc-1"])
    assert cfg.cluster.poll_s == 0.5 and cfg.dataset["synth-tiny"].max_videos == 2


def test_retry_overrides_are_checked_before_any_work(tmp_path: Path) -> None:
    """A bad retry override used to surface only when a failed shard was retried."""
    res = _run(tmp_path, "method=flow", "retry.attempts=1", "retry.method_overrides={max_side: -2}")
    refused(res, "retry.method_overrides.max_side must be >= 0, got -2")
    _nothing_started(tmp_path)

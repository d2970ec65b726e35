"""The paper's experiment files (configs/experiment/paper-table*.yaml) load, plan and fit `mosebench report`."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from harness import registry
from harness.config import adapter_name, expand_cells, load_experiment
from harness.report import layouts
from harness.runner.plan import check_capabilities, make_setting

SETTINGS = {4: {"mask"}, 5: {"box"}, 6: {"point1", "point3", "point5"}, 7: {"unsupervised"}, 8: {"interactive"},
            9: {"mask"}, 10: {"vot"}, 11: {"mask"}}


def _option_names(method: str, experiment=None) -> set[str]:
    """Option names of ``method`` (a registry name, or a configs/method alias of one: ``adapter:``)."""
    if experiment is not None:
        method = adapter_name(method, experiment.method.get(method))
    cfg = getattr(registry.get(method), "Config", None)
    return {f.name for f in dataclasses.fields(cfg)} if dataclasses.is_dataclass(cfg) else set()


def _tracker_checkout(m: str, cls, raw, tmp_path) -> list[str]:
    """Overrides pointing an out-of-process tracker at an empty checkout with the files its options check
    (OSTrack family: ``lib/test/tracker/<t>.py`` + ``experiments/<t>/<param>.yaml``; LoRAT: ``main.py``,
    ``trackit/``, ``config/LoRAT/<variant>/config.yaml``), this interpreter and a checkpoint file."""
    repo = tmp_path / f"{m}-checkout"
    cfg = cls.Config
    if getattr(cfg, "tracker", ""):
        (repo / "lib" / "test" / "tracker").mkdir(parents=True, exist_ok=True)
        (repo / "lib" / "test" / "tracker" / f"{cfg.tracker}.py").touch()
        (repo / "experiments" / cfg.tracker).mkdir(parents=True, exist_ok=True)
        (repo / "experiments" / cfg.tracker / f"{raw.get('param') or cfg.default_param}.yaml").touch()
    else:
        variant = raw.get("variant") or next(f.default for f in dataclasses.fields(cfg) if f.name == "variant")
        (repo / "trackit").mkdir(parents=True, exist_ok=True)
        (repo / "main.py").touch()
        (repo / "config" / "LoRAT" / variant).mkdir(parents=True, exist_ok=True)
        (repo / "config" / "LoRAT" / variant / "config.yaml").touch()
    ckpt = tmp_path / f"{m}.pth"
    ckpt.write_bytes(b"not loaded: planning only")
    return [f"method.{m}.python={sys.executable}", f"method.{m}.repo={repo}", f"method.{m}.ckpt={ckpt}"]


def _with_checkpoints(methods: set[str], tmp_path, experiment) -> list[str]:
    """Overrides giving each method among ``methods`` whose options name a checkpoint (``ckpt``) a file, and
    a checkout (``repo``) or detections folder (``detections``) a folder: weights are never downloaded and
    planning needs them named."""
    out = []
    for m in sorted(methods):
        fields = _option_names(m, experiment)
        cls = registry.get(adapter_name(m, experiment.method.get(m)))
        if getattr(cls, "environment", ""):  # out of process: a checkout laid out as the method checks it
            out += _tracker_checkout(m, cls, experiment.method.get(m) or {}, tmp_path)
            continue
        if "ckpt" in fields:
            ckpt = tmp_path / f"{m}.pt"
            ckpt.write_bytes(b"not loaded: planning only")
            out.append(f"method.{m}.ckpt={ckpt}")
        if "repo" in fields:
            (tmp_path / f"{m}-repo").mkdir(exist_ok=True)
            out.append(f"method.{m}.repo={tmp_path / f'{m}-repo'}")
        if "detections" in fields:  # deva-unsup: the user's per-frame segmentations (a folder)
            (tmp_path / f"{m}-detections").mkdir(exist_ok=True)
            out.append(f"method.{m}.detections={tmp_path / f'{m}-detections'}")
    return out


@pytest.mark.parametrize("number", sorted(SETTINGS))
def test_paper_experiment_plans(number, tmp_path):
    cfg = load_experiment(f"paper-table{number}")
    used = {c.method for c in expand_cells(cfg)}
    cfg = load_experiment(f"paper-table{number}", _with_checkpoints(used, tmp_path, cfg))
    cells = expand_cells(cfg)
    check_capabilities(cfg, cells)  # every method can run every setting it is listed for
    assert {c.setting for c in cells} == SETTINGS[number]
    assert {c.dataset for c in cells} == {"mosev2-valid"}
    assert cfg.cluster.executor == "slurm"
    if number in layouts.LAYOUTS:  # the report lays out what the experiment produces
        assert set(layouts.LAYOUTS[number].settings) == SETTINGS[number]


def test_interactive_protocol_is_the_papers():
    cfg = load_experiment("paper-table8")
    s = make_setting(cfg, "interactive")
    assert s.cfg.max_interactions == 8 and s.cfg.seconds_per_object_interaction == 30.0


def test_sam2_sizes_of_the_mask_table():
    cells = expand_cells(load_experiment("paper-table4"))  # planning without checkpoints: cells only
    assert {"sam2-t", "sam2-s", "sam2-b+", "sam2-l"} <= {c.method for c in cells}


def test_side_by_side_lists_every_learned_method_that_runs_without_a_checkout():
    """`methods-side-by-side` is the one table where every shipped learned method runs on random weights:
    a learned built-in (its options have ``random_init``) that needs no user checkout (no ``repo``) must be in it."""
    cfg = load_experiment("methods-side-by-side")
    cells = expand_cells(cfg)
    check_capabilities(cfg, cells)
    listed = {c.method for c in cells}
    want = set()
    for name in registry.BUILTINS:
        fields = _option_names(name)
        if "random_init" in fields and "repo" not in fields:
            want.add(name)
    # one size per adapter (one adapter file per method family) is enough
    missing = {registry.get(m).__module__ for m in want} - {registry.get(m).__module__ for m in listed}
    assert not missing, f"add a method of {sorted(missing)} to configs/experiment/methods-side-by-side.yaml"

"""DeAOT adapter on the deaotpy package: equivalence with the package's own ``tools/eval.py``,
isolation of its ``aot`` modules, configuration, weights, prompts and errors.

The golden masks (``tests/golden/deaot``, README there) were written by deaotpy 1.11.0's own
``Evaluator`` on seeded random DeAOT-L and DeAOT-T weights at one thread; the adapter must
reproduce them pixel for pixel through the harness's own frame reader.

deaotpy comes from the registry (``pip install --no-deps deaotpy``; ``make test`` installs it), so
these tests are required in CI: without the package they skip locally with that reason and fail
under ``MOSEBENCH_REQUIRE=all``. ``MOSEBENCH_DEAOTPY=/folder/holding/aot`` (a ``pip install --target``
folder) is used instead of the installed package when set.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.golden import assert_masks_match  # noqa: E402

from harness import registry
from harness.api import PromptKind
from harness.errors import ConfigError, MissingDependencyError

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "deaot"
VIDEOS = ("gaps", "late", "synth000", "synth001", "synth002")  # as run_adapter.py
DIGESTS = {"deaotl": "85a822781dfe2ffeb7a1c8623ae123198f62214f42c262c46fe57a778a426775",
           "deaott": "00995115f5c63ee4979577ecef2d0aea12be2497268635d5845c08e53f4cd0bb"}  # make_golden


def _package_dir() -> str:
    if os.environ.get("MOSEBENCH_DEAOTPY"):
        return os.environ["MOSEBENCH_DEAOTPY"]
    try:
        return str(importlib.metadata.distribution("deaotpy").locate_file(""))
    except importlib.metadata.PackageNotFoundError:
        return ""


PACKAGE = _package_dir()
SKIP_REASON = ("deaotpy is not installed: pip install --no-deps deaotpy (make test does), or set "
               "MOSEBENCH_DEAOTPY to a folder holding its 'aot' package")
needs_package = pytest.mark.skipif(not PACKAGE, reason=SKIP_REASON)  # a failure under MOSEBENCH_REQUIRE=all
TINY = {"repo": PACKAGE or None, "random_init": True, "seed": 1}


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.array(im)


def _starts(name: str) -> dict[int, int]:
    starts: dict[int, int] = {}
    for png in sorted((GOLDEN / "Annotations" / name).glob("*.png")):
        for oid in np.unique(_png(png)):
            starts.setdefault(int(oid), int(png.stem))
    starts.pop(0, None)
    return starts


def _run_adapter(model: str, tmp: Path) -> dict[str, np.ndarray]:
    """The adapter on the golden inputs in a fresh interpreter with one OpenMP thread, as eval ran."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    out = tmp / f"{model}.npz"
    proc = subprocess.run([sys.executable, "-W", "ignore", str(GOLDEN / "run_adapter.py"), model, PACKAGE,
                           str(tmp / f"ckpt_{model}.pth"), str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[0] == DIGESTS[model], (
        "seeded random init changed (torch or deaotpy version?): regenerate tests/golden/deaot per its README")
    with np.load(out) as npz:
        return dict(npz)


@pytest.mark.parametrize("model", ["deaotl", "deaott"])
@needs_package
def test_masks_equal_the_packages_own_eval_pixel_for_pixel(model, tmp_path):
    got = _run_adapter(model, tmp_path)
    tracked: dict[str, list[np.ndarray]] = {}
    compared = 0
    for name in VIDEOS:
        labels, processed = got[name], got[f"{name}.processed"]
        assert list(got[f"{name}.frames"]) == list(range(len(labels)))
        starts = _starts(name)
        outs = []
        for t, lab in enumerate(labels):
            png = GOLDEN / f"expected_{model}" / name / f"{t:05d}.png"
            assert bool(processed[t]) == png.is_file(), (name, t)  # eval lists no frame before the first mask
            if not png.is_file():
                assert not lab.any()
                continue
            assert_masks_match(lab, _png(png), f"{model} {name} frame {t} vs eval.py", GOLDEN)
            compared += 1
            assert not any((lab == oid).any() for oid, f in starts.items() if t < f), (name, t)
            outs.append(lab)
        tracked[name] = outs[1:]
    assert compared == 47  # 4 x 10 frames + 'late' frames 3-9
    for name, outs in tracked.items():  # the comparison bites
        assert all((o > 0).any() for o in outs), f"{name}: every object lost"
        assert all((o == k).mean() < 1 for o in outs for k in np.unique(o)), f"{name}: a label filled the frame"
        assert sum(int((a != b).sum()) for a, b in zip(outs, outs[1:])) > 100, f"{name}: masks frozen"
    late = got["late"]  # objects 5, 6 first given on frame 6
    assert not np.isin(late[:6], [5, 6]).any() and np.isin(late[6:], [5, 6]).any()
    # long-term memory: written at each reference frame (new objects) and, for DeAOT-L (gap 5),
    # every 5 frames after the last one; DeAOT-T's gap is 9999
    lt = {name: got[f"{name}.lt_step"].tolist() for name in VIDEOS}
    if model == "deaotl":
        assert lt["synth000"] == [0, 0, 0, 0, 0, 5, 5, 5, 5, 5] and lt["synth001"][-1] == 9
    else:
        assert lt["synth000"] == [0] * 10 and lt["synth001"][-1] == 4
    assert lt["late"] == [-1, -1, -1, 0, 0, 0, 3, 3, 3, 3]


def test_capabilities_and_install_are_declared_without_the_package():
    for name in ("deaot", "deaot-t", "deaot-l"):
        cls = registry.get(name)
        assert cls.capabilities.prompts == {PromptKind.MASK, PromptKind.BOX, PromptKind.POINTS, PromptKind.SCRIBBLE}
        assert cls.capabilities.add_objects_mid_video and not cls.capabilities.unprompted
        assert "pip install --no-deps deaotpy" in cls.install and "MODEL_ZOO" in cls.install


def test_methods_command_says_how_to_install(capsys):
    sys.path.insert(0, str(Path(__file__).parent))
    from _runner_common import main

    rc, out = main(capsys, "methods")
    block = out[out.index("\ndeaot "):]
    assert rc == 0 and "pip install --no-deps deaotpy" in block


def test_refused_settings_are_refused_before_any_weights_load(tmp_path):
    with pytest.raises(ConfigError, match="needs its checkpoint.*DeAOT-L.*MODEL_ZOO"):
        registry.create("deaot", {}, "cpu")
    with pytest.raises(ConfigError, match="deaot.model must be one of"):
        registry.create("deaot", {"model": "aott", "random_init": True}, "cpu")
    with pytest.raises(ConfigError, match="long_term_mem_gap must be >= 1"):
        registry.create("deaot", {"random_init": True, "long_term_mem_gap": 0}, "cpu")
    with pytest.raises(ConfigError, match="method deaot-t is the DeAOT-T model"):
        registry.create("deaot-t", {"model": "deaotl", "random_init": True}, "cpu")
    with pytest.raises(MissingDependencyError, match="holds no deaotpy 'aot' package.*pip install --no-deps"):
        registry.create("deaot", {"repo": str(tmp_path), "random_init": True}, "cpu")


@needs_package
def test_package_modules_never_leak_nor_shadow():
    """A foreign top-level ``aot`` stays in place; no deaotpy module is importable by name afterwards."""
    import types

    from adapters import deaot_vos

    decoy = types.ModuleType("aot")
    before = sys.modules.get("aot")
    sys.modules["aot"] = decoy
    deaot_vos._PACKAGES.clear()
    path = list(sys.path)  # installed: its folder (site-packages) is on it already, and stays
    try:
        method = registry.create("deaot-t", TINY, "cpu")
        assert sys.modules["aot"] is decoy
        leaked = [n for n in sys.modules if n.split(".")[0] in ("tools", "tracker") or n.startswith("aot.")]
        assert not leaked and sys.path == path
        assert method.package["aot.networks.engines"].__file__.startswith(str(Path(PACKAGE).resolve()))
        _, first_ok, late_ok = _late_video_run(method)
        assert first_ok and late_ok
    finally:
        if before is None:
            sys.modules.pop("aot", None)
        else:
            sys.modules["aot"] = before


def _late_video_run(method):
    sys.path.insert(0, str(Path(__file__).parent))
    from _methods_video import moving_objects

    from adapters.prompt_masks import box_of_mask
    from harness.api import BoxPrompt, MaskPrompt

    video, gt = moving_objects(frames=6, size=(96, 128), late_start=3)
    with method.open_session(video) as s:
        s.add_prompt(BoxPrompt(0, 1, box_of_mask(gt[0] == 1)))
        s.add_prompt(MaskPrompt(3, 2, gt[3] == 2))
        res = list(s.propagate())
    return res, res[0].masks[1].any(), (not any(r.masks[2].any() for r in res[:3])) and res[3].masks[2].any()


@needs_package
def test_box_prompt_becomes_a_first_mask_and_late_objects_start_late():
    res, first_ok, late_ok = _late_video_run(registry.create("deaot-t", TINY, "cpu"))
    assert all(r.processed for r in res) and first_ok and late_ok


@needs_package
def test_build_downloads_nothing_and_checkpoint_errors(monkeypatch, tmp_path):
    import torch
    import torch.utils.model_zoo

    def refuse(*a, **k):
        raise AssertionError("download attempted")

    monkeypatch.setattr(torch.utils.model_zoo, "load_url", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    method = registry.create("deaot", TINY, "cpu")
    assert method.engine_cfg.MODEL_NAME == "DeAOTL" and method.engine_cfg.TEST_LONG_TERM_MEM_GAP == 5
    with pytest.raises(MissingDependencyError, match="does not exist"):
        registry.create("deaot", {"repo": PACKAGE, "ckpt": str(tmp_path / "nope.pth")}, "cpu")
    partial = tmp_path / "partial.pth"
    torch.save({"state_dict": {"module.decoder.conv_out.bias": torch.zeros(11)}}, partial)
    with pytest.raises(ConfigError, match=r"lacks \d+ weights of DeAOT-L"):
        registry.create("deaot", {"repo": PACKAGE, "ckpt": str(partial)}, "cpu")
    full = tmp_path / "full.pth"  # the package's layouts: {"state_dict"}, DataParallel's "module." prefix
    torch.save({"state_dict": {f"module.{k}": v for k, v in method.network.state_dict().items()}}, full)
    loaded = registry.create("deaot", {"repo": PACKAGE, "ckpt": str(full)}, "cpu")
    assert all(torch.equal(v, loaded.network.state_dict()[k]) for k, v in method.network.state_dict().items())


@needs_package
def test_mask_setting_through_the_runner(tmp_path, synth_data):
    """deaot-t in the mask setting via the real runner: a complete record, FPS over processed frames."""
    import json

    sys.path.insert(0, str(Path(__file__).parent))
    from _runner_common import smoke

    from harness.config import load_experiment
    from harness.data import open_dataset
    from harness.runner.driver import run_experiment
    from harness.runner.rundir import RunDir

    overrides = smoke(tmp_path, synth_data, "method=deaot-t", f"method.repo={PACKAGE}", "method.random_init=true",
                      "method.seed=1", "dataset.max_videos=1")
    out = run_experiment(load_experiment("smoke", overrides[1:]), quiet=True)
    assert not out.failures and not out.incomplete, out.failures
    cell = RunDir(out.run_dir).cell(out.cells[0])
    ds = open_dataset(synth_data)
    name = ds.videos[0]
    video = ds.video(name)
    rec = json.loads(cell.record_path(name).read_text())
    assert rec["status"] == "done" and rec["frames"] == len(video)
    summary = json.loads(cell.summary.read_text())
    assert summary["model_frames"] == len(video) - min(video.objects.values())

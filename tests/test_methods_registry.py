"""Registry: lazy built-ins, entry points, --plugin, did-you-mean, dependency check before construction."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from harness import registry
from harness.api import Capabilities, MaskPrompt, Method, PromptKind
from harness.errors import ConfigError, MissingDependencyError, UnknownMethodError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _methods_video import iou, moving_objects  # noqa: E402


class _Exploding(Method):
    """Needs a module that does not exist; constructing it would be a bug."""

    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK}))
    requires = {"mosebench_no_such_module_xyz": "pip install no-such-package==1.0"}

    def __init__(self, cfg=None, device="cpu"):
        raise AssertionError("constructor must not run when a dependency is missing")

    def open_session(self, video, max_objects=20):
        raise AssertionError


@dataclass(frozen=True)
class _Cfg:
    alpha: float = 1.0
    beta: int = 2


class _WithConfig(Method):
    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK}))
    Config = _Cfg

    def open_session(self, video, max_objects=20):
        raise AssertionError


def test_builtins_listed_and_resolved():
    names = registry.names()
    for n in ("static", "flow", "csrt", "mil", "sam2", "sam2-t", "sam2-s", "sam2-b+", "sam2-l"):
        assert n in names
        cls = registry.get(n)
        assert issubclass(cls, Method) and isinstance(cls.capabilities, Capabilities)
    assert registry.get("sam2-t").Config(random_init=True).size == "t"
    assert registry.get("sam2-l").Config(random_init=True).size == "l"


def test_unknown_method_suggests_close_names():
    reg = registry.Registry(registry.BUILTINS, entry_point_group=None)
    with pytest.raises(UnknownMethodError) as err:
        reg.get("flw")
    msg = str(err.value)
    assert "did you mean 'flow'" in msg and "available: csrt, cutie, cutie-b, cutie-s, dam4sam, dam4sam-b+, dam4sam-l, dam4sam-s, dam4sam-t, flow, mil" in msg
    with pytest.raises(UnknownMethodError, match="did you mean 'sam2-t'"):
        reg.get("sam2t")


def test_missing_dependency_checked_before_construction():
    reg = registry.Registry({}, entry_point_group=None)
    reg.register("boom", _Exploding)
    assert reg.missing_requirements("boom") == {"mosebench_no_such_module_xyz": "pip install no-such-package==1.0"}
    with pytest.raises(MissingDependencyError, match="pip install no-such-package==1.0"):
        reg.create("boom")


def test_broken_builtin_target_is_a_clear_error():
    reg = registry.Registry({"ghost": "mosebench_no_such_pkg.adapter:Ghost", "bad": "adapters.static_baseline:Nope"},
                            entry_point_group=None)
    with pytest.raises(MissingDependencyError, match="ghost"):
        reg.get("ghost")
    with pytest.raises(ConfigError, match="no class 'Nope'"):
        reg.get("bad")
    with pytest.raises(ConfigError, match="not a subclass"):
        reg.register("x", dict) or reg.get("x")


def test_config_validation():
    reg = registry.Registry({}, entry_point_group=None)
    reg.register("cfgd", _WithConfig)
    m = reg.create("cfgd", {"alpha": 0.5})
    assert m.cfg == _Cfg(alpha=0.5, beta=2)
    assert reg.create("cfgd").cfg == _Cfg()
    with pytest.raises(ConfigError, match="did you mean 'alpha'"):
        reg.create("cfgd", {"alpah": 0.5})
    with pytest.raises(ConfigError, match="takes no options"):
        registry.build_config(registry.get("static"), {"x": 1})
    assert registry.build_config(registry.get("static"), {"adapter": "static"}) is None


def test_entry_points_group(monkeypatch):
    ep = importlib.metadata.EntryPoint(name="ep-static", value="adapters.static_baseline:StaticBaseline",
                                       group=registry.ENTRY_POINT_GROUP)
    seen = {}

    def fake_entry_points(**kw):
        seen.update(kw)
        return [ep]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    reg = registry.Registry({})
    assert reg.names() == ["ep-static"]
    assert seen == {"group": "mosebench.adapters"}
    assert reg.get("ep-static").__name__ == "StaticBaseline"


def test_example_adapter_plugin_registers_and_tracks():
    reg = registry.Registry({}, entry_point_group=None)
    assert reg.load_plugin(str(ROOT / "docs" / "example_adapter.py")) == ["shift"]
    method = reg.create("shift", {"margin": 12})
    video, gt = moving_objects(frames=12, late_start=None)
    with method.open_session(video) as s:
        s.add_prompt(MaskPrompt(0, 1, gt[0] == 1))
        res = list(s.propagate())
    assert [r.frame for r in res] == list(range(12))
    j = np.mean([iou(r.masks[1], gt[r.frame] == 1) for r in res])
    j_static = np.mean([iou(gt[0] == 1, g == 1) for g in gt])
    assert j > 0.9 and j > j_static + 0.4


def test_plugin_errors(tmp_path):
    reg = registry.Registry({}, entry_point_group=None)
    bad = tmp_path / "noadapters.py"
    bad.write_text("X = 1\n")
    with pytest.raises(ConfigError, match="MOSEBENCH_ADAPTERS"):
        reg.load_plugin(str(bad))
    with pytest.raises(ConfigError, match="not found"):
        reg.load_plugin("mosebench_no_such_plugin_module")
    with pytest.raises(ConfigError, match="does not exist"):
        reg.load_plugin(str(tmp_path / "missing.py"))


def test_registry_is_light_and_cli_lists_methods():
    code = ("import sys, harness.cli, harness.registry as r; r.names(); [r.get(n) for n in r.names()];"
            "[r.missing_requirements(n) for n in r.names()];"
            "print(sorted(m for m in ('torch', 'cv2', 'sam2', 'mlflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    cli = subprocess.run([sys.executable, "-m", "harness.cli", "methods", "--json", "--plugin",
                          "docs/example_adapter.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    rows = {r["name"]: r for r in json.loads(cli.stdout)}
    assert {"static", "flow", "csrt", "mil", "sam2", "sam2-t", "sam2-s", "sam2-b+", "sam2-l", "shift"} <= set(rows)
    assert rows["csrt"]["output"] == "box" and rows["flow"]["prompts"] == ["box", "mask", "points", "scribble"]
    assert all(r["deps_ok"] for r in rows.values())
    table = subprocess.run([sys.executable, "-m", "harness.cli", "methods"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout
    assert "sam2-l" in table and "unprompted" in table


# --- settings: the same registry mechanism (harness.lazy_registry.LazyRegistry) ----------------------

SETTING_PLUGIN = str(Path(__file__).resolve().parent / "_setting_plugin.py")


def test_settings_registry_builtins_entry_points_and_plugins(monkeypatch, tmp_path, fresh_registries):
    from harness import settings
    from harness.settings.base import Setting

    ep = importlib.metadata.EntryPoint(name="ep-box", value="harness.settings.semi:BoxSetting",
                                       group=settings.ENTRY_POINT_GROUP)
    seen = {}

    def fake_entry_points(**kw):
        seen.update(kw)
        return [ep]

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    reg = settings.SettingRegistry(settings.BUILTINS)
    assert reg.ordered() == (*settings.BUILTINS, "ep-box") and seen == {"group": "mosebench.settings"}
    assert reg.get("ep-box").__name__ == "BoxSetting"
    assert reg.load_plugin(SETTING_PLUGIN) == ["centre-click"]
    assert reg.ordered()[-2:] == ("centre-click", "ep-box") and issubclass(reg.get("centre-click"), Setting)
    with pytest.raises(ConfigError, match="Did you mean 'centre-click'"):
        reg.get("centre-clik")
    bad = tmp_path / "bad_setting.py"
    bad.write_text("MOSEBENCH_SETTINGS = {'oops': dict}\n")
    with pytest.raises(ConfigError, match="not a subclass of harness.settings.base.Setting"):
        reg.load_plugin(str(bad))
    none = tmp_path / "nothing.py"
    none.write_text("X = 1\n")
    with pytest.raises(ConfigError, match="MOSEBENCH_SETTINGS"):
        reg.load_plugin(str(none))
    with pytest.raises(ConfigError, match="neither MOSEBENCH_ADAPTERS nor MOSEBENCH_SETTINGS"):
        registry.load_plugin(str(none))
    assert "centre-click" not in settings.names()  # the isolated registry left the global one alone


def test_third_party_setting_runs_through_the_runner(tmp_path, synth_data, capsys, fresh_registries):
    """A setting from a plugin file is planned, run (in shards that load the plugin again), scored."""
    from _runner_common import main, smoke

    rc, out = main(capsys, "run", *smoke(tmp_path, synth_data, "method=flow", "setting=centre-click",
                                         "dataset.max_videos=1", f"plugins=[{SETTING_PLUGIN}]"))
    assert rc == 0, out
    run_dir = Path(next(line for line in out.splitlines() if line.startswith("run directory:")).split(": ", 1)[1])
    cell = run_dir / "flow--centre-click--synth-tiny"
    summary = json.loads((cell / "summary.json").read_text())
    rec = json.loads(next((cell / "records").glob("*.json")).read_text())
    assert rec["prompts"] and all(p["kind"] == "points" and len(p["points"]) == 1 for p in rec["prompts"])
    # scored from what the setting emitted: the standalone scorer on the cell's PNGs gives its number
    from harness.metrics.score import score

    score(synth_data / "meta.json", synth_data / "Annotations", cell / "predictions", tmp_path / "rescored",
          jobs=1, ci_samples=10, videos=[rec["video"]])
    again = json.loads((tmp_path / "rescored" / "summary.json").read_text())
    assert summary["metrics"]["JF_hat"] == pytest.approx(again["JF_hat"], abs=1e-9)
    from harness.cli import main as cli_main

    capsys.readouterr()
    assert cli_main(["run", *smoke(tmp_path, synth_data, "method=flow", "setting=centre-clik",
                                   f"plugins=[{SETTING_PLUGIN}]")]) == 2
    assert "unknown setting 'centre-clik' (key: setting). Did you mean 'centre-click'?" in capsys.readouterr().err

"""Interface contract: the suite behind `mosebench check-method` (harness.method_check), run on every
registered method whose dependencies are installed (built-ins and entry points), on the documented
example plugin, and against deliberately broken plugins, each of whose bugs must be named.

SAM2 sizes run on seeded random weights at a 64-pixel model input (their masks mean nothing here;
the interface does); only they need torch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest

from harness import registry
from harness.method_check import CHECKS, check_method

sys.path.insert(0, str(Path(__file__).parent))
from _runner_common import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BROKEN = str(Path(__file__).resolve().parent / "_broken_plugins.py")
# sam2* at a 64-pixel input; cutie* with top_k null (a 48x64 frame has fewer memory keys than the
# default top 30); no checkpoint in CI
TEST_OPTIONS = {"random_init": True, "image_size": 64, "top_k": None,
                # the generic out-of-process kind `trax` needs a tracker: the CSRT TraX server
                "command": "harness/trax_csrt_server.py", "python": "self"}
# Same adapter class as sam2-t, only the (random) backbone differs: these are built with their own
# backbone and checked without propagating (a 6-object propagation costs sam2-l ~30 s of CPU);
# sam2-t, rcms-b+ run every check (cutie: cutie-b and cutie-s do).
BACKBONE_ALIASES = {"sam2", "sam2-s", "sam2-b+", "sam2-l", "rcms", "rcms-l", "cutie"}
BACKBONE_ALIASES |= {"dam4sam", "dam4sam-s", "dam4sam-b+", "dam4sam-l"}  # dam4sam-t runs every check
BACKBONE_ALIASES |= {"sam2long", "sam2long-s", "sam2long-b+", "sam2long-l"}  # sam2long-t runs every check
ALIAS_CHECKS = ("prompts refused",)
WEIGHT_FREE = {"static", "flow", "proposals", "csrt", "mil"}
# methods on a user checkout (not a package; CI cannot clone it): checked where the checkout is given
# in the environment, else left out of _installed(); frames resized to 64, not up to 480
CHECKOUTS = {"xmem": ("MOSEBENCH_XMEM_REPO", {"size": 64}), "deva": ("MOSEBENCH_DEVA_REPO", {"size": 64})}
# deaotpy is a registry package installed with --no-deps (make test does): checked where it is installed
# or where MOSEBENCH_DEAOTPY names a folder holding its 'aot' package; deaot is deaot-l's alias
DEAOT = {"deaot", "deaot-t", "deaot-l"}
BACKBONE_ALIASES.add("deaot")


def _deaotpy() -> str | None:
    import importlib.metadata

    if os.environ.get("MOSEBENCH_DEAOTPY"):
        return os.environ["MOSEBENCH_DEAOTPY"]
    try:
        return str(importlib.metadata.distribution("deaotpy").locate_file(""))
    except importlib.metadata.PackageNotFoundError:
        return None


# methods that also need a user's per-video input files (deva-unsup: an image segmenter's label maps per
# frame, method.detections): the contract's generated videos have none; tests/test_methods_deva_unsup.py
# runs it through the runner with detections written for its videos
USER_INPUTS = {"deva-unsup"}
EXTRA_OPTIONS = {"stcn": {"size": -1}}  # frames at their 48x64 (STCN's 480p would upscale them 10x)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny tensors on a shared 2-core machine: thread hand-offs cost more than the maths (5x).
    Only the SAM2 cases use torch; without it the weight-free methods still run."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def with_options(cls: type, options: dict) -> dict:
    """``options`` restricted to fields of ``cls.Config`` (so one test option set fits every method)."""
    schema = getattr(cls, "Config", None)
    if schema is None or not dataclasses.is_dataclass(schema):
        return {}
    names = {f.name for f in dataclasses.fields(schema)}
    return {k: v for k, v in options.items() if k in names}


def _installed() -> list[str]:
    # out-of-process trackers that run from a user's checkout in their own environment (a non-empty
    # `environment`: the OSTrack family, lorat) cannot be built without one; their own tests drive them
    # for real. In-process methods on a user checkout (CHECKOUTS) run where the checkout is given.
    return [n for n in registry.names()
            if not registry.missing_requirements(n) and not getattr(registry.get(n), "environment", "")
            and (n not in CHECKOUTS or os.environ.get(CHECKOUTS[n][0])) and (n not in DEAOT or _deaotpy()) and n not in USER_INPUTS]


def _checkout_options(name: str) -> dict:
    if name in DEAOT:
        return {"repo": _deaotpy(), "seed": 1}
    if name not in CHECKOUTS:
        return {}
    env, extra = CHECKOUTS[name]
    return {"repo": os.environ[env], **extra}


@pytest.mark.parametrize("name", _installed())
def test_method_contract(name, tmp_path):
    options = {**with_options(registry.get(name), TEST_OPTIONS), **_checkout_options(name),
               **EXTRA_OPTIONS.get(name, {})}
    method = registry.create(name, options or None, "cpu")
    only = ALIAS_CHECKS if name in BACKBONE_ALIASES else None
    report = check_method(method, name, tmp_path, only=only)
    assert report.ok, report.text()
    ran = {r.name for r in report.results if r.status == "pass"}
    if only is None:
        assert {"frames", "ids", "masks"} <= ran, report.text()
        assert [r.name for r in report.results] == list(CHECKS)
        assert {"timing", "fresh state"} <= ran, report.text()


def test_example_plugin_passes_the_same_checks(tmp_path):
    reg = registry.Registry({}, entry_point_group=None)
    assert reg.load_plugin(str(ROOT / "docs" / "example_adapter.py")) == ["shift"]
    report = check_method(reg.create("shift"), "shift", tmp_path)
    assert report.ok, report.text()


def test_every_weight_free_builtin_is_covered_without_torch():
    """The weight-free baselines are never hidden behind a torch import (only SAM2 needs it)."""
    assert WEIGHT_FREE <= set(_installed())
    assert not any(registry.get(n).requires.get("torch") for n in WEIGHT_FREE)
    assert {"sam2", "sam2-t", "sam2-s", "sam2-b+", "sam2-l", "cutie", "cutie-b", "cutie-s"} <= set(_installed())


@pytest.mark.parametrize("name,check,needle", [
    ("wrong-ids", "ids", "object 101: id 101 was never prompted"),
    ("short-masks", "masks", "mask has shape (47, 64), the video's frames are (48, 64)"),
    ("half-res", "masks", "mask has shape (24, 32), the video's frames are (48, 64)"),
    ("byte-masks", "masks", "mask has dtype uint8, must be bool"),
    ("missing-frame", "frames", "frame 2: yielded frame 3 where frame 2 was due"),
    ("early", "later objects", "object 6 is predicted before its first prompt on frame 3"),
    ("greedy", "prompts refused", "a box prompt was accepted"),
    # a leak also shows the first video's object before its prompt on the second (and, where
    # FrameResult has `processed`, frames before that prompt as processed)
    ("leaky", "fresh state+later objects+timing?", "state of the previous video leaked"),
    ("no-timing", "timing", "model_time_s is 0 on every frame"),
])
def test_check_method_names_each_bug_of_a_broken_plugin(capsys, fresh_registries, name, check, needle):
    rc, out = main(capsys, "check-method", name, "--plugin", BROKEN, "--json")
    doc = json.loads(out)
    failed = {c["name"]: c["detail"] for c in doc["checks"] if c["status"] == "fail"}
    assert rc == 1 and not doc["ok"]
    checks = check.split("+")
    must = {c for c in checks if not c.endswith("?")}
    may = {c.rstrip("?") for c in checks}
    assert must <= set(failed) <= may, failed  # exactly the planted bug and its consequences
    assert needle in failed[checks[0]], failed[checks[0]]


def test_check_method_cli_report_and_exit_codes(capsys, fresh_registries):
    rc, out = main(capsys, "check-method", "static")
    assert rc == 0, out
    assert "PASS  frames" in out and "SKIP  unprompted" in out and "all checks passed" in out
    rc, out = main(capsys, "check-method", "half-res", "--plugin", BROKEN)
    assert rc == 1 and "FAIL  masks" in out and "1 check(s) failed: masks" in out
    # bad input is exit status 2 with a message, not a report
    assert main(capsys, "check-method", "statc")[0] == 2
    assert main(capsys, "check-method", "static", "-o", "nope=1")[0] == 2
    assert main(capsys, "check-method", "static", "-o", "nope")[0] == 2
    assert main(capsys, "check-method", "static", "--check", "speed")[0] == 2


def test_checks_skipped_after_a_missing_frame_name_the_video(capsys, fresh_registries):
    """The skip lines point at the failing video by its name (the FAIL line names it), not as 'video A'."""
    rc, out = main(capsys, "check-method", "missing-frame", "--plugin", BROKEN, "--json")
    doc = json.loads(out)
    failed = next(c["detail"] for c in doc["checks"] if c["name"] == "frames")
    video = failed.split(":", 1)[0].removeprefix("video ")
    skips = [c["detail"] for c in doc["checks"] if c["status"] == "skip" and "no result per frame" in c["detail"]]
    assert rc == 1 and skips and all(f"video {video} gave no result" in s for s in skips), (failed, skips)

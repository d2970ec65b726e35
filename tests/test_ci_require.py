"""The no-silent-skips switch itself (tests/_require.py): a real pytest run on a tiny test folder whose
tests skip in every way pytest offers. Under MOSEBENCH_REQUIRE=all each skip is a failure naming its
reason (exit status 1), except the one marked allow_skip; without the switch they stay skips."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

SKIPPING = '''
import pytest

@pytest.fixture
def needs_tool():
    pytest.skip("tool-x is not installed")

def test_runs():
    assert 1 + 1 == 2

def test_skip_call():
    pytest.skip("chromium is not installed")

def test_importorskip_in_test():
    pytest.importorskip("no_such_module_mosebench")

def test_fixture_skip(needs_tool):
    pass

@pytest.mark.skipif(True, reason="condition cannot be created")
def test_skipif_mark():
    pass

@pytest.mark.allow_skip(reason="documented exception")
def test_allowed():
    pytest.skip("allowed to skip")

@pytest.mark.xfail(reason="known", strict=True)
def test_xfail():
    assert False
'''

MODULE_SKIP = '''
import pytest
pytest.importorskip("no_such_module_mosebench_either")

def test_never_collected():
    pass
'''


def _run(folder: Path, require: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MOSEBENCH_REQUIRE"}
    if require is not None:
        env["MOSEBENCH_REQUIRE"] = require
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "_require", "-p", "no:cacheprovider", "-rA",
                           "-q", "-c", os.devnull, "--rootdir", str(folder), str(folder)],
                          capture_output=True, text=True, cwd=folder, env=env, timeout=120)


def _outcomes(out: str) -> dict[str, str]:
    # "-rA" summary lines: "PASSED test_a.py::test_runs", "SKIPPED [1] test_a.py:12: reason", ...
    found = {}
    for line in out.splitlines():
        m = re.match(r"(PASSED|FAILED|ERROR|SKIPPED|XFAIL) (?:\[\d+\] )?(\S+?)(?:::(\w+))?[: ]", line + " ")
        if m:
            found[m.group(3) or m.group(2)] = m.group(1)
    return found


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "test_a.py").write_text(SKIPPING)
    (tmp_path / "test_b.py").write_text(MODULE_SKIP)
    return tmp_path


def test_every_kind_of_skip_fails_under_require_all(tmp_path: Path) -> None:
    proc = _run(_folder(tmp_path), "all")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    got = _outcomes(proc.stdout)
    assert got["test_runs"] == "PASSED", out
    assert got["test_skip_call"] == "FAILED", out
    assert got["test_importorskip_in_test"] == "FAILED", out
    assert got["test_fixture_skip"] == "ERROR", out  # a skip in setup becomes a setup error
    assert got["test_skipif_mark"] == "ERROR", out
    # a module-level importorskip does not interrupt the session: listed at the end, exit status 1
    assert "FAILED (module skipped) test_b.py" in out, out
    assert got["test_xfail"] == "XFAIL", out  # an expected failure is no skip
    assert "SKIPPED" in out and "allowed to skip" in out  # the marked exception still skips
    for reason in ("chromium is not installed", "tool-x is not installed", "condition cannot be created"):
        assert re.search(rf"skipped, but MOSEBENCH_REQUIRE=all requires .*{reason}", out), (reason, out)


def test_skips_stay_skips_without_the_switch(tmp_path: Path) -> None:
    proc = _run(_folder(tmp_path), None)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "FAILED" not in out and "ERROR" not in out, out
    assert len(re.findall(r"^SKIPPED", proc.stdout, re.M)) == 6, out


def test_allow_skip_needs_a_reason(tmp_path: Path) -> None:
    (tmp_path / "test_c.py").write_text(
        "import pytest\n\n@pytest.mark.allow_skip\ndef test_x():\n    pytest.skip('why not')\n")
    proc = _run(tmp_path, "all")
    assert proc.returncode == 1 and "why not" in proc.stdout, proc.stdout + proc.stderr


def test_make_test_and_ci_run_the_suite_under_the_switch() -> None:
    # CI is .ci/run -> make test; the recipe must set the switch on the pytest it runs
    repo = TESTS.parent
    assert "make test" in (repo / ".ci" / "run").read_text()
    make = (repo / "Makefile").read_text()
    recipe = make[make.index("\ntest:"):].split("\n\n")[0]
    pytest_lines = [ln for ln in recipe.splitlines() if "-m pytest" in ln]
    assert pytest_lines and all("MOSEBENCH_REQUIRE=all " in ln for ln in pytest_lines), recipe

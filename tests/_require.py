"""No silent skips where every test must run: a pytest plugin (loaded by tests/conftest.py).

Under ``MOSEBENCH_REQUIRE=all`` (set by ``make test``, hence by CI) a test that skips (``pytest.skip``,
``importorskip`` in a test, a fixture or at module level, a ``skip``/``skipif`` mark) is reported as a
failure that names the skip reason, so a missing package, a missing browser, a missing SLURM or a
condition the test cannot create (root ignoring permission bits) fails CI instead of hiding tests. The
only skips allowed are those of a test marked ``@pytest.mark.allow_skip(reason="why CI may skip it")``.
Without the variable, skips stay skips (a laptop without SLURM or chromium runs the rest).
"""

from __future__ import annotations

import os

import pytest

ENV = "MOSEBENCH_REQUIRE"


def required() -> bool:
    """True when every test must run (``MOSEBENCH_REQUIRE=all``)."""
    return os.environ.get(ENV, "").strip().lower() == "all"


def _reason(longrepr: object) -> str:
    # a skip's longrepr is (file, line, "Skipped: reason")
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return f"{longrepr[2]} ({longrepr[0]}:{longrepr[1]})"
    return str(longrepr)


def _fail(report: pytest.CollectReport | pytest.TestReport, what: str) -> None:
    report.outcome = "failed"
    report.longrepr = (f"{what} was skipped, but {ENV}=all requires every test to run (make test, CI): "
                       f"{_reason(report.longrepr)}\nInstall what it needs (make test installs everything) "
                       "or mark the test @pytest.mark.allow_skip(reason=...) with the reason CI may skip it.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"allow_skip(reason): this test may skip even under {ENV}=all (give the reason)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and required()) or hasattr(report, "wasxfail"):
        return
    mark = item.get_closest_marker("allow_skip")
    if mark is not None and (mark.kwargs.get("reason") or mark.args):
        return
    _fail(report, f"test {item.nodeid}")


# Module-level skips (pytest.importorskip / pytest.skip(allow_module_level=True) at import) stay skips
# while collecting, so that one missing package does not interrupt the whole session; they are listed
# at the end and make the exit status 1.
_SKIPPED_MODULES = pytest.StashKey[list]()


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and required():
        collector.config.stash.setdefault(_SKIPPED_MODULES, []).append(
            f"{report.nodeid}: {_reason(report.longrepr)}")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = config.stash.get(_SKIPPED_MODULES, [])
    if skipped:
        terminalreporter.section(f"modules skipped under {ENV}=all (a failure)", red=True)
        for line in skipped:
            terminalreporter.line(f"FAILED (module skipped) {line}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.stash.get(_SKIPPED_MODULES, []) and exitstatus in (0, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

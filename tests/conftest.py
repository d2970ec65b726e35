"""Shared pytest fixtures (each area adds its own section; never rewrite others')."""

from __future__ import annotations

from pathlib import Path

import pytest
from _require import (  # noqa: F401  (hooks: see tests/_require.py)
    pytest_configure,
    pytest_make_collect_report,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

# --- CI (owner: CI) --------------------------------------------------------------------------
# The hooks imported above turn every skip into a failure under MOSEBENCH_REQUIRE=all (make test, CI),
# except for tests marked @pytest.mark.allow_skip(reason=...): see tests/_require.py.

# --- data (owner: data engineer) -------------------------------------------------------------


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic MOSE-layout dataset (3 videos x 12 frames, 96x128, every frame annotated).

    Session-scoped and shared: treat it as read-only.
    """
    from harness.data.synth import generate

    return generate(tmp_path_factory.mktemp("synth") / "data", videos=3, frames=12, size=(96, 128), seed=0,
                    annotate_every=1)


@pytest.fixture
def make_synth(tmp_path_factory: pytest.TempPathFactory):
    """Factory: ``make_synth(**generate_kwargs) -> Path`` writes a fresh synthetic set in a new temp dir.

    Defaults: ``videos=2, frames=10, size=(64, 80), seed=0``.
    """
    from harness.data.synth import generate

    def make(**kwargs) -> Path:
        opts = {"videos": 2, "frames": 10, "size": (64, 80), "seed": 0, **kwargs}
        return generate(tmp_path_factory.mktemp("synth") / "data", **opts)

    return make


# --- methods and settings registries (owner: contract) ----------------------------------------


@pytest.fixture
def fresh_registries(monkeypatch: pytest.MonkeyPatch):
    """Process-wide method and setting registries holding only the built-ins for one test, so
    plugins loaded in-process (``--plugin``, ``plugins=[...]``) do not leak into other tests."""
    from harness import registry, settings

    monkeypatch.setattr(registry, "default", registry.Registry(registry.BUILTINS))
    monkeypatch.setattr(settings, "registry", settings.SettingRegistry(settings.BUILTINS))


# --- slurm (owner: SLURM engineer) -----------------------------------------------------------


@pytest.fixture(scope="session")
def slurm_cluster():
    """The project's single-node SLURM cluster (slurm/start.sh), with SLURM_CONF exported to this process.

    Started on first use and stopped by pid at the end of the session (also when tests fail) unless it
    was already running. Skips when SLURM is not installed, fails instead under MOSEBENCH_REQUIRE=all
    (`make test`). Yields a tests._slurm.Cluster (conf, state, started_here, start_s).
    """
    from _require import required
    from _slurm import session

    yield from session(require=required())

"""Helpers shared by the runner / config / MLflow tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN = str(Path(__file__).resolve().parent / "_runner_plugins.py")


def smoke(tmp: Path, data: Path, *extra: str) -> list[str]:
    """Overrides for the tiny `smoke` experiment writing under ``tmp`` and reading ``data``."""
    return ["experiment=smoke", f"results={tmp / 'results'}", f"dataset.root={data}", *extra]


def cli(*args: str, cwd: Path | None = None, timeout: float = 120, check: bool = True,
        env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `mosebench ARGS` in a fresh interpreter (as a user would)."""
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd or REPO, text=True,
                          capture_output=True, timeout=timeout, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"mosebench {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def run_dir_from(stdout: str) -> Path:
    for line in stdout.splitlines():
        if line.startswith("run directory:"):
            return Path(line.split(":", 1)[1].strip())
    raise AssertionError(f"no run directory in output:\n{stdout}")


def main(capsys, *args: str) -> tuple[int, str]:
    """Run `mosebench ARGS` in this process (cheap: no interpreter start, imports shared)."""
    from harness.cli import main as _main

    capsys.readouterr()
    rc = _main(list(args))
    return rc, capsys.readouterr().out

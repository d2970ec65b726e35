"""Importing the harness and building the CLI stays light: no torch, sam2, cv2 or mlflow."""

from __future__ import annotations

import subprocess
import sys
import time

HEAVY = ("torch", "sam2", "cv2", "mlflow", "submitit", "pandas", "omegaconf")


def test_import_harness_and_cli_is_light():
    code = (
        "import sys, harness, harness.cli, harness.api, harness.registry, harness.settings;"
        "harness.cli.build_parser();"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported at CLI start-up: {out.stdout.strip()}"


def test_help_answers_quickly():
    exe = [sys.executable, "-m", "harness.cli", "--help"]
    subprocess.run(exe, capture_output=True, check=True)  # warm the bytecode cache
    t0 = time.perf_counter()
    out = subprocess.run(exe, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t0
    assert "synth" in out.stdout and "run" in out.stdout
    # Generous bound for a shared 2-core machine; typical is ~0.15 s.
    assert elapsed < 1.0, f"mosebench --help took {elapsed:.2f} s"


def test_unknown_command_exits_nonzero():
    out = subprocess.run([sys.executable, "-m", "harness.cli", "frobnicate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid choice" in out.stderr

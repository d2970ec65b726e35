"""A separate virtual environment for the TraX tests' tracker servers (created once per test module)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def packages() -> tuple[str, ...]:
    """The tracker env's packages; OpenCV pinned to this environment's version, so the boxes of the
    out-of-process CSRT can be compared with the in-process ``csrt``'s exactly."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        opencv = f"opencv-contrib-python-headless=={version('opencv-contrib-python-headless')}"
    except PackageNotFoundError:
        opencv = "opencv-contrib-python-headless"
    return ("vot-trax==4.0.2", opencv, "numpy")


def make_tracker_env(root: Path) -> tuple[Path, str]:
    """Create a venv under ``root`` with the tracker's packages; returns ``(python, how)``.

    A plain venv with its own ``pip install`` (about 20 s with a warm pip cache) is the real
    thing: the tracker imports nothing from the harness's environment. Where the registry cannot
    be reached (an offline machine), the venv falls back to ``--system-site-packages``: still a
    separate interpreter process with its own ``sys.prefix``, but it reuses this environment's
    packages; ``how`` says which one was made.
    """
    env = root / "tracker-venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, capture_output=True, timeout=300)
    python = env / "bin" / "python"
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", *packages()], capture_output=True, text=True,
                         timeout=900)
    if pip.returncode == 0:
        return python, "plain venv"
    fallback = root / "tracker-venv-system"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(fallback)], check=True,
                   capture_output=True, timeout=300)
    return fallback / "bin" / "python", f"system-site-packages venv (pip failed: {pip.stderr.strip()[-300:]})"

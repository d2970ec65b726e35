"""Run `mosebench` as a user would (a subprocess) for the bad-input regression tests."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str


def mosebench(*argv: str, cwd: Path, umask: int | None = None, timeout: float = 300) -> Result:
    """``mosebench ARGV`` in ``cwd``; ``umask``: the child's umask (default: inherited)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    p = subprocess.run([sys.executable, "-m", "harness.cli", *argv], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=timeout, preexec_fn=preexec)
    return Result(p.returncode, p.stdout, p.stderr)


def refused(res: Result, *fragments: str) -> str:
    """Assert a clean refusal: exit status 2, no traceback, every fragment in the message."""
    assert res.rc == 2, f"rc={res.rc}\nstdout:\n{res.out}\nstderr:\n{res.err}"
    assert "Traceback" not in res.err, res.err
    for f in fragments:
        assert f in res.err, f"{f!r} not in:\n{res.err}"
    return res.err

"""The project's single-node SLURM cluster for the tests (slurm/start.sh, slurm/stop.sh).

A session that finds no cluster starts one, marks it as started by the tests and stops it (by the pids
in its pid files) when the last session using it ends, also when tests fail. A cluster started by hand
(`make slurm-up`) is used and left running. Each session holds a lease file (its pid) in the cluster's
state folder, so two pytest sessions of one checkout share one cluster without stopping it under
each other. Every cluster runs its own munged (own key and socket in its state folder), so a test
cluster and any other cluster on the machine share no daemon (tests/test_slurm_cluster.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SLURM_DIR = REPO / "slurm"
PACKAGES_HINT = "install the cluster's Debian packages with `make system-deps` (or slurm/install.sh)"


@dataclass(frozen=True)
class Cluster:
    """A running cluster: ``conf`` is its slurm.conf (export it as SLURM_CONF), ``state`` its folder."""

    conf: Path
    state: Path
    started_here: bool
    start_s: float  # seconds slurm/start.sh took in this session


def missing_reason() -> str | None:
    """Why no cluster can run on this machine, or None."""
    for tool in ("slurmctld", "slurmd", "slurmdbd", "sbatch", "sacct", "munged", "mungekey", "mariadbd"):
        if not (shutil.which(tool) or Path("/usr/sbin", tool).exists()):
            return f"'{tool}' is not installed: {PACKAGES_HINT}"
    if os.geteuid() != 0:
        return "the test cluster runs as root (SlurmUser=root); run the SLURM tests as root"
    return None


def need_tools(require: bool) -> None:
    """Skip the calling test without SLURM (or root), or fail when ``require`` (MOSEBENCH_REQUIRE=all)."""
    import pytest

    reason = missing_reason()
    if reason:
        if require:
            pytest.fail(f"SLURM tests required (MOSEBENCH_REQUIRE=all) but {reason}")
        pytest.skip(reason)


def _conf_path() -> Path:
    out = subprocess.run([str(SLURM_DIR / "env.sh")], capture_output=True, text=True, check=True).stdout
    return Path(out.strip().split("=", 1)[1])


def _running() -> bool:
    # slurm/status.sh reads the pid files first: fast when the cluster is down (sinfo alone retries
    # the controller for ~18 s)
    try:
        out = subprocess.run([str(SLURM_DIR / "status.sh")], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


def start() -> Cluster:
    """Take a lease on the cluster, then start it unless it runs. Raises RuntimeError with the log tails."""
    conf = _conf_path()
    state = conf.parent.parent
    # the lease first: a session ending meanwhile (stop.sh, serialised with start.sh) sees it
    (state / "leases").mkdir(parents=True, exist_ok=True)
    (state / "leases" / str(os.getpid())).write_text("pytest\n")
    was_running = _running()
    t0 = time.monotonic()
    proc = subprocess.run([str(SLURM_DIR / "start.sh")], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MOSEBENCH_SLURM_OWNER": "tests"})
    took = time.monotonic() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"slurm/start.sh failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return Cluster(conf, state, not was_running, took)


def release(cluster: Cluster) -> None:
    """Drop this session's lease; stop the cluster when a test session started it and no other live
    session holds a lease (slurm/stop.sh --if-tests-own-it decides, under start.sh's lock)."""
    (cluster.state / "leases" / str(os.getpid())).unlink(missing_ok=True)
    subprocess.run([str(SLURM_DIR / "stop.sh"), "--if-tests-own-it"], capture_output=True, text=True,
                   timeout=300)


def session(require: bool) -> Iterator[Cluster]:
    """Generator body of the session fixture: skip (or fail when ``require``) without SLURM."""
    need_tools(require)
    cluster = start()
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
        release(cluster)


def sacct(*args: str) -> list[dict[str, str]]:
    """``sacct -P`` rows as dicts (``-o`` fields named in ``args`` as ``-o=A,B``)."""
    out = subprocess.run(["sacct", "-P", *args], capture_output=True, text=True, check=True).stdout
    lines = [ln for ln in out.splitlines() if ln.strip()]
    if not lines:
        return []
    head = lines[0].split("|")
    return [dict(zip(head, ln.split("|"))) for ln in lines[1:]]

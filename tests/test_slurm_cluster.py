"""The project's single-node cluster itself (slurm/*.sh): idempotent start, the node and accounting
the other SLURM tests rely on, and the stop safety net that must not stop a cluster in use."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from _slurm import SLURM_DIR

pytestmark = pytest.mark.slurm

PIDFILES = ("slurmctld.pid", "slurmd.pid", "slurmdbd.pid", "mysql/mariadbd.pid")


def _pids(state) -> dict[str, str]:
    return {p: (state / "run" / p).read_text().strip() for p in PIDFILES}


def test_start_again_keeps_the_running_daemons(slurm_cluster) -> None:
    before = _pids(slurm_cluster.state)
    t0 = time.monotonic()
    out = subprocess.run([str(SLURM_DIR / "start.sh")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - t0 < 15
    assert out.stdout.strip() == f"export SLURM_CONF={slurm_cluster.conf}"
    assert _pids(slurm_cluster.state) == before
    for pid in before.values():
        assert os.path.exists(f"/proc/{pid}")
    st = subprocess.run([str(SLURM_DIR / "status.sh")], capture_output=True, text=True, timeout=60)
    assert st.returncode == 0, st.stdout + st.stderr


def test_node_partitions_gpus_and_accounting(slurm_cluster) -> None:
    def run(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=30).stdout

    rows = sorted(run("sinfo", "-h", "-o", "%P %G %f").split("\n"))
    assert [r for r in rows if r] == ["gpu gpu:16 fakegpu", "main* gpu:16 fakegpu"], rows
    assert run("sacctmgr", "-n", "-P", "show", "cluster", "format=cluster").split() == ["mosebench"]
    assert "mosebench|root" in run("sacctmgr", "-n", "-P", "show", "assoc", "format=account,user").split()


def test_stop_safety_net_leaves_a_cluster_in_use_running(slurm_cluster) -> None:
    # This session holds a lease: `make test`'s safety net must not stop the cluster under it, even
    # when the tests started it (marker file `owner`, set here for a cluster started by hand).
    owner = slurm_cluster.state / "owner"
    had_owner = owner.exists()
    owner.write_text("tests\n")
    try:
        out = subprocess.run([str(SLURM_DIR / "stop.sh"), "--if-tests-own-it"], capture_output=True,
                             text=True, timeout=60)
    finally:
        if not had_owner:
            owner.unlink(missing_ok=True)
    assert out.returncode == 0 and "still used by test session" in out.stderr, out.stderr
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True).stdout.split()
    assert state and state[0] in ("idle", "mixed", "allocated")

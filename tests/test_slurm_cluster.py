"""The project's single-node cluster itself (slurm/*.sh): idempotent start, the node and accounting
the other SLURM tests rely on, and the stop safety net that must not stop a cluster in use."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from _slurm import SLURM_DIR

pytestmark = pytest.mark.slurm

PIDFILES = ("slurmctld.pid", "slurmd.pid", "slurmdbd.pid", "mysql/mariadbd.pid", "munge/munged.pid")


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


def _script(name: str, state, *args: str, port_base: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SLURM_CONF", "MOSEBENCH_SLURM_OWNER")}
    env["MOSEBENCH_SLURM_DIR"] = str(state)
    if port_base is not None:
        env["MOSEBENCH_SLURM_PORT_BASE"] = str(port_base)
    return subprocess.run([str(SLURM_DIR / name), *args], capture_output=True, text=True, env=env, timeout=300)


def test_stopping_one_cluster_leaves_another_on_the_machine_working() -> None:
    """Issue 10: `slurm/stop.sh` of one state folder stopped the munged that a second cluster (another
    checkout's tests) had attached to, and that cluster lost authentication. Each cluster now runs its
    own munged (own key and socket), so stopping one never touches another."""
    import random
    import tempfile
    from pathlib import Path

    from _require import required
    from _slurm import need_tools

    need_tools(required())
    # short folders under /tmp: the munge and mysql users must traverse them, sockets need short paths
    first, second = (Path(tempfile.mkdtemp(prefix="mbs-", dir="/tmp")) for _ in range(2))
    base = random.randrange(21000, 39000, 10)  # clear of the default cluster's 7817-7819/3307
    try:
        for state, ports in ((first, base), (second, base + 5)):
            out = _script("start.sh", state, port_base=ports)
            assert out.returncode == 0, out.stderr
        pidfile = {s: s / "run" / "munge" / "munged.pid" for s in (first, second)}
        munged = {s: f.read_text().strip() if f.exists() else None for s, f in pidfile.items()}
        first_pids = {p: (first / "run" / p).read_text().strip() for p in PIDFILES}
        # a pid file naming a munged that serves another socket (a state folder of an older start.sh
        # that used the system's munged) is not this cluster's: stop.sh must leave that process alone
        stranger = first / "stranger"
        (stranger / "run" / "munge").mkdir(parents=True)
        (stranger / "run" / "munge" / "munged.pid").write_text(f"{munged[second]}\n")
        probe = subprocess.run(["bash", "-c", f"source {SLURM_DIR / 'lib.sh'}; daemon_pid munged"],
                               capture_output=True, text=True, timeout=30,
                               env={**os.environ, "MOSEBENCH_SLURM_DIR": str(stranger)})
        assert probe.returncode == 0 and probe.stdout.strip() == "", probe
        out = _script("stop.sh", first)
        assert out.returncode == 0, out.stderr
        assert not any(Path(f"/proc/{p}").exists() for p in first_pids.values())

        env = {**os.environ, "SLURM_CONF": str(second / "etc" / "slurm.conf")}

        def run(*cmd: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=90)

        sinfo = run("sinfo", "-h", "-o", "%T")
        assert sinfo.returncode == 0 and sinfo.stdout.split()[:1] in (["idle"], ["mixed"]), sinfo.stderr
        srun = run("srun", "-n1", "-t", "1", "echo", "still-authenticated")
        assert srun.returncode == 0 and srun.stdout.strip() == "still-authenticated", srun.stderr
        acct = run("sacctmgr", "-n", "-P", "show", "cluster", "format=cluster")  # munge to slurmdbd too
        assert acct.returncode == 0 and acct.stdout.split() == ["mosebench"], acct.stderr
        # each cluster had its own munged, on a socket in its own state folder; the first one's is gone
        assert None not in munged.values() and munged[first] != munged[second], munged
        assert not Path(f"/proc/{munged[first]}").exists()
        cmd = Path(f"/proc/{munged[second]}/cmdline").read_bytes().split(b"\0")
        assert f"--socket={second}/run/munge/munge.socket.2".encode() in cmd
    finally:
        for state in (first, second):
            _script("stop.sh", state, "--purge")

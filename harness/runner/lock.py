"""One driver per run directory: an exclusive lock file with an owner record and a heartbeat.

``<run>/driver.lock`` is created with ``O_CREAT | O_EXCL`` (atomic on local filesystems and on
NFSv3+/Lustre/GPFS, unlike ``flock``, which some cluster mounts ignore) and holds the owner's pid,
host, start time and command. While the driver lives, a daemon thread bumps the file's mtime every
``HEARTBEAT_S`` seconds.

A second driver refuses (:class:`RunLocked`, exit 2) naming the owner, unless the lock is stale:

* same host: the owner pid is gone (or is another program now);
* another host (a shared filesystem): no heartbeat for ``STALE_AFTER_S`` seconds (the pid cannot
  be checked from here). A driver frozen for that long (suspended laptop) loses its lock.

A stale lock is taken over through a second exclusive file, ``driver.lock.takeover``: only the
process that creates it may remove the stale lock (after re-reading that the owner is unchanged),
so two drivers finding the same stale lock never both win. A takeover file older than
``TAKEOVER_STALE_S`` (its creator died mid-takeover) is removed.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

from harness.errors import MosebenchError

HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0
TAKEOVER_STALE_S = 30.0
LOCK_NAME = "driver.lock"


class RunLocked(MosebenchError):
    """Another live driver works on this run directory."""


def _pid_alive(pid: int, started: float) -> bool:
    """Is ``pid`` (on this host) still the process that wrote the lock at ``started``?"""
    import psutil

    try:
        proc = psutil.Process(pid)
        # a reused pid belongs to a process created after the lock was written
        return proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= started + 1.0
    except (psutil.NoSuchProcess, ValueError):
        return False
    except psutil.AccessDenied:
        return True


def read_owner(path: Path) -> dict | None:
    """The lock's owner record (None if no lock); a half-written record reads as ``{}``."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {}


def stale_reason(path: Path, owner: dict) -> str | None:
    """Why the lock at ``path`` is stale, or None while its owner may be alive."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return "gone"
    if not owner:  # created, not yet written: its creator is between two syscalls unless long dead
        return f"empty for {age:.0f} s" if age > TAKEOVER_STALE_S else None
    if owner.get("host") == socket.gethostname():
        if not _pid_alive(int(owner.get("pid", -1)), float(owner.get("started", 0))):
            return f"its owner pid {owner.get('pid')} on this host is gone"
        return None
    if age > STALE_AFTER_S:
        return f"no heartbeat from host {owner.get('host')} for {age:.0f} s"
    return None


def describe(owner: dict, path: Path) -> str:
    try:
        beat = f"{time.time() - path.stat().st_mtime:.0f} s ago"
    except FileNotFoundError:
        beat = "never"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(owner.get("started", 0))))
    return (f"pid {owner.get('pid')} on host {owner.get('host')}, started {started}, last heartbeat {beat}"
            f" ({' '.join(owner.get('argv', []))[:200]})")


class RunLock:
    """``with RunLock(run_root):`` hold the run's driver lock (creates ``run_root``)."""

    def __init__(self, root: str | os.PathLike, *, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_NAME
        self.heartbeat_s = heartbeat_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._record = ""

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        self._record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                                   "argv": sys.argv})
        try:
            os.write(fd, self._record.encode())
            os.fsync(fd)
        except BaseException:  # e.g. a full disk: leave no empty lock behind for the next driver
            os.close(fd)
            self.path.unlink(missing_ok=True)
            raise
        os.close(fd)
        return True

    def _take_over(self, owner: dict) -> None:
        """Remove a stale lock if this process wins the takeover file; otherwise leave it."""
        takeover = self.path.with_name(LOCK_NAME + ".takeover")
        try:
            if time.time() - takeover.stat().st_mtime > TAKEOVER_STALE_S:
                takeover.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        try:
            fd = os.open(takeover, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return  # another process is taking over; the next attempt sees its lock
        os.close(fd)
        try:
            if read_owner(self.path) == owner:  # still the stale owner, not a fresh lock
                self.path.unlink(missing_ok=True)
        finally:
            takeover.unlink(missing_ok=True)

    def acquire(self) -> RunLock:
        self.root.mkdir(parents=True, exist_ok=True)
        for _ in range(50):
            if self._create():
                self._thread = threading.Thread(target=self._beat, name="mosebench-lock-heartbeat", daemon=True)
                self._thread.start()
                return self
            owner = read_owner(self.path)
            if owner is None:
                continue  # released meanwhile
            why = stale_reason(self.path, owner)
            if why is None and not owner:  # its creator is writing the record: look again
                time.sleep(0.05)
                continue
            if why is None:
                raise RunLocked(
                    f"{self.root} is being driven by another mosebench ({describe(owner, self.path)}); only one "
                    f"driver may work on a run directory. Wait for it (progress: mosebench status {self.root}), "
                    f"or stop it first. If that process is gone on another host, its lock counts as stale "
                    f"{STALE_AFTER_S:.0f} s after its last heartbeat.")
            print(f"taking over the stale lock of {self.root} ({why})", file=sys.stderr, flush=True)
            self._take_over(owner)
            time.sleep(0.05)
        raise RunLocked(f"could not take the lock {self.path}; another process keeps replacing it")

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:  # only our own lock (a takeover may have replaced it after a long freeze)
            if self.path.read_text() == self._record:
                self.path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

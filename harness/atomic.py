"""Atomic file writes: the one mechanism behind every file mosebench writes (masks, records, scores).

A temp file in the same folder, then ``os.replace``: readers and resumed jobs see the old file or the
new one, never half of one. A failed write removes its temp file.

Files get the mode a plain ``open(path, "w")`` would give (``0o666`` less the process umask), not
``mkstemp``'s private ``0o600``: predictions, scores and configs are meant to be read by teammates,
an evaluation account or an MLflow server.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ``/proc``); else
    set-and-restore under a lock (other threads may create files in that instant)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` atomically. ``fsync``: flush to disk first (for the per-video
    records that mark work as done; mask PNGs skip it, as it would dominate the writer thread)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes it 0600 whatever the umask
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str, *, fsync: bool = True) -> None:
    """:func:`atomic_write_bytes` of UTF-8 ``text`` (fsync'ed by default: records, configs)."""
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)

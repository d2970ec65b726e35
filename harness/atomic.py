"""Atomic file writes: the one mechanism behind every file mosebench writes (masks, records, scores).

A temp file in the same folder, then ``os.replace``: readers and resumed jobs see the old file or the
new one, never half of one. A failed write removes its temp file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` atomically. ``fsync``: flush to disk first (for the per-video
    records that mark work as done; mask PNGs skip it, as it would dominate the writer thread)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
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

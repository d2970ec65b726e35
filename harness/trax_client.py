"""The harness side of TraX: one tracker process and its TraX session (socket mode).

:class:`TraxTracker` starts the tracker command in its own process group with ``TRAX_SOCKET``
set, waits for the handshake within ``startup_timeout_s``, then answers ``initialize``/``frame``
calls, each within ``frame_timeout_s``. libtrax's calls block in C and have no per-call timeout,
so a watchdog thread kills the process group when a deadline passes; the blocked call then
returns with an error, which is raised as :class:`TrackerFault` saying it timed out. Every fault
(crash, hang, a reply that is not one finite rectangle or a mask that fits the frame) is a :class:`TrackerFault` carrying the tail of
the tracker's stderr. The process never outlives :meth:`TraxTracker.close` (also run on garbage
collection): its whole process group is killed.

The tracker process is a direct child of this process, so the runner's
:class:`harness.runner.memory.PeakRSS` (which samples the process tree) counts its RSS.

Pitfalls of ``vot-trax`` 4.0.2 handled here: ``Client(log=False)`` fails in ctypes (a logging
callable is passed), and pipe mode breaks when the tracker prints to stdout (socket mode is used).
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

Box = tuple[float, float, float, float]


class TrackerFault(RuntimeError):
    """The tracker process crashed, hung, or answered something that is not a box."""


@dataclass(frozen=True)
class Handshake:
    """What the tracker declared: its name and the TraX region and image formats it accepts."""

    name: str
    regions: tuple[str, ...]
    images: tuple[str, ...]


def _bound_socket() -> socket.socket:
    """A TCP socket bound to a free localhost port; libtrax's client listens on it (by file
    descriptor: ``Client(stream=<int>)`` is a socket fd, not a port) and the tracker connects to
    the port named in ``TRAX_SOCKET``."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the tracker's process group (it leads it: ``start_new_session``) and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:  # children left in the group after the leader died
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _release_client(client) -> None:
    """Free the libtrax handle of ``client`` now, while its logging callback is still referenced.

    vot-trax 4.0.2 frees the handle from a weakref finalizer that can run after the client's ctypes
    logging callback is gone; libtrax then calls freed memory (seen as a segfault of the harness
    after a tracker crash). Running that finalizer here, in order, and disowning the handle avoids it.
    """
    import trax

    handle = getattr(client, "_handle", None)
    ref = getattr(handle, "ref", None)
    if ref is not None and id(ref) in trax._finalize_refs:
        trax._run_finalizer(ref)
    if handle is not None:
        handle.ref = None


def _shutdown(proc: subprocess.Popen, clients: list) -> None:
    """Kill the tracker and free its TraX client (the finalizer of an unclosed :class:`TraxTracker`)."""
    _kill_group(proc)
    while clients:
        _release_client(clients.pop())


class TraxTracker:
    """One tracker process speaking TraX.

    Args:
        argv: the command that starts the tracker (e.g. ``[python, "server.py", "--opt"]``).
        cwd: its working directory (``None``: this process's).
        startup_timeout_s: limit for the process to start and complete the handshake.
        frame_timeout_s: limit for each ``initialize``/``frame`` reply.
        label: what errors call the tracker (the method name).
    """

    def __init__(self, argv: Sequence[str], *, cwd: str | None = None, startup_timeout_s: float = 60.0,
                 frame_timeout_s: float = 30.0, label: str = "trax") -> None:
        import trax  # noqa: F401 - fail here, before a process starts, when vot-trax is missing
        from trax.client import Client

        self.label = label
        self.argv = [str(a) for a in argv]
        self.frame_timeout_s = frame_timeout_s
        self._timed_out = False
        self._closed = False
        self.last_properties: dict[str, str] = {}  # the object properties of the latest reply
        self._stderr = tempfile.TemporaryFile()
        self._listen = _bound_socket()
        port = self._listen.getsockname()[1]
        env = {**os.environ, "TRAX_SOCKET": str(port), "PYTHONUNBUFFERED": "1"}
        try:
            self.proc = subprocess.Popen(self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=self._stderr, stderr=self._stderr, start_new_session=True)
        except OSError as exc:
            self._stderr.close()
            self._listen.close()
            raise TrackerFault(f"{label}: cannot start the tracker {self.argv}: {exc}") from None
        self._clients: list = []  # the client, kept alive by the finalizer until its handle is freed
        self._finalizer = weakref.finalize(self, _shutdown, self.proc, self._clients)
        try:
            # libtrax waits for the tracker to connect within its timeout (whole seconds)
            self.client = self._guarded(lambda: Client(stream=self._listen.fileno(), timeout=max(1, math.ceil(startup_timeout_s)),
                                                       log=lambda _msg: None),
                                        startup_timeout_s + 5,
                                        f"start up and complete the TraX handshake within {startup_timeout_s:g} s")
        except BaseException:
            self.close()
            raise
        self._clients.append(self.client)
        self.handshake = Handshake(name=self.client.tracker_name, regions=tuple(self.client.region_formats),
                                   images=tuple(self.client.image_formats))

    def stderr_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines the tracker wrote to stdout/stderr."""
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            text = self._stderr.read()[-16384:].decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def fault(self, what: str, cause: object) -> TrackerFault:
        """A :class:`TrackerFault` for ``what`` (the step), saying whether the tracker timed out,
        exited (with its status) or answered wrongly (``cause``), with its output's last lines."""
        try:  # a crashed tracker closes its socket a moment before it can be reaped
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        if self._timed_out:
            state = f"timed out ({what}); the tracker was killed"
        elif code is not None:
            state = f"the tracker process exited with status {code} ({what})"
        else:
            state = f"failed ({what}): {cause}"
        tail = self.stderr_tail()
        return TrackerFault(f"{self.label}: {state}. Command: {' '.join(self.argv)}"
                            + (f"\n--- tracker output (last lines) ---\n{tail}" if tail else ""))

    def _guarded(self, call, timeout_s: float, what: str):
        """Run ``call()``; kill the tracker if it takes longer than ``timeout_s``."""
        from trax import TraxException

        def expire() -> None:
            self._timed_out = True
            _kill_group(self.proc)

        timer = threading.Timer(timeout_s, expire)
        timer.daemon = True
        timer.start()
        try:
            return call()
        except (TraxException, OSError) as exc:
            raise self.fault(what, exc) from None
        finally:
            timer.cancel()

    def _answer(self, reply, what: str, shape: tuple[int, int]) -> tuple[Box | np.ndarray, float | None]:
        """The one object of a reply ``(objects, elapsed)``: a box, or a ``(H, W) bool`` mask for a TraX
        mask region (padded/cropped to ``shape``); and the tracker's own ``time`` if it sent one."""
        import numpy as np
        from trax.region import Region

        objects, _elapsed = reply
        if len(objects) != 1:
            raise self.fault(what, f"{len(objects)} objects in the reply, expected 1")
        region, props = objects[0]
        if region.type == Region.RECTANGLE:
            out: Box | np.ndarray = tuple(float(v) for v in region.bounds())  # type: ignore[assignment]
            if not all(math.isfinite(v) for v in out) or out[2] < 0 or out[3] < 0:
                raise self.fault(what, f"malformed box {out} (x, y, w, h must be finite, w, h >= 0)")
        elif region.type == Region.MASK:
            m = region.array(normalize=True)
            if m.ndim != 2 or m.shape[0] > shape[0] or m.shape[1] > shape[1]:
                raise self.fault(what, f"malformed mask of shape {m.shape} for a {shape[0]}x{shape[1]} (HxW) frame")
            out = np.zeros(shape, bool)
            out[:m.shape[0], :m.shape[1]] = m > 0
        else:
            raise self.fault(what, f"a {region.type} region in the reply, expected a rectangle or a mask")
        self.last_properties = {str(k): str(v) for k, v in dict(props).items()}  # score, memory: trax_method
        try:
            reported = float(props["time"]) if "time" in props else None
        except ValueError:
            reported = None
        return out, reported

    def initialize(self, image_path: str | Path, target: Box | np.ndarray,
                   shape: tuple[int, int]) -> tuple[Box | np.ndarray, float | None]:
        """Start tracking ``target`` (a box, or an ``(H, W) bool`` mask sent as a TraX mask region) on
        the ``shape``-sized frame at ``image_path``; returns the tracker's answer and its time."""
        import numpy as np
        from trax.image import FileImage
        from trax.region import Mask, Rectangle

        if isinstance(target, np.ndarray):
            region = Mask.create(np.ascontiguousarray(target, dtype=np.uint8))
        else:
            region = Rectangle.create(*(float(v) for v in target))
        what = f"initialize on {Path(image_path).name}"
        reply = self._guarded(lambda: self.client.initialize({"color": FileImage.create(str(image_path))},
                                                             [(region, {})], {}),
                              self.frame_timeout_s, what)
        return self._answer(reply, what, shape)

    def frame(self, image_path: str | Path, shape: tuple[int, int]) -> tuple[Box | np.ndarray, float | None]:
        """Track into the ``shape``-sized frame at ``image_path``; returns the answer and the tracker's time."""
        from trax.image import FileImage

        what = f"frame {Path(image_path).name}"
        reply = self._guarded(lambda: self.client.frame({"color": FileImage.create(str(image_path))}, {}, []),
                              self.frame_timeout_s, what)
        return self._answer(reply, what, shape)

    def close(self) -> None:
        """Say goodbye if the tracker is alive, then kill its process group (always)."""
        if self._closed:
            return
        self._closed = True
        client = getattr(self, "client", None)
        if client is not None and self.proc.poll() is None:
            try:
                client.quit()
                self.proc.wait(timeout=2)
            except Exception:  # noqa: BLE001 - it is killed below anyway
                pass
        self.client = None
        self._finalizer()  # kill the process group, then free the client's handle
        self._stderr.close()
        self._listen.close()

    def __enter__(self) -> TraxTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


"""A small TraX server loop for Python box trackers (runs in the *tracker's* interpreter).

Usable from any interpreter that has ``vot-trax`` (and nothing of mosebench): run a tracker file
that sits next to this one (``sys.path[0]`` is then this folder) or copy this file beside it::

    from trax_server import serve

    class MyTracker:
        def initialize(self, image_path: str, box: tuple[float, float, float, float]) -> None: ...
        def track(self, image_path: str) -> tuple[float, float, float, float]: ...

    serve(MyTracker, name="mytracker")

Boxes are ``(x, y, w, h)`` floats in pixels. Frames arrive as file paths (TraX ``path`` images),
so the tracker decodes them itself. Each reply carries the tracker's own time for the step in the
object property ``time`` (seconds, a string), which the harness reports as model time. One object per
session; the harness starts one tracker process per object. Messages meant for a human go to
stderr (stdout is free: the session runs over a socket, ``TRAX_SOCKET``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any


def serve(make_tracker: Callable[[], Any], *, name: str = "", description: str = "") -> None:
    """Answer TraX requests until the client quits: ``initialize`` builds a tracker from
    ``make_tracker()`` and calls ``initialize(path, box)``; ``frame`` calls ``track(path)``."""
    import trax
    from trax.image import FileImage, Image
    from trax.region import Rectangle, Region

    server = trax.server.Server([Region.RECTANGLE], [Image.PATH], tracker_name=name,
                                tracker_description=description, log=False)
    tracker = None
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    while True:
        request = server.wait()
        if request.type == "quit":
            break
        image = request.image.get("color") if request.image else None
        if not isinstance(image, FileImage):
            server.quit("mosebench trax_server: only 'path' colour images are supported")
            break
        t0 = time.perf_counter()
        # an image or region type of the vot-trax API: `Region.type` is a property, `Image.type()` a method
        if request.type == "initialize":
            region = request.objects[0][0]
            if region.type != Region.RECTANGLE:
                server.quit(f"mosebench trax_server: expected a rectangle, got {region.type}")
                break
            box = tuple(float(v) for v in region.bounds())  # type: ignore[assignment]
            tracker = make_tracker()
            tracker.initialize(image.path(), box)
        elif tracker is not None:
            box = tuple(float(v) for v in tracker.track(image.path()))  # type: ignore[assignment]
        dt = time.perf_counter() - t0
        # per-object properties: vot-trax's client returns those, not the reply-level ones
        server.status([(Rectangle.create(*box), {"time": f"{dt:.9f}"})])
    print(f"[{name or 'trax_server'}] session ended", file=sys.stderr, flush=True)

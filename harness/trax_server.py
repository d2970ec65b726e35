"""A small TraX server loop for Python box trackers (runs in the *tracker's* interpreter).

Usable from any interpreter that has ``vot-trax`` (and nothing of mosebench): run a tracker file
that sits next to this one (``sys.path[0]`` is then this folder) or copy this file beside it::

    from trax_server import serve

    class MyTracker:
        def initialize(self, image_path: str, box: tuple[float, float, float, float]) -> None: ...
        def track(self, image_path: str) -> tuple[float, float, float, float]: ...

    serve(MyTracker, name="mytracker")

Boxes are ``(x, y, w, h)`` floats in pixels; ``serve(..., masks=True)`` also offers TraX mask
regions (see :func:`serve`). Frames arrive as file paths (TraX ``path`` images),
so the tracker decodes them itself. Each reply carries the tracker's own time for the step in the
object property ``time`` (seconds, a string), which the harness reports as model time: the tracker's
``step_time_s`` attribute when it sets one (e.g. the model step without image decoding), else the
whole call. It also carries ``peak_rss_bytes`` (this process's resident-memory high-water mark) and
whatever the tracker's optional ``properties()`` returns (``{name: str}``, e.g. ``score``,
``peak_gpu_allocated_bytes``), which the harness records. One object per
session; the harness starts one tracker process per object. Messages meant for a human go to
stderr (stdout is free: the session runs over a socket, ``TRAX_SOCKET``).
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from typing import Any


def serve(make_tracker: Callable[[], Any], *, name: str = "", description: str = "", masks: bool = False) -> None:
    """Answer TraX requests until the client quits: ``initialize`` builds a tracker from
    ``make_tracker()`` and calls ``initialize(path, target)``; ``frame`` calls ``track(path)``.

    ``target`` is a box ``(x, y, w, h)``, or with ``masks=True`` (the server then also offers TraX
    ``mask`` regions) a ``(h, w) bool`` array when the client sends a mask: the mask from the image's
    top-left corner, possibly smaller than the frame (TraX trims empty rows/columns at the bottom
    and right). ``track`` returns the same kind: a box, or a ``(h, w)`` bool/uint8 mask from the
    top-left corner."""
    import numpy as np
    import trax
    from trax.image import FileImage, Image
    from trax.region import Mask, Rectangle, Region

    formats = [Region.RECTANGLE] + ([Region.MASK] if masks else [])
    server = trax.server.Server(formats, [Image.PATH], tracker_name=name, tracker_description=description,
                                log=False)
    tracker = None
    out: Any = (0.0, 0.0, 0.0, 0.0)
    while True:
        request = server.wait()
        if request.type == "quit":
            break
        image = request.image.get("color") if request.image else None
        if not isinstance(image, FileImage):
            server.quit("mosebench trax_server: only 'path' colour images are supported")
            break
        t0 = time.perf_counter()
        # the vot-trax API: `Region.type` is a property, `Image.type()` and `FileImage.path()` methods
        if request.type == "initialize":
            region = request.objects[0][0]
            if region.type == Region.RECTANGLE:
                out = tuple(float(v) for v in region.bounds())
            elif region.type == Region.MASK and masks:
                out = region.array(normalize=True).astype(bool)
            else:
                server.quit(f"mosebench trax_server: cannot take a {region.type} region")
                break
            tracker = make_tracker()
            tracker.initialize(image.path(), out)
        elif tracker is not None:
            out = tracker.track(image.path())
        dt = time.perf_counter() - t0
        own = getattr(tracker, "step_time_s", None)
        props = {"time": f"{(dt if own is None else own):.9f}",
                 "peak_rss_bytes": str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}  # Linux: KiB
        props.update(getattr(tracker, "properties", dict)())
        if isinstance(out, np.ndarray):
            reply = Mask.create(np.ascontiguousarray(out, dtype=np.uint8))
        else:
            reply = Rectangle.create(*(float(v) for v in out))
        # per-object properties: vot-trax's client returns those, not the reply-level ones
        server.status([(reply, props)])
    print(f"[{name or 'trax_server'}] session ended", file=sys.stderr, flush=True)

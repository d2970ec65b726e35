"""Session plumbing shared by the settings: session planning, lockstep propagation, prompt records.

Session planning (documented in docs/settings.md):

* ``multi_object`` and ``add_objects_mid_video``: one session for all objects, each prompted on the
  first frame it is annotated in.
* ``multi_object`` without ``add_objects_mid_video``: one session per distinct first-annotated frame
  (objects that start together share a session), so every session's prompts lie on one frame.
* no ``multi_object``: one session per object.
* prompt frames not known when the sessions open (the interactive robot picks them as it goes):
  ``multi_object`` without ``add_objects_mid_video`` gets one session per object too.

Several sessions are advanced in lockstep (frame ``t`` of every session, then ``t + 1``) and their
per-frame results merged, so frames are still emitted in order without buffering whole videos.
The cost: all those sessions are alive at once, so peak memory is the sum of their per-video state
(for SAM2-style trackers: one memory bank per session; the weights are shared).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.api import (
    BoxPrompt,
    Capabilities,
    FrameResult,
    MaskPrompt,
    PointsPrompt,
    Prompt,
    ScribblePrompt,
)
from harness.contract import MethodOutputError

if TYPE_CHECKING:
    from harness.api import Method, Session
    from harness.data.video import Video
    from harness.timing import ModelTimer


def plan_sessions(caps: Capabilities, objects: Mapping[int, int | None]) -> list[tuple[int, ...]]:
    """Group object ids into sessions (see the module docstring), the one rule every setting uses.

    ``objects``: obj_id -> the frame of its first prompt, ``None`` when not known in advance."""
    ids = sorted(objects, key=lambda o: (objects[o] is None, objects[o] or 0, o))
    if not ids:
        return []
    if not caps.multi_object:
        return [(o,) for o in ids]
    if caps.add_objects_mid_video:
        return [tuple(ids)]
    if any(objects[o] is None for o in ids):
        return [(o,) for o in ids]
    by_frame: dict[int, list[int]] = {}
    for o in ids:
        by_frame.setdefault(objects[o], []).append(o)
    return [tuple(v) for _, v in sorted(by_frame.items())]


def merge_results(index: int, parts: Sequence[FrameResult]) -> FrameResult:
    """Merge one frame's results from several sessions (disjoint object ids)."""
    if len(parts) == 1:
        return parts[0]
    masks: dict[int, np.ndarray] = {}
    boxes: dict[int, Any] = {}
    scores: dict[int, float] = {}
    for p in parts:
        masks.update(p.masks)
        boxes.update(p.boxes)
        scores.update(p.scores)
    return FrameResult(index, masks=masks, boxes=boxes, scores=scores,
                       model_time_s=sum(p.model_time_s for p in parts),
                       processed=any(p.processed for p in parts))


def lockstep(sessions: Sequence[Session], video: Video, method_name: str,
             timer: ModelTimer | None = None) -> Iterator[FrameResult]:
    """Propagate every session and yield one merged :class:`FrameResult` per frame, in order.

    ``timer``, when given, accumulates the wall time spent inside the sessions' calls (each
    ``propagate`` step), e.g. for the interactive time budget; the frames' own ``model_time_s``
    is what the method reports.

    Raises :class:`MethodOutputError` when a session yields frames out of order or too few.
    """
    n = len(video)
    call = timer.call if timer is not None else _call
    iters = [call(lambda s=s: iter(s.propagate())) for s in sessions]
    for t in range(n):
        parts = []
        for it in iters:
            try:
                fr = call(next, it)
            except StopIteration:
                raise MethodOutputError(
                    f"method '{method_name}' yielded {t} frames for video '{video.name}', which has {n}; "
                    "Session.propagate must yield one FrameResult per frame") from None
            if fr.frame != t:
                raise MethodOutputError(
                    f"method '{method_name}' yielded frame {fr.frame} where frame {t} was due "
                    f"(video '{video.name}'); Session.propagate must yield frames in order")
            parts.append(fr)
        yield merge_results(t, parts) if parts else FrameResult(t, processed=False)


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def open_sessions(stack: ExitStack, method: Method, video: Video, n: int,
                  max_objects: int = 20) -> list[Session]:
    return [stack.enter_context(method.open_session(video.frames, max_objects=max_objects)) for _ in range(n)]


def method_name(method: Method) -> str:
    return getattr(method, "name", None) or type(method).__name__


# --- prompt records (JSON) ------------------------------------------------------------------------

def mask_summary(mask: np.ndarray) -> dict[str, Any]:
    """A compact, auditable summary of a mask: tight box, area and a digest of its packed bits.

    The full mask is ground truth already on disk, so the record keeps only what identifies it.
    """
    from harness.boxes import box_of_mask

    m = np.asarray(mask, dtype=bool)
    box = box_of_mask(m)
    digest = hashlib.sha1(np.packbits(m).tobytes()).hexdigest()[:16]
    return {"bbox": None if box is None else [int(v) for v in box], "area": int(np.count_nonzero(m)), "sha1": digest}


def prompt_record(p: Prompt, **extra: Any) -> dict[str, Any]:
    """JSON-serialisable description of one prompt (saved with the run)."""
    rec: dict[str, Any] = {"kind": p.kind.value, "frame": int(p.frame), "obj_id": int(p.obj_id)}
    if isinstance(p, MaskPrompt):
        rec.update(mask_summary(p.mask))
    elif isinstance(p, BoxPrompt):
        rec["box"] = [round(float(v), 2) for v in p.box]
    elif isinstance(p, PointsPrompt):
        rec["points"] = [[round(float(x), 2), round(float(y), 2)] for x, y in p.points]
        rec["labels"] = [int(v) for v in p.labels]
    elif isinstance(p, ScribblePrompt):
        rec["positive"] = [np.asarray(s).round(2).tolist() for s in p.positive]
        rec["negative"] = [np.asarray(s).round(2).tolist() for s in p.negative]
    rec.update(extra)
    return rec


def start_frames(video: Video) -> dict[int, int]:
    """obj_id -> first annotated frame the object appears in (``Video.objects``), ids as ints."""
    return {int(o): int(f) for o, f in video.objects.items()}

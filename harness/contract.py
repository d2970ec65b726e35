"""Run-time validation of what a method returns: every :class:`~harness.api.FrameResult` (and every
prompt-feedback mask) is checked against the interface's conventions before a setting, the writer
or the scorer uses it.

Without it, an adapter bug becomes a plausible number: masks under ids nobody prompted are
dropped by scoring (the run reports the empty-mask floor), masks one row short are written
silently, half-resolution masks fail deep inside numpy. With it, the first bad frame raises a
:class:`MethodOutputError` naming the method, the video, the frame and the object; the runner
marks that video failed and goes on with the others.

What is checked, per frame (cheap: types, shapes and dtypes, no pixel is read):

* ``frame``: the session yields frames ``0 .. len(video) - 1``, each once, in order, all of them;
* ids: keys of ``masks``/``boxes``/``scores`` are ints among the ids the session was prompted with
  (a session given no prompt, i.e. unprompted proposals, may use any id in ``1..255``, the range
  of the label PNGs);
* ``masks``: ``(H, W) bool`` numpy arrays at the video's resolution;
* ``boxes``: ``None`` or four finite numbers ``(x, y, w, h)`` with ``w, h >= 0``;
* ``scores``: finite numbers in ``[0, 1]``;
* ``model_time_s``: a finite number of seconds ``>= 0`` (``processed``, where present, a bool).

:func:`checked_method` wraps a method so that its sessions check themselves; the settings never
know. :func:`result_problems` is the pure check, shared with ``mosebench check-method``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from harness.api import FrameResult, FrameSource, Method, Prompt, Session

MAX_OBJECT_ID = 255
"""Label PNGs are ``uint8``: object ids live in ``1..255``."""


class MethodOutputError(RuntimeError):
    """A method broke the Session contract (bad ids, shapes, dtypes, frame order): a bug in its adapter."""


@dataclass(frozen=True)
class Problem:
    """One violation: ``check`` is its family (frames, ids, masks, boxes, scores, timing)."""

    check: str
    message: str
    frame: int | None = None
    obj_id: Any = None

    def __str__(self) -> str:
        where = ([f"frame {self.frame}"] if self.frame is not None else []) + (
            [f"object {self.obj_id!r}"] if self.obj_id is not None else [])
        return f"{', '.join(where)}: {self.message}" if where else self.message


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v: Any) -> bool:
    return isinstance(v, (Real, np.floating, np.integer)) and not isinstance(v, (bool, np.bool_))


def _id_problem(oid: Any, ids: frozenset[int] | None) -> str | None:
    if not _is_int(oid):
        return f"object id {oid!r} is a {type(oid).__name__}, must be an int (the dataset's object id)"
    if ids is None:
        if not 1 <= int(oid) <= MAX_OBJECT_ID:
            return f"proposal id {oid} is outside 1..{MAX_OBJECT_ID} (the label PNGs are uint8)"
        return None
    if int(oid) not in ids:
        shown = ", ".join(map(str, sorted(ids))) or "none"
        return (f"id {oid} was never prompted in this session (prompted ids: {shown}); results must use "
                "the dataset's object ids unchanged")
    return None


def mask_problem(mask: Any, shape: tuple[int, int]) -> str | None:
    """Why ``mask`` is not an ``(H, W) bool`` numpy array of ``shape``, or ``None``."""
    if not isinstance(mask, np.ndarray):
        return f"mask is a {type(mask).__name__}, must be a numpy (H, W) bool array"
    if mask.shape != tuple(shape):
        return f"mask has shape {mask.shape}, the video's frames are {tuple(shape)} (H, W)"
    if mask.dtype != np.bool_:
        return f"mask has dtype {mask.dtype}, must be bool (e.g. probabilities > 0.5)"
    return None


def _box_problem(box: Any, shape: tuple[int, int]) -> str | None:
    if box is None:
        return None
    try:
        vals = tuple(box)
    except TypeError:
        return f"box {box!r} must be (x, y, w, h) or None"
    if len(vals) != 4 or not all(_is_number(v) and math.isfinite(float(v)) for v in vals):
        return f"box {box!r} must be four finite numbers (x, y, w, h) or None"
    if float(vals[2]) < 0 or float(vals[3]) < 0:
        return f"box {box!r} has a negative width or height"
    return None


def _score_problem(score: Any, shape: tuple[int, int]) -> str | None:
    if not _is_number(score) or not 0.0 <= float(score) <= 1.0:
        return f"score {score!r} must be a number in [0, 1]"
    return None


_VALUE_CHECKS = {"masks": mask_problem, "boxes": _box_problem, "scores": _score_problem}


def result_problems(result: Any, shape: tuple[int, int], ids: frozenset[int] | None,
                    expected_frame: int | None = None) -> list[Problem]:
    """Every violation in one yielded result (empty when it is fine).

    Args:
        result: what the session yielded (should be a :class:`FrameResult`).
        shape: the video's ``(H, W)``.
        ids: the object ids prompted in the session; ``None`` when it was not prompted (proposals).
        expected_frame: the frame index due now (``None``: not checked).
    """
    if not isinstance(result, FrameResult):
        return [Problem("frames", f"yielded a {type(result).__name__}, not a harness.api.FrameResult",
                        expected_frame)]
    out: list[Problem] = []
    f = result.frame
    if not _is_int(f):
        out.append(Problem("frames", f"FrameResult.frame is {f!r}, must be an int frame index", expected_frame))
        f = expected_frame
    elif expected_frame is not None and f != expected_frame:
        out.append(Problem("frames", f"yielded frame {f} where frame {expected_frame} was due (one result "
                                     "per frame, in order 0 .. len(video)-1)", expected_frame))
    for field, values in (("masks", result.masks), ("boxes", result.boxes), ("scores", result.scores)):
        if not isinstance(values, Mapping):
            out.append(Problem(field, f"FrameResult.{field} is a {type(values).__name__}, must be a mapping "
                                      "obj_id -> value", f))
            continue
        for oid, value in values.items():
            why = _id_problem(oid, ids)
            if why:
                out.append(Problem("ids", why, f, oid))
                continue
            why = _VALUE_CHECKS[field](value, shape)
            if why:
                out.append(Problem(field, why, f, oid))
    t = result.model_time_s
    if not _is_number(t) or not math.isfinite(float(t)) or float(t) < 0:
        out.append(Problem("timing", f"model_time_s is {t!r}, must be a finite number of seconds >= 0", f))
    processed = getattr(result, "processed", False)  # FPS counts processed frames (absent in older APIs)
    if not isinstance(processed, (bool, np.bool_)):
        out.append(Problem("timing", f"processed is {processed!r}, must be True or False", f))
    return out


def missing_frames_problem(yielded: int, n: int) -> Problem | None:
    """The problem of a propagate that stopped after ``yielded`` of ``n`` frames, or ``None``."""
    if yielded >= n:
        return None
    return Problem("frames", f"propagate stopped after {yielded} of {n} frames (frame {yielded} is missing; "
                             "one FrameResult per frame is due)", yielded)


def error_message(method: str, video: str, problems: list[Problem]) -> str:
    """One message naming the method, the video and each problem's frame and object."""
    head = f"method '{method}' returned an invalid result on video '{video}': "
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return (head + "; ".join(map(str, problems[:3])) + more
            + f". This is a bug in the adapter: `mosebench check-method {method}` checks the whole contract "
            "(docs/adding_a_method.md)")


class CheckedSession(Session):
    """A session whose results are checked as they are yielded (see the module docstring)."""

    def __init__(self, inner: Session, method: str, video: FrameSource) -> None:
        self.inner = inner
        self.method = method
        self.video = video
        self.shape = (int(video.height), int(video.width))
        self.prompted: set[int] = set()

    def _raise(self, problems: list[Problem]) -> None:
        raise MethodOutputError(error_message(self.method, self.video.name, problems))

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        feedback = self.inner.add_prompt(prompt)
        self.prompted.add(int(prompt.obj_id))
        if feedback is not None:
            if not isinstance(feedback, Mapping):
                self._raise([Problem("masks", f"add_prompt returned a {type(feedback).__name__}, must be None or "
                                              "a mapping obj_id -> (H, W) bool", prompt.frame)])
            probs = result_problems(FrameResult(prompt.frame, masks=feedback), self.shape,
                                    frozenset(self.prompted))
            if probs:
                self._raise(probs)
        return feedback

    def propagate(self) -> Iterator[FrameResult]:
        ids = frozenset(self.prompted) if self.prompted else None
        n = len(self.video)
        k = 0
        for result in self.inner.propagate():
            probs = (result_problems(result, self.shape, ids, expected_frame=k) if k < n else
                     [Problem("frames", f"yielded more than the video's {n} frames", k)])
            if probs:
                self._raise(probs)
            k += 1
            yield result
        missing = missing_frames_problem(k, n)
        if missing:
            self._raise([missing])

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> CheckedSession:
        self.inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.inner.__exit__(*exc)


class CheckedMethod:
    """``method`` with self-checking sessions; every other attribute is the method's own."""

    def __init__(self, inner: Method, name: str) -> None:
        self.inner = inner
        self.name = name  # the registry name, for messages

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return CheckedSession(self.inner.open_session(video, max_objects=max_objects), self.name, video)


def checked_method(method: Any, name: str | None = None) -> CheckedMethod:
    """Wrap ``method`` (idempotent) so each of its sessions validates what it yields."""
    if isinstance(method, CheckedMethod):
        return method
    return CheckedMethod(method, name or getattr(method, "name", None) or type(method).__name__)

"""The method contract suite behind ``mosebench check-method`` and ``tests/test_methods_contract.py``.

It drives one constructed method on a small synthetic MOSE-layout dataset (2 videos x 8 frames,
48 x 64, written to a temp folder by :func:`harness.data.synth.generate` and read by the real
reader) and reports one line per check (:data:`CHECKS`; what each asks is tabulated in
docs/adding_a_method.md, "Check your method"). Video A has an object that first appears on a
later frame; video B gets one object, prompted after it appears. Per-result problems come from
:func:`harness.contract.result_problems`, the check the runner applies at run time.

Sessions are planned as the settings plan them (:func:`harness.settings.multisession.plan_sessions`).
"""

from __future__ import annotations

import traceback
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import (
    BoxPrompt,
    FrameResult,
    MaskPrompt,
    OutputKind,
    PointsPrompt,
    PromptKind,
    ScribblePrompt,
)
from harness.contract import Problem, mask_problem, missing_frames_problem, result_problems

CHECKS = ("frames", "ids", "masks", "later objects", "prompt feedback", "timing", "prompts refused",
          "fresh state", "deterministic", "causal", "unprompted")
SYNTH = {"videos": 2, "frames": 8, "size": (48, 64), "seed": 3}  # synth001 has an object starting on frame 3


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # "pass" | "fail" | "skip"
    detail: str


@dataclass(frozen=True)
class Report:
    method: str
    results: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.status != "fail" for r in self.results)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.status == "fail")

    def text(self) -> str:
        width = max(len(r.name) for r in self.results)
        lines = [f"{r.status.upper():<4}  {r.name:<{width}}  {r.detail}" for r in self.results]
        n = len(self.failed)
        lines.append(f"method '{self.method}': " + ("all checks passed" if not n else
                                                     f"{n} check(s) failed: {', '.join(r.name for r in self.failed)}"))
        return "\n".join(lines)


def describe_exception(exc: BaseException) -> str:
    """``Type: message (at file:line)`` of the innermost frame, for one-line reports."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


class _AlteredFrames:
    """A :class:`~harness.api.FrameSource` whose frames after ``cut`` are colour-inverted."""

    def __init__(self, inner: Any, cut: int) -> None:
        self.inner, self.cut = inner, cut
        self.name, self.frame_names = inner.name, inner.frame_names
        self.height, self.width = inner.height, inner.width

    def __len__(self) -> int:
        return len(self.inner)

    def _alter(self, i: int, img: np.ndarray) -> np.ndarray:
        return 255 - img if i > self.cut else img

    def frame(self, index: int) -> np.ndarray:
        return self._alter(index, self.inner.frame(index))

    def stream(self, start: int = 0, stop: int | None = None, reverse: bool = False) -> Iterator[tuple[int, np.ndarray]]:
        for i, img in self.inner.stream(start, stop, reverse):
            yield i, self._alter(i, img)


@dataclass
class _Run:
    """One video's merged results and every problem its sessions showed."""

    results: list[FrameResult] = field(default_factory=list)
    processed: list[bool | None] = field(default_factory=list)  # per frame; None: FrameResult has no flag
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None


def _prompt(kinds: frozenset[PromptKind], frame: int, oid: int, mask: np.ndarray):
    from harness.boxes import box_of_mask
    from harness.settings.clicks import place_clicks

    if PromptKind.MASK in kinds:
        return MaskPrompt(frame, oid, mask)
    if PromptKind.BOX in kinds:
        return BoxPrompt(frame, oid, box_of_mask(mask))
    (x, y) = place_clicks(mask, 1)[0].xy
    if PromptKind.POINTS in kinds:
        return PointsPrompt(frame, oid, ((x, y),), (1,))
    return ScribblePrompt(frame, oid, (np.array([[x, y], [x + 0.5, y]]),))


def _samples(shape: tuple[int, int]) -> dict[PromptKind, Any]:
    h, w = shape
    return {PromptKind.MASK: MaskPrompt(0, 1, np.ones((h, w), bool)),
            PromptKind.BOX: BoxPrompt(0, 1, (1.0, 1.0, 5.0, 5.0)),
            PromptKind.POINTS: PointsPrompt(0, 1, ((3.0, 3.0),), (1,)),
            PromptKind.SCRIBBLE: ScribblePrompt(0, 1, (np.array([[1.0, 1.0], [4.0, 4.0]]),))}


def _same(a: _Run, b: _Run, upto: int | None = None) -> str | None:
    """Where two runs' results differ (first frame / object), or ``None``."""
    if a.error or b.error:
        return a.error or b.error
    for ra, rb in zip(a.results, b.results):
        if upto is not None and ra.frame > upto:
            break
        for attr in ("masks", "boxes"):
            da, db = getattr(ra, attr), getattr(rb, attr)
            if set(da) != set(db):
                return f"frame {ra.frame}: {attr} ids {sorted(da)} vs {sorted(db)}"
            for oid in da:
                x, y = da[oid], db[oid]
                same = np.array_equal(x, y) if attr == "masks" else (x is None) == (y is None) and (
                    x is None or np.allclose(np.asarray(x, float), np.asarray(y, float)))
                if not same:
                    return f"frame {ra.frame}, object {oid}: {attr[:-1]} differs"
    return None if len(a.results) == len(b.results) else f"{len(a.results)} vs {len(b.results)} frames"


class _Suite:
    def __init__(self, method: Any, workdir: Path) -> None:
        from harness.data import open_dataset
        from harness.data.synth import generate

        self.method, self.caps = method, method.capabilities
        self.deterministic = bool(getattr(method, "deterministic", True))
        ds = open_dataset(generate(Path(workdir) / "synth", **SYNTH))
        videos = [ds.video(v) for v in ds.videos]
        videos.sort(key=lambda v: -max(v.objects.values(), default=0))  # A: the one with a later object
        self.a, self.b = videos[0], videos[1]
        self.shape = (self.a.height, self.a.width)
        self.starts_a = dict(self.a.objects)
        if self.starts_a and max(self.starts_a.values()) == 0:  # delay one visible object if none starts later
            mid = len(self.a) // 2
            late = [o for o in sorted(self.starts_a) if (self.a.gt(mid) == o).any()]
            if late:
                self.starts_a[late[-1]] = mid
        # B: one object, first prompted on a later frame than it appears (frames before are placeholders)
        f_b = len(self.b) // 4
        visible = [o for o in sorted(self.b.objects) if self.b.objects[o] <= f_b and (self.b.gt(f_b) == o).any()]
        self.starts_b = {visible[0]: f_b} if visible else {min(self.b.objects): self.b.objects[min(self.b.objects)]}
        self._runs: dict[str, _Run] = {}

    # -- running -----------------------------------------------------------------------------
    def prompts(self, video: Any, starts: dict[int, int]) -> list:
        if not self.caps.prompts:
            return []
        return [_prompt(self.caps.prompts, f, o, video.gt(f) == o) for o, f in sorted(starts.items())]

    def run(self, key: str) -> _Run:
        if key not in self._runs:
            video, starts = {"A": (self.a, self.starts_a), "B": (self.b, self.starts_b)}[key[0]]
            frames = _AlteredFrames(video.frames, max(starts.values(), default=0)) if key == "A-causal" else video.frames
            self._runs[key] = self._run(frames, self.prompts(video, starts))
        return self._runs[key]

    def _run(self, frames: Any, prompts: list, max_objects: int = 20) -> _Run:
        from harness.settings.multisession import plan_sessions

        out = _Run()
        n = len(frames)
        groups = plan_sessions(self.caps, {p.obj_id: p.frame for p in prompts}) if prompts else [()]
        streams: list[list] = []
        try:
            for group in groups:
                with self.method.open_session(frames, max_objects=max_objects) as session:
                    for p in (p for p in prompts if p.obj_id in group):
                        fb = session.add_prompt(p)
                        if self.caps.prompt_feedback:
                            out.problems += self._feedback_problems(p, fb)
                    stream = []
                    for r in session.propagate():
                        stream.append(r)
                        if len(stream) > n:
                            break
                ids = frozenset(group) if group else None
                out.problems += [q for k, r in enumerate(stream)
                                 for q in result_problems(r, self.shape, ids, expected_frame=k)]
                extra = [Problem("frames", f"yielded more than the video's {n} frames", n)] if len(stream) > n else []
                out.problems += extra + [q for q in [missing_frames_problem(len(stream), n)] if q]
                streams.append(stream)
            for t in range(min(min(map(len, streams)), n)):
                parts = [s[t] for s in streams if isinstance(s[t], FrameResult)]
                out.results.append(FrameResult(t, masks={k: v for p in parts for k, v in dict(p.masks).items()},
                                               boxes={k: v for p in parts for k, v in dict(p.boxes).items()},
                                               model_time_s=sum(float(p.model_time_s) for p in parts)))
                flags = [getattr(p, "processed", None) for p in parts]
                out.processed.append(None if None in flags or not flags else any(flags))
        except Exception as exc:  # the adapter's bug: reported, not raised
            out.error = describe_exception(exc)
        return out

    def _feedback_problems(self, p: Any, fb: Any) -> list[Problem]:
        if not isinstance(fb, Mapping):
            return [Problem("prompt feedback", f"add_prompt returned {type(fb).__name__}; with prompt_feedback it "
                                               "must return the prompt frame's obj_id -> (H, W) bool masks", p.frame)]
        if p.obj_id not in fb:
            return [Problem("prompt feedback", f"add_prompt's masks lack the prompted object ({sorted(fb)})",
                            p.frame, p.obj_id)]
        why = mask_problem(fb[p.obj_id], self.shape)
        return [Problem("prompt feedback", why, p.frame, p.obj_id)] if why else []

    # -- checks ------------------------------------------------------------------------------
    def _problems(self, key: str, *families: str, ids: Collection[int] | None = None) -> str | None:
        """The first problem of these families in run ``key`` (and how many more), or ``None``."""
        run = self.run(key)
        video = getattr(self, key[0].lower()).name
        if run.error:
            return f"video {video}: {run.error}"
        found = [q for q in run.problems if q.check in families and (ids is None or q.obj_id in ids)]
        if not found:
            return None
        frames = sorted({q.frame for q in found if q.frame is not None})
        more = (f" (and {len(found) - 1} more problem(s) on frames {frames[0]}..{frames[-1]})"
                if len(found) > 1 and frames else "")
        return f"video {video}: {found[0]}{more}"

    def frames_ok(self) -> bool:
        """Whether video A ran and gave one result per frame (the other checks compare frames)."""
        return self._problems("A", "frames") is None

    def check_frames(self) -> str | None:
        return self._problems("A", "frames") or self._problems("B", "frames")

    def check_ids(self) -> str | None:
        bad = self._problems("A", "ids")
        if bad:
            return bad
        field_ = "masks" if self.caps.output is OutputKind.MASK else "boxes"
        for r in self.run("A").results:
            for o, s in self.starts_a.items():
                if r.frame >= s and o not in getattr(r, field_) and self.caps.prompts:
                    return (f"video {self.a.name}, frame {r.frame}: no {field_} entry for prompted object {o} "
                            f"(give an all-False mask{' or None box' if field_ == 'boxes' else ''} when it is absent)")
        return None

    def check_masks(self) -> str | None:
        bad = self._problems("A", "masks", "boxes", "scores")
        if bad or self.caps.output is not OutputKind.MASK:
            return bad
        results = self.run("A").results
        for f in sorted(set(self.starts_a.values())):
            objs = [o for o, s in self.starts_a.items() if s == f and f < len(results) and o in results[f].masks]
            if objs and not any(np.any(results[f].masks[o]) for o in objs):
                return f"video {self.a.name}, frame {f}: every object prompted there ({objs}) has an empty mask"
        return None

    def check_later_objects(self) -> str | None:
        for key, video, starts in (("A", self.a, self.starts_a), ("B", self.b, self.starts_b)):
            late = {o: s for o, s in starts.items() if s > 0}
            for r in self.run(key).results:
                for o, s in late.items():
                    if r.frame < s and (np.any(r.masks.get(o, False)) or r.boxes.get(o) is not None):
                        return (f"video {video.name}, frame {r.frame}: object {o} is predicted before its first "
                                f"prompt on frame {s} (it must be absent: no entry, an empty mask or a None box)")
        return self._problems("A", "frames") or self._problems("B", "frames")

    def check_prompt_feedback(self) -> str | None:
        return self._problems("A", "prompt feedback")

    def check_timing(self) -> str | None:
        bad = self._problems("A", "timing")
        if bad:
            return bad
        if not sum(r.model_time_s for r in self.run("A").results) > 0:
            return (f"video {self.a.name}: model_time_s is 0 on every frame; time the model's work per frame "
                    "(device-synchronised, without decoding)")
        for key, video, starts in (("A", self.a, self.starts_a), ("B", self.b, self.starts_b)):
            first = min(starts.values(), default=None) if self.caps.prompts else None
            for t, flag in enumerate(self.run(key).processed):  # FPS counts processed frames only
                if first is not None and flag is not None and t <= first and flag != (t == first):
                    return (f"video {video.name}, frame {t}: processed={flag}, but frames before the first "
                            f"prompt (frame {first}) are placeholders (processed=False) and the prompt frame "
                            "is processed")
        return None

    def check_prompts_refused(self) -> str | None:
        from harness.errors import CapabilityError

        for kind, prompt in _samples(self.shape).items():
            if kind in self.caps.prompts:
                continue
            try:
                with self.method.open_session(self.a.frames) as session:
                    session.add_prompt(prompt)
            except CapabilityError as exc:
                if kind.value not in str(exc):
                    return f"the CapabilityError for a {kind.value} prompt does not name the kind: {exc}"
                continue
            except Exception as exc:
                return f"a {kind.value} prompt raised {describe_exception(exc)}, not harness.errors.CapabilityError"
            return f"a {kind.value} prompt was accepted although capabilities.prompts does not list it"
        return None

    def check_fresh_state(self) -> str | None:
        bad = self._problems("B", "ids", ids=set(self.starts_a) - set(self.starts_b))
        if bad:
            return f"{bad} (state of the previous video leaked into this session)"
        if self.deterministic and (diff := _same(self.run("A"), self.run("A-again"))):
            return (f"video {self.a.name} gave other results after video {self.b.name} ran in the same method "
                    f"instance ({diff}): state leaks between sessions (or declare deterministic = False)")
        return self._problems("A-again", "frames")

    def check_deterministic(self) -> str | None:
        diff = _same(self.run("A-again"), self.run("A-third"))
        if diff:
            return f"two runs on video {self.a.name} differ ({diff}); declare deterministic = False if that is expected"
        return self._problems("A-third", "frames")

    def check_causal(self) -> str | None:
        cut = max(self.starts_a.values(), default=0)
        # against the latest run on the original frames, so state leaks (fresh state) do not show here
        diff = _same(self.run("A-third"), self.run("A-causal"), upto=cut)
        if diff:
            return (f"results on frames <= {cut} changed when only frames after {cut} changed ({diff}): the "
                    "method reads ahead; declare capabilities.streaming = False")
        return self._problems("A-causal", "frames")

    def check_unprompted(self) -> str | None:
        run = self._run(self.a.frames, [], max_objects=3)
        if run.error or run.problems:
            return f"video {self.a.name}: " + (run.error or "; ".join(map(str, run.problems[:3])))
        ids = {o for r in run.results for o, m in r.masks.items() if np.any(m)}
        if len(ids) > 3:
            return f"proposed {len(ids)} objects ({sorted(ids)}) with max_objects=3"
        return None

    def skip_reason(self, name: str) -> str | None:
        caps = self.caps
        reasons = {
            "later objects": None if caps.prompts else "the method takes no prompts",
            "prompt feedback": None if caps.prompt_feedback else "capabilities.prompt_feedback is False",
            "prompts refused": None if set(PromptKind) - caps.prompts else "every prompt kind is accepted",
            "deterministic": None if self.deterministic else "the method declares deterministic = False",
            "causal": ("capabilities.streaming is False" if not caps.streaming else
                       None if self.deterministic else "not deterministic: causality cannot be compared"),
            "unprompted": None if caps.unprompted else "capabilities.unprompted is False",
        }
        return reasons.get(name)


_NEED_FRAMES = {"ids", "masks", "later objects", "prompt feedback", "timing", "fresh state", "deterministic",
                "causal"}
_PASS = {
    "frames": "one result per frame, in order", "ids": "only prompted ids; every prompted object present",
    "masks": "(H, W) bool masks at frame size", "later objects": "absent before their first prompt",
    "prompt feedback": "add_prompt returns the prompt frame's masks", "timing": "model_time_s present",
    "prompts refused": "unsupported kinds raise CapabilityError", "fresh state": "no state shared between videos",
    "deterministic": "same results twice", "causal": "frames after t do not change results up to t",
    "unprompted": "proposals with ids 1..255, at most max_objects",
}


def check_method(method: Any, name: str, workdir: str | Path, only: Collection[str] | None = None) -> Report:
    """Run the contract checks (all, or ``only`` these) on a constructed ``method``; never raises for
    the method's own errors (they become failed checks)."""
    unknown = set(only or ()) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; known: {', '.join(CHECKS)}")
    suite = _Suite(method, Path(workdir))
    out = []
    for check in CHECKS:
        if only is not None and check not in only:
            continue
        skip = suite.skip_reason(check)
        if not skip and check in _NEED_FRAMES and not suite.frames_ok():
            skip = f"not checked: video {suite.a.name} gave no result per frame (see frames)"
        if skip:
            out.append(CheckResult(check, "skip", skip))
            continue
        try:
            problem = getattr(suite, "check_" + check.replace(" ", "_"))()
        except Exception as exc:
            problem = describe_exception(exc)
        out.append(CheckResult(check, "fail" if problem else "pass", problem or _PASS[check]))
    return Report(name, tuple(out))

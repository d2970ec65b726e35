"""``trax``: any tracker that speaks TraX, run out of process in its own interpreter/environment.

The method's config names the command that starts the tracker (``method.command``, with
``method.python`` the interpreter that runs it when it is a script, ``method.args`` its arguments
and ``method.repo`` its working directory). The tracker runs as a child process of the harness,
one process per object and video (``multi_object=False``: the runner opens one session per
object), and talks TraX over a localhost socket (:mod:`harness.trax_client`); frames are passed as
the dataset's JPEG paths.

Capabilities: ``trax`` takes box prompts (a mask prompt is reduced to its bounding box) and gives
boxes, through TraX ``rectangle`` regions; ``trax-mask`` takes mask prompts and gives one mask per
frame, through TraX ``mask`` regions. The constructor starts the tracker once and checks its
handshake (that region type, ``path`` images) before any video; a tracker that cannot is a
:class:`~harness.errors.ConfigError` (exit 2).

Model time per frame: the tracker's own report (object property ``time``, seconds, sent by
:mod:`harness.trax_server`), else the client-side wall time of the TraX round trip (which includes
the protocol and the tracker's image decoding). Which one was used is labelled in the video's record
(``tracker_process``, :meth:`TraxMethod.take_video_report`), with the tracker processes' own peak
memory (``peak_rss_bytes``, ``peak_gpu_*_bytes`` properties of their replies) and the mean TraX
overhead per frame (round trip minus reported time).

Box trackers never say "absent": their boxes are reported as they are. ``confidence_threshold``
(off by default) turns a box whose reply ``score`` property is below it into "absent" (only for
trackers that report a score; one that does not is a fault naming the option). Faults (crash, hang past ``frame_timeout_s``,
start-up past ``startup_timeout_s``, a reply that is not one finite rectangle or a mask that fits
the frame) raise :class:`~harness.trax_client.TrackerFault` with the tracker's output tail: the
runner fails that video and goes on.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from adapters.prompt_masks import box_of_mask, check_prompt
from harness.api import (
    Box,
    BoxPrompt,
    Capabilities,
    FrameResult,
    FrameSource,
    MaskPrompt,
    Method,
    OutputKind,
    Prompt,
    PromptKind,
    Session,
)
from harness.errors import CapabilityError, ConfigError
from harness.options import option

REPO_ROOT = Path(__file__).resolve().parents[1]
SELF = "self"  # method.python value meaning "the harness's own interpreter"


@dataclass(frozen=True)
class TraxConfig:
    """Options of a TraX method.

    Attributes:
        command: the tracker program (a script when ``python`` is set, else an executable);
            relative paths are taken from ``repo`` when given, else from the mosebench checkout.
        python: interpreter that runs ``command`` (``self``: the harness's own; empty: run
            ``command`` directly).
        repo: the tracker's checkout, its working directory (empty: the mosebench checkout).
        args: extra arguments after ``command``.
        startup_timeout_s: limit for starting and completing the TraX handshake.
        frame_timeout_s: limit for each frame's reply (initialisation included).
        confidence_threshold: ``None`` (default): boxes as the tracker gives them; a number: a box
            whose reply ``score`` is below it is reported absent (``None``).
    """

    command: str = ""
    python: str = ""
    repo: str = ""
    args: tuple[str, ...] = ()
    startup_timeout_s: float = option(120.0, gt=0)
    frame_timeout_s: float = option(60.0, gt=0)
    confidence_threshold: float | None = None

    def __post_init__(self) -> None:
        tracker_command(self)  # the files it names exist: refused before any work

    def command_args(self, device: str = "cpu") -> tuple[str, ...]:
        """The arguments after ``command`` (subclasses add their own, e.g. the device)."""
        return tuple(map(str, self.args))


def tracker_command(cfg: TraxConfig, device: str = "cpu") -> tuple[list[str], str | None]:
    """``(argv, cwd)`` that start the tracker; :class:`~harness.errors.ConfigError` naming the option
    when the command, interpreter or checkout is missing (checked when the config is built, so a
    run refuses it before any work, exit status 2)."""
    if not cfg.command:
        raise ConfigError("no tracker command; set method.command=/path/to/tracker_server.py "
                          "(and method.python=/path/to/env/bin/python for a script)")
    cwd = Path(cfg.repo).expanduser() if cfg.repo else None
    if cwd is not None and not cwd.is_dir():
        raise ConfigError(f"repo: {cwd} is not a folder; point method.repo at the tracker's checkout")
    base = cwd or REPO_ROOT
    command = Path(cfg.command).expanduser()
    if not command.is_absolute() and (base / command).exists():
        command = base / command
    if not cfg.python:
        return [str(command), *cfg.command_args(device)], str(cwd) if cwd else None
    python = sys.executable if cfg.python == SELF else str(Path(cfg.python).expanduser())
    if not Path(python).exists():
        raise ConfigError(f"python: {python} does not exist; set method.python to the tracker environment's "
                          "interpreter (e.g. /envs/tracker/bin/python)")
    if not command.exists():
        raise ConfigError(f"command: {command} does not exist (looked under {base}); set method.command")
    return [python, str(command), *cfg.command_args(device)], str(cwd) if cwd else None


class TraxSession(Session):
    """One object of one video in one tracker process."""

    def __init__(self, method: TraxMethod, video: FrameSource) -> None:
        self.method = method
        self.video = video
        self._init: tuple[int, int, Box | np.ndarray] | None = None  # (frame, obj_id, box or mask)
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._tracker = None

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        check_prompt(self.method.capabilities, prompt, self.method.name)
        if self._init is not None:
            raise CapabilityError(f"method '{self.method.name}' tracks one object per session and takes one "
                                  f"prompt (got a second one for object {prompt.obj_id} on frame {prompt.frame} "
                                  f"of '{self.video.name}')")
        if isinstance(prompt, MaskPrompt):
            box = box_of_mask(prompt.mask)
            if box is not None and self.method.capabilities.output is OutputKind.MASK:
                box = np.asarray(prompt.mask, bool)  # the mask itself, sent as a TraX mask region
            if box is None:
                raise ConfigError(f"empty mask prompt for object {prompt.obj_id} on frame {prompt.frame} "
                                  f"of '{self.video.name}': a box tracker needs a non-empty target")
        else:
            assert isinstance(prompt, BoxPrompt)
            box = tuple(float(v) for v in prompt.box)  # type: ignore[assignment]
        self._init = (prompt.frame, prompt.obj_id, box)
        return None

    def _path(self, t: int) -> str:
        """The frame's file: the dataset's JPEG when the source has paths, else a PNG written once."""
        paths = getattr(self.video, "paths", None)
        if paths is not None:
            return str(paths[t])
        import cv2

        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mosebench-trax-")
        path = Path(self._tmp.name) / f"{t:06d}.png"
        if not path.exists():
            cv2.imwrite(str(path), cv2.cvtColor(self.video.frame(t), cv2.COLOR_RGB2BGR))
        return str(path)

    def propagate(self) -> Iterator[FrameResult]:
        if self._init is None:
            raise CapabilityError(f"method '{self.method.name}' needs a prompt before propagate "
                                  f"(video '{self.video.name}')")
        start, oid, target = self._init
        shape = (self.video.height, self.video.width)
        masks = self.method.capabilities.output is OutputKind.MASK
        for t in range(start):  # before the object's prompt: nothing tracked
            if masks:
                yield FrameResult(frame=t, masks={oid: np.zeros(shape, bool)}, processed=False)
            else:
                yield FrameResult(frame=t, boxes={oid: None}, processed=False)
        self._tracker = self.method.start_tracker()
        for t in range(start, len(self.video)):
            path = self._path(t)
            t0 = time.perf_counter()
            if t == start:
                out, reported = self._tracker.initialize(path, target, shape)
                out = target  # the init frame reports the given target, as the in-process trackers do
            else:
                out, reported = self._tracker.frame(path, shape)
            wall = time.perf_counter() - t0
            model_time_s = reported if reported is not None else wall
            props = self._tracker.last_properties
            self.method.stats.add(props, wall, reported, first=t == start)
            if masks != isinstance(out, np.ndarray):
                raise self._tracker.fault(f"frame {Path(path).name}", "a box where a mask is due or the reverse")
            score = self._score(props, path, t == start)
            if masks:
                yield FrameResult(frame=t, masks={oid: out}, scores={oid: score}, model_time_s=model_time_s)
            else:
                thr = self.method.cfg.confidence_threshold
                box = None if thr is not None and t != start and score < thr else out
                yield FrameResult(frame=t, boxes={oid: box}, scores={oid: score}, model_time_s=model_time_s)

    def _score(self, props: Mapping[str, str], path: str, first: bool) -> float:
        """The reply's ``score`` property (1.0 when it has none; a fault when a threshold needs one)."""
        if "score" in props:
            try:
                return float(props["score"])
            except ValueError:
                raise self._tracker.fault(f"frame {Path(path).name}", f"score {props['score']!r} is not a number") from None
        if self.method.cfg.confidence_threshold is not None and not first:
            raise self._tracker.fault(f"frame {Path(path).name}", "method.confidence_threshold is set but the tracker "
                                      "reports no 'score'; unset it (boxes are then reported as they are)")
        return 1.0

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class TraxMethod(Method):
    """A TraX tracker in its own process (see the module docstring)."""

    name: ClassVar[str] = "trax"
    region: ClassVar[str] = "rectangle"  # the TraX region type the tracker must offer
    Config = TraxConfig
    capabilities = Capabilities(
        prompts=frozenset({PromptKind.BOX, PromptKind.MASK}),
        output=OutputKind.BOX,
        multi_object=False,
    )
    requires = {"trax": "pip install vot-trax==4.0.2 (the TraX client library, libtrax)"}

    def __init__(self, cfg: TraxConfig | None = None, device: str = "cpu") -> None:
        super().__init__(cfg or self.Config(), device)
        self.argv, self.cwd = tracker_command(self.cfg, device)
        self.stats = ProcessStats()
        with self.start_tracker() as probe:  # the handshake, before any video
            hs = probe.handshake
        if self.region not in hs.regions or "path" not in hs.images:
            raise ConfigError(f"method '{self.name}': the tracker {' '.join(self.argv)} offers TraX regions "
                              f"{list(hs.regions)} and images {list(hs.images)}; this method kind needs "
                              f"'{self.region}' regions and 'path' images"
                              + (" (a mask tracker: adapter trax-mask)" if "mask" in hs.regions else ""))
        self.tracker_name = hs.name

    def start_tracker(self):
        """A new tracker process past its handshake (:class:`harness.trax_client.TraxTracker`)."""
        from harness.trax_client import TraxTracker

        return TraxTracker(self.argv, cwd=self.cwd, startup_timeout_s=self.cfg.startup_timeout_s,
                           frame_timeout_s=self.cfg.frame_timeout_s, label=f"method '{self.name}'")

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return TraxSession(self, video)

    def take_video_report(self) -> dict:
        """What the tracker processes reported since the last call (the runner calls it before and
        after each video and stores it in the record as ``tracker_process``)."""
        report, self.stats = self.stats.report(), ProcessStats()
        return report


class ProcessStats:
    """Per-video totals of the replies' properties: which model time was used, peak memory, overhead."""

    def __init__(self) -> None:
        self.reported = self.wall_only = self.tracked = 0
        self.overhead_s = 0.0
        self.peaks: dict[str, int] = {}

    def add(self, props: Mapping[str, str], wall: float, reported: float | None, first: bool = False) -> None:
        if reported is None:
            self.wall_only += 1
        else:
            self.reported += 1
            if not first:  # the init round trip also builds the tracker (network, weights): not overhead
                self.overhead_s += max(0.0, wall - reported)
                self.tracked += 1
        for key in ("peak_rss_bytes", "peak_gpu_allocated_bytes", "peak_gpu_reserved_bytes"):
            try:
                self.peaks[key] = max(self.peaks.get(key, 0), int(props[key]))
            except (KeyError, ValueError):
                pass

    def report(self) -> dict:
        n = self.reported + self.wall_only
        source = ("tracker" if not self.wall_only else "client_wall" if not self.reported else "mixed") if n else None
        return {"model_time_source": source, "frames_tracker_time": self.reported,
                "frames_client_wall_time": self.wall_only,
                "trax_overhead_s_per_frame": self.overhead_s / self.tracked if self.tracked else None,
                **{k: self.peaks.get(k) for k in ("peak_rss_bytes", "peak_gpu_allocated_bytes",
                                                  "peak_gpu_reserved_bytes")}}


class TraxMaskMethod(TraxMethod):
    """A TraX tracker with mask regions: mask prompts in, one mask per frame out (VOS settings)."""

    name = "trax-mask"
    region = "mask"
    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK}), output=OutputKind.MASK, multi_object=False)


@dataclass(frozen=True)
class TraxCSRTConfig(TraxConfig):
    command: str = "harness/trax_csrt_server.py"
    python: str = SELF


class TraxCSRT(TraxMethod):
    """OpenCV's CSRT behind TraX (``harness/trax_csrt_server.py``): the built-in example and CI tracker.
    By default it runs in the harness's own interpreter; ``method.python=`` moves it to another env."""

    name = "trax-csrt"
    Config = TraxCSRTConfig

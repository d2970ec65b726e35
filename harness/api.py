"""The common predict interface: prompts, per-frame results, capabilities, methods and sessions.

Every method adapter implements :class:`Method` and :class:`Session`; every evaluation setting talks
to methods only through these types. Everything that crosses the interface is a frozen dataclass.

Conventions (all arrays are numpy):
    * frames are ``(H, W, 3) uint8`` RGB;
    * masks are ``(H, W) bool``;
    * boxes are ``(x, y, w, h)`` floats in pixels, ``x, y`` the top-left corner (pixel-inclusive
      boxes of a mask have ``w = x1 - x0 + 1``);
    * points are ``(x, y)`` floats in pixels;
    * object ids are the stable positive integers of the dataset (the palette value in the PNGs);
      mapping them to a method's internal indices is the adapter's private business.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

Box = tuple[float, float, float, float]
"""``(x, y, w, h)`` in pixels."""


class PromptKind(str, enum.Enum):
    MASK = "mask"
    BOX = "box"
    POINTS = "points"
    SCRIBBLE = "scribble"


class OutputKind(str, enum.Enum):
    MASK = "mask"
    BOX = "box"


@dataclass(frozen=True, eq=False)
class MaskPrompt:
    """The object's full mask on ``frame``. ``mask``: ``(H, W) bool``."""

    frame: int
    obj_id: int
    mask: np.ndarray
    kind: ClassVar[PromptKind] = PromptKind.MASK


@dataclass(frozen=True)
class BoxPrompt:
    """A box around the object on ``frame``: ``(x, y, w, h)`` pixels."""

    frame: int
    obj_id: int
    box: Box
    kind: ClassVar[PromptKind] = PromptKind.BOX


@dataclass(frozen=True)
class PointsPrompt:
    """Clicks on ``frame``: ``points[i] = (x, y)``, ``labels[i]`` 1 = positive, 0 = negative.

    A points prompt for an object replaces nothing: clicks accumulate on that frame, as in SAM2's
    ``add_new_points_or_box(..., clear_old_points=False)``.
    """

    frame: int
    obj_id: int
    points: tuple[tuple[float, float], ...]
    labels: tuple[int, ...]
    kind: ClassVar[PromptKind] = PromptKind.POINTS

    def __post_init__(self) -> None:
        if len(self.points) != len(self.labels) or not self.points:
            raise ValueError("PointsPrompt needs one label per point and at least one point")


@dataclass(frozen=True, eq=False)
class ScribblePrompt:
    """Scribbles on ``frame``: polylines, each ``(N, 2) float`` of ``(x, y)``.

    ``positive`` strokes lie on the object, ``negative`` strokes on what is wrongly taken as it.
    """

    frame: int
    obj_id: int
    positive: tuple[np.ndarray, ...]
    negative: tuple[np.ndarray, ...] = ()
    kind: ClassVar[PromptKind] = PromptKind.SCRIBBLE


Prompt = MaskPrompt | BoxPrompt | PointsPrompt | ScribblePrompt


@dataclass(frozen=True)
class Capabilities:
    """What a method can do, declared on its class and checked before any weights load.

    Attributes:
        prompts: prompt kinds :meth:`Session.add_prompt` accepts.
        output: whether the method produces masks (VOS) or only boxes (VOT trackers).
        multi_object: tracks several objects in one session (else the runner opens one session
            per object).
        add_objects_mid_video: objects may first be prompted on a frame after the first prompted one.
        unprompted: can run with no prompt at all and propose object tracks (unsupervised VOS).
        streaming: causal: the result for frame t depends on frames <= t (and prompts) only. A
            declaration, verified by ``mosebench check-method`` (results up to t must not change
            when later frames do); the runner does not restrict frame access (readers decode
            ahead), so a method that reads ahead must say ``streaming=False``.
        prompt_feedback: :meth:`Session.add_prompt` returns the method's mask on the prompt frame,
            so a click robot can place the next click on what the method got wrong.
        reprompt: prompts may be added after :meth:`Session.propagate` and a new propagate call
            re-predicts the whole video with all prompts so far (interactive VOS).
    """

    prompts: frozenset[PromptKind]
    output: OutputKind = OutputKind.MASK
    multi_object: bool = True
    add_objects_mid_video: bool = True
    unprompted: bool = False
    streaming: bool = True
    prompt_feedback: bool = False
    reprompt: bool = False

    def describe(self) -> str:
        kinds = ",".join(sorted(k.value for k in self.prompts)) or "-"
        flags = [
            name
            for name in ("multi_object", "add_objects_mid_video", "unprompted", "streaming",
                         "prompt_feedback", "reprompt")
            if getattr(self, name)
        ]
        return f"prompts={kinds} output={self.output.value} " + " ".join(flags)


@dataclass(frozen=True, eq=False)
class FrameResult:
    """One frame of a method's output.

    Attributes:
        frame: index into the video's frame list (0-based, every frame, annotated or not).
        masks: ``obj_id -> (H, W) bool``; for mask-output methods one entry per tracked object
            (an all-False mask when the object is judged absent).
        boxes: ``obj_id -> (x, y, w, h)`` or ``None`` when absent; box-output methods fill only
            this, mask-output methods may leave it empty (boxes are then derived from masks).
        scores: ``obj_id -> confidence`` in [0, 1] where the method has one (e.g. SAM2's object
            score after sigmoid); may be empty.
        model_time_s: wall time of the model's work for this frame, device-synchronised
            (:class:`harness.timing.ModelTimer`), without frame decoding or mask writing. Model
            work done before the frame's own step (prompt encoding, a preflight, proposals) goes
            into the first frame processed after it.
        processed: whether the model processed this frame; ``False`` for placeholders yielded
            without model work (e.g. frames before any object's first prompt). FPS counts only
            processed frames (``docs/metrics.md``, "Speed and memory").
    """

    frame: int
    masks: Mapping[int, np.ndarray] = field(default_factory=dict)
    boxes: Mapping[int, Box | None] = field(default_factory=dict)
    scores: Mapping[int, float] = field(default_factory=dict)
    model_time_s: float = 0.0
    processed: bool = True


@runtime_checkable
class FrameSource(Protocol):
    """The frames of one video, without ground truth (what a method may see).

    ``frame(i)`` returns ``(H, W, 3) uint8`` RGB. ``stream`` yields ``(i, frame)`` in order,
    decoding a few frames ahead on a background thread; it never holds the whole video.
    """

    name: str
    frame_names: Sequence[str]
    height: int
    width: int

    def __len__(self) -> int: ...

    def frame(self, index: int) -> np.ndarray: ...

    def stream(self, start: int = 0, stop: int | None = None, reverse: bool = False) -> Iterator[tuple[int, np.ndarray]]: ...


class Session(ABC):
    """One video's worth of state. Open with :meth:`Method.open_session`; use as a context manager."""

    @abstractmethod
    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        """Add a prompt. Methods with ``prompt_feedback`` return ``obj_id -> (H, W) bool`` on the
        prompt's frame after taking the prompt into account; others return ``None``.

        Raises :class:`harness.errors.CapabilityError` for a prompt kind the method does not accept.
        """

    @abstractmethod
    def propagate(self) -> Iterator[FrameResult]:
        """Yield one :class:`FrameResult` per frame of the video, in frame order.

        With no prompt added, methods with ``unprompted`` propose up to ``max_objects`` object
        tracks (ids 1..K). With ``reprompt``, calling this again after more prompts re-predicts
        the whole video.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release per-video memory (GPU tensors, caches)."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Method(ABC):
    """A VOS/VOT method behind the common interface.

    Subclasses set ``capabilities`` (checked before weights load), optionally ``Config`` (a
    dataclass schema for the method's own sub-config) and ``requires`` (modules that must import,
    each with an install hint), and implement :meth:`open_session`.

    ``__init__(cfg, device)`` receives only this method's sub-config and loads weights.
    """

    capabilities: ClassVar[Capabilities]
    Config: ClassVar[type | None] = None
    deterministic: ClassVar[bool] = True
    """Same video, prompts and options give the same results (checked by ``mosebench check-method``);
    ``False`` for methods with unseeded randomness (e.g. OpenCV's MIL)."""
    requires: ClassVar[Mapping[str, str]] = {}
    """module name -> install hint, e.g. ``{"sam2": "SAM2_BUILD_CUDA=0 pip install --no-build-isolation sam2==1.1.0"}``."""
    install: ClassVar[str] = ""
    """What the user supplies beyond importable packages (a source checkout, a checkpoint) and how to
    get it; shown by ``mosebench methods`` (``requires`` cannot check a path given per run)."""

    def __init__(self, cfg: Any = None, device: str = "cpu") -> None:
        self.cfg = cfg
        self.device = device

    @abstractmethod
    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        """Start a fresh session on ``video``. ``max_objects`` caps unprompted proposals."""

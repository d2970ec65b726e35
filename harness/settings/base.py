"""The Setting interface shared by every evaluation protocol."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from harness.api import Capabilities, FrameResult, OutputKind, PromptKind

if TYPE_CHECKING:
    from harness.api import Method
    from harness.data.video import Video
    from harness.timing import ModelWork


@dataclass(frozen=True)
class Requirements:
    """What a method must declare to run a setting.

    ``prompt_kinds``: the method must accept at least one of these (empty: prompts are not needed).
    """

    prompt_kinds: frozenset[PromptKind] = frozenset()
    unprompted: bool = False
    reprompt: bool = False
    output: frozenset[OutputKind] = frozenset({OutputKind.MASK})

    def unmet(self, caps: Capabilities) -> str | None:
        """Why a method with ``caps`` cannot run this setting, or ``None`` if it can."""
        if self.prompt_kinds and not (self.prompt_kinds & caps.prompts):
            want = "/".join(sorted(k.value for k in self.prompt_kinds))
            return f"needs a method that accepts {want} prompts"
        if self.unprompted and not caps.unprompted:
            return "needs a method that proposes objects without prompts (capabilities.unprompted)"
        if self.reprompt and not caps.reprompt:
            return "needs a method that re-predicts after new prompts (capabilities.reprompt)"
        if caps.output not in self.output:
            return f"needs {'/'.join(sorted(o.value for o in self.output))} output, the method gives {caps.output.value}"
        return None


class Details(Protocol):
    """A setting's typed per-video result for scoring (one class per scoring kind:
    :class:`harness.metrics.vot.VOTVideo`, :class:`harness.metrics.interactive.InteractiveVideo`,
    :class:`harness.metrics.unsupervised.ProposalsVideo`), stored as JSON in the video's record."""

    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SettingOutcome:
    """What a setting reports about one video besides the frames it emitted.

    ``prompts``: JSON-serialisable description of every prompt given (saved with the run so prompt
    generation can be audited and replayed). ``sessions``: the object ids of each session opened.
    ``details``: the typed per-video result the setting's scoring kind reads (``None`` for ``vos``,
    which scores the emitted label maps). ``work``: the model's work on the video when it is not
    that of the emitted frames (interactive: every round); ``None``: the emitted frames'
    ``model_time_s`` / ``processed`` are the model's work.
    """

    prompts: tuple[Mapping[str, Any], ...] = ()
    sessions: tuple[tuple[int, ...], ...] = ()
    details: Details | None = None
    work: ModelWork | None = None

    def record_fields(self) -> dict[str, Any]:
        """The JSON fields of this outcome in the video's record."""
        return {"prompts": list(self.prompts), "sessions": [list(g) for g in self.sessions],
                "details": None if self.details is None else self.details.to_json()}


Emit = Callable[[FrameResult], None]
"""Receives each final frame result, in frame order; the runner writes it to disk."""


class Setting(ABC):
    """An evaluation protocol. Subclasses set ``name``, ``requirements`` and ``metrics``."""

    name: ClassVar[str]
    requirements: ClassVar[Requirements]
    metrics: ClassVar[tuple[str, ...]]
    """Metric names this setting reports (as logged to MLflow)."""
    scoring: ClassVar[str] = "vos"
    """How the runner scores a cell of this setting:

    * ``"vos"``: the metrics engine on the emitted label maps (mask, box, point settings);
    * ``"unsupervised"``: :func:`harness.metrics.unsupervised.score_unsupervised` per video (proposal
      matching), its rows aggregated like the metrics engine's object table;
    * ``"interactive"``: :func:`harness.metrics.interactive.summarize` over the videos'
      :class:`~harness.metrics.interactive.InteractiveVideo` details with the setting's
      ``cfg.summary_options`` (AUC, J&F@60s, final J&F);
    * ``"vot"``: :func:`harness.metrics.vot.score_vot` over the videos'
      :class:`~harness.metrics.vot.VOTVideo` details with the setting's ``cfg.convention``.

    Any other value is an error when the cell is scored (``harness.runner.scoring.SCORING_KINDS``).
    """
    Config: ClassVar[type | None] = None
    """Optional frozen dataclass of this setting's own options (e.g. the interactive time budget);
    ``None`` when the setting has none. The runner builds it from the config's setting section."""

    def __init__(self, cfg: Any = None) -> None:
        # No seed: every setting's prompts (masks, boxes, clicks, robot scribbles) are deterministic
        # functions of the ground truth and the method's outputs, so there is nothing to sample.
        if cfg is None and self.Config is not None:
            cfg = self.Config()
        self.cfg = cfg

    def unsupported_reason(self, caps: Capabilities) -> str | None:
        return self.requirements.unmet(caps)

    @abstractmethod
    def run(self, method: Method, video: Video, emit: Emit) -> SettingOutcome:
        """Prompt ``method`` on ``video`` (which carries ground truth), drive its session(s) and call
        ``emit`` once per frame, in order, with the final prediction."""

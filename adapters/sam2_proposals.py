"""Unprompted SAM2: object proposals on the first frame from a grid of single clicks.

Each click of a ``g x g`` grid is decoded as its own object (the backbone runs once; each click
costs one prompt-encoder + mask-decoder pass), masks are ranked by SAM2's object score and greedily
de-duplicated by mask IoU (non-maximum suppression on masks). ``sam2.automatic_mask_generator`` is
not used: it imports torchvision, which the CPU build here cannot load.

The model work goes through :meth:`ClickScorer.score_clicks` (implemented by
:class:`adapters.sam2_vos.SAM2Session`); this module only places clicks and selects masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from harness.api import MaskPrompt

if TYPE_CHECKING:
    from harness.api import FrameSource


class ProposalOptions(Protocol):
    """The proposal options of :class:`adapters.sam2_vos.SAM2Config`."""

    proposal_grid: int
    proposal_iou: float
    proposal_min_area: float


class ClickScorer(Protocol):
    """What :func:`propose` needs from a session: its video, its options and one model call."""

    video: FrameSource
    cfg: ProposalOptions

    def score_clicks(self, frame: int, points: Sequence[tuple[float, float]]) -> list[tuple[float, np.ndarray]]:
        """``(object score in [0, 1], (H, W) bool mask)`` per single positive click ``(x, y)``,
        each decoded as its own object without touching the session's prompts."""
        ...


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def propose(session: ClickScorer, max_objects: int, frame: int = 0) -> list[MaskPrompt]:
    """Up to ``max_objects`` de-duplicated first-frame masks as prompts for ids ``1..K``."""
    cfg = session.cfg
    h, w = session.video.height, session.video.width
    g = max(1, cfg.proposal_grid)
    xs = (np.arange(g) + 0.5) * w / g
    ys = (np.arange(g) + 0.5) * h / g
    clicks = [(float(x), float(y)) for y in ys for x in xs]
    candidates = [(score, mask) for score, mask in session.score_clicks(frame, clicks)
                  if cfg.proposal_min_area * h * w <= mask.sum() < 0.95 * h * w]
    candidates.sort(key=lambda c: -c[0])
    kept: list[np.ndarray] = []
    for _, mask in candidates:
        if all(_iou(mask, m) < cfg.proposal_iou for m in kept):
            kept.append(mask)
        if len(kept) >= max_objects:
            break
    return [MaskPrompt(frame=frame, obj_id=i + 1, mask=m) for i, m in enumerate(kept)]

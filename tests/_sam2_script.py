"""A deterministic test hook on SAM2's mask decoder, installed identically on an original
repository's predictor (by the golden shims, see tests/golden/rcms/README.md) and on ours.

Random weights leave the variants' mechanisms dead (masks empty or full, object scores nearly
constant). :class:`DecoderScript` adds scripted per-frame offsets to the decoder's outputs so that
objects vanish, masks become confident or IoU predictions drop on chosen frames, and records
what the decoder returned (after the offsets) and how many conditioning memories each tracking
step saw, so two implementations can be compared call for call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Offsets:
    """Added to the decoder's object-score logits, mask logits and predicted IoUs.

    ``regions``: ``(candidate, y0, y1, x0, x1, value)``: ``value`` added to the mask logits of one
    candidate (of the ``M`` the decoder returns; skipped when it returns fewer) inside a box given
    in fractions of the mask side (rows ``round(y0 * h):round(y1 * h)``, likewise columns), so a
    scripted frame can hold a confident region and distractor-like alternatives.
    ``cand_iou``: per-candidate predicted-IoU offsets (on top of ``iou``).
    """

    score: float = 0.0
    mask: float = 0.0
    iou: float = 0.0
    #: per candidate mask k: a low-res box ``(x0, y0, x1, y1)`` (end-exclusive) whose logits get
    #: ``+region_gain`` and the rest ``-region_gain`` (None: unchanged), e.g. candidates that
    #: jump apart; and per candidate predicted-IoU offsets added to ``iou`` (a fixed ranking)
    regions: tuple[tuple[int, int, int, int] | None, ...] = ()
    iou_per: tuple[float, ...] = ()
    region_gain: float = 4.0
    #: additive blobs ``(candidate, y0, y1, x0, x1, value)`` in fractions of the low-res mask (DAM4SAM's
    #: script: a target and a distractor), and per-candidate IoU offsets applied after them
    blobs: tuple[tuple[int, float, float, float, float, float], ...] = ()
    cand_iou: tuple[float, ...] = ()


@dataclass
class DecoderScript:
    """``script``: frame -> offsets (frames absent: unchanged). ``records``: one per decoder call,
    in call order: ``(frame, conditioning frames in memory, object-score logits (B, 1),
    mask logits (B, M, S/4, S/4), predicted IoUs (B, M))``, float32 numpy copies."""

    script: Mapping[int, Offsets]
    record: bool = True  # False: apply the offsets only (long benchmark runs keep no records)
    frame: int = -1
    records: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    def install(self, predictor: Any) -> DecoderScript:
        """Wrap ``predictor.track_step`` (to learn the frame) and hook its mask decoder."""
        track_step = predictor.track_step
        script = self

        def scripted_track_step(*args: Any, **kwargs: Any):
            script.frame = int(kwargs["frame_idx"])  # sam2 passes every argument by keyword
            script.cond = len(kwargs["output_dict"]["cond_frame_outputs"])
            return track_step(*args, **kwargs)

        predictor.track_step = scripted_track_step
        predictor.sam_mask_decoder.register_forward_hook(self._hook)
        return self

    def _hook(self, module: Any, inputs: Any, output: tuple) -> tuple:
        masks, ious, tokens, scores = output
        off = self.script.get(self.frame, Offsets())
        masks, ious, scores = masks + off.mask, ious + off.iou, scores + off.score
        if off.regions or off.iou_per:
            masks, ious = self._per_candidate(off, masks, ious)
        if off.blobs:
            h, w = masks.shape[-2:]
            for c, y0, y1, x0, x1, value in off.blobs:
                if c < masks.shape[1]:
                    masks[:, c, round(y0 * h):round(y1 * h), round(x0 * w):round(x1 * w)] += value
        if off.cand_iou:
            m = min(len(off.cand_iou), ious.shape[1])
            ious[:, :m] += ious.new_tensor(off.cand_iou[:m])
        if self.record:
            self.records.append((self.frame, getattr(self, "cond", 0), scores.detach().float().cpu().numpy().copy(),
                                 masks.detach().float().cpu().numpy().copy(),
                                 ious.detach().float().cpu().numpy().copy()))
        return masks, ious, tokens, scores

    @staticmethod
    def _per_candidate(off: Offsets, masks: Any, ious: Any) -> tuple[Any, Any]:
        masks, ious = masks.clone(), ious.clone()
        for k, box in enumerate(off.regions[: masks.shape[1]]):
            if box is not None:
                x0, y0, x1, y1 = box
                sign = -masks.new_ones(masks.shape[-2:])
                sign[y0:y1, x0:x1] = 1.0
                masks[:, k] += off.region_gain * sign
        for k, d in enumerate(off.iou_per[: ious.shape[1]]):
            ious[:, k] += d
        return masks, ious

    def save(self, path: str) -> None:
        """All records as one ``.npz`` (``frames``, ``cond``, then ``scores_i``/``masks_i``/``ious_i``)."""
        arrays: dict[str, np.ndarray] = {"frames": np.array([r[0] for r in self.records]),
                                         "cond": np.array([r[1] for r in self.records])}
        for i, (_, _, s, m, u) in enumerate(self.records):
            arrays[f"scores_{i}"], arrays[f"masks_{i}"], arrays[f"ious_{i}"] = s, m, u
        np.savez_compressed(path, **arrays)


# The script of tests/golden/rcms: confident frames 1-6 except a low-IoU frame 3, every object
# gone on frames 7-9 (RCMS promotes, per object, the latest 4 qualifying frames 6, 5, 4, 2: never
# 3, and 1 is past the cap of 4; never frame 0), confident again afterwards.
RCMS_GOLDEN_SCRIPT: dict[int, Offsets] = {
    **{t: Offsets(score=6.0, mask=6.0, iou=2.0) for t in (1, 2, 4, 5, 6, 10, 11)},
    3: Offsets(score=6.0, mask=6.0, iou=-5.0),
    **{t: Offsets(score=-12.0) for t in (7, 8, 9)},
}


# The script of tests/golden/samurai (28 frames, 64 px model input: 16 x 16 low-res masks). Every
# object is present (object score +6) in a fixed region A; candidate 0 always has the highest
# predicted IoU (+0.2, candidate 2 +0.15). Frames 2-4 and 16-18 have a high predicted IoU (memory frames: SAMURAI's
# memory then reaches behind SAM2's window of 6), the others a lower one that keeps tracking stable;
# frame 8's object score is just below 0 (present for SAMURAI's -1 threshold, not SAM2's 0); on
# frames 16-23, candidates 0 and 1 jump to region B (after 15 stable frames the Kalman filter
# keeps candidate 2, in A, instead of the top-IoU one); frame 24's low IoU resets the filter.
SAMURAI_REGION_A, SAMURAI_REGION_B = (5, 4, 9, 8), (11, 10, 15, 14)


def _samurai_offsets(t: int) -> Offsets:
    a, b = SAMURAI_REGION_A, SAMURAI_REGION_B
    return Offsets(score=-0.7 if t == 8 else 6.0,
                   iou=0.3 if t in (2, 3, 4, 16, 17, 18) else -0.5 if t == 24 else -0.25,
                   regions=(b, b, a) if 16 <= t <= 23 else (a, a, a), iou_per=(0.2, 0.0, 0.15))


SAMURAI_GOLDEN_SCRIPT: dict[int, Offsets] = {t: _samurai_offsets(t) for t in range(1, 28)}


def _dam4sam_frame(t: int, *, distractor: bool = True, iou: float = 4.0, big: bool = False) -> Offsets:
    """A confident square moving right (candidates 0 and 1, all logits -20 elsewhere), a distractor
    blob below it on candidate 1 only, candidate 0 the argmax IoU (``iou`` above the others)."""
    x0 = 0.05 + 0.02 * t
    y1, x1 = (0.8, x0 + 0.6) if big else (0.5, x0 + 0.3)
    region = ((0, 0.2, y1, x0, x1, 40.0), (1, 0.2, y1, x0, x1, 40.0))
    blob = ((1, 0.7, 0.95, 0.6, 0.9, 40.0),) if distractor else ()
    return Offsets(score=10.0, mask=-20.0, blobs=region + blob, cand_iou=(iou, 0.0, 0.0))


# The script of tests/golden/dam4sam (frames 0-27; an object prompted on frame s adds its first DRM
# frame on s + 2, its first tracked frame having no area history): a distractor on every frame
# except 14; frame 15 and 18 the object is gone; frame 16 the best predicted IoU is far below 0.8;
# frame 17 the object doubles in size. An object prompted on frame 0 adds frames 2, 8, 19, 25 (14:
# no distractor, 15/18: absent, 16: low IoU, 17: area ratio; 9-13: within 5 frames of 8).
DAM4SAM_GOLDEN_SCRIPT: dict[int, Offsets] = {
    **{t: _dam4sam_frame(t) for t in range(1, 28)},
    14: _dam4sam_frame(14, distractor=False),
    15: Offsets(score=-12.0, mask=-20.0),
    16: _dam4sam_frame(16, iou=-8.0),
    17: _dam4sam_frame(17, big=True),
    18: Offsets(score=-12.0, mask=-20.0),
}


# The script of tests/golden/sam2long (frames 0-27, 64 px model input: 16 x 16 low-res masks). The three
# candidates hold different regions (A, B, C) and predicted IoUs (candidate 0 best, then 2, then 1; from
# frame 19 on candidate 1 best), so pathways that keep different candidates hold different memories.
# Object scores: +6 (certain: the best scores are kept) on frames 1, 7-9, 19-27; unchanged (about 0.2:
# uncertain, distinct masks kept) on 2-6 and 12-18; -6 (absent: certain, no memory) on 10-11; frames
# 12-13 have every predicted IoU below SAM2Long's 0.1 memory threshold (kept out of memory).
SAM2LONG_REGIONS = ((5, 4, 9, 8), (11, 10, 15, 14), (2, 9, 6, 13))


def _sam2long_offsets(t: int) -> Offsets:
    score = 6.0 if t == 1 or 7 <= t <= 9 or t >= 19 else -6.0 if t in (10, 11) else 0.0
    iou = -0.45 if t in (12, 13) else 0.3 if t == 1 else 0.0
    per = (0.0, 0.2, 0.1) if t >= 19 else (0.2, 0.0, 0.1)
    return Offsets(score=score, iou=iou, regions=SAM2LONG_REGIONS, iou_per=per, region_gain=5.0)


SAM2LONG_GOLDEN_SCRIPT: dict[int, Offsets] = {t: _sam2long_offsets(t) for t in range(1, 28)}

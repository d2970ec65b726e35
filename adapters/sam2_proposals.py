"""Unprompted SAM2: object proposals on the first frame from a grid of single clicks.

Each click of a ``g x g`` grid is decoded as its own object in a scratch state (the backbone
runs once; each click costs one prompt-encoder + mask-decoder pass), masks are ranked by SAM2's
object score and greedily de-duplicated by mask IoU (non-maximum suppression on masks).
``sam2.automatic_mask_generator`` is not used: it imports torchvision, which the CPU build here
cannot load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from harness.api import MaskPrompt

if TYPE_CHECKING:
    from adapters.sam2_vos import SAM2Session


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def propose(session: SAM2Session, max_objects: int, frame: int = 0) -> list[MaskPrompt]:
    """Up to ``max_objects`` de-duplicated first-frame masks as prompts for ids ``1..K``."""
    import torch

    from adapters.sam2_frames import new_inference_state

    cfg, p, video = session.cfg, session.predictor, session.video
    h, w = video.height, video.width
    g = max(1, cfg.proposal_grid)
    xs = (np.arange(g) + 0.5) * w / g
    ys = (np.arange(g) + 0.5) * h / g
    scratch = new_inference_state(session.images, h, w, session.method.device, cfg.offload_state_to_cpu)
    candidates: list[tuple[float, np.ndarray]] = []
    with session.method.inference():
        for k, (y, x) in enumerate((y, x) for y in ys for x in xs):
            p.add_new_points_or_box(scratch, frame, k, points=np.array([[x, y]], np.float32),
                                    labels=np.array([1], np.int32))
        temp = scratch["temp_output_dict_per_obj"]
        for k in range(len(temp)):
            out = temp[k]["cond_frame_outputs"][frame]
            logits = torch.nn.functional.interpolate(out["pred_masks"].float(), size=(h, w),
                                                     mode="bilinear", align_corners=False)
            mask = (logits[0, 0] > cfg.score_thresh).cpu().numpy()
            score = float(torch.sigmoid(out["object_score_logits"].float()).item())
            if mask.sum() >= cfg.proposal_min_area * h * w and mask.sum() < 0.95 * h * w:
                candidates.append((score, mask))
    candidates.sort(key=lambda c: -c[0])
    kept: list[np.ndarray] = []
    for _, mask in candidates:
        if all(_iou(mask, m) < cfg.proposal_iou for m in kept):
            kept.append(mask)
        if len(kept) >= max_objects:
            break
    return [MaskPrompt(frame=frame, obj_id=i + 1, mask=m) for i, m in enumerate(kept)]

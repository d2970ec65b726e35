"""RCMS: Reliable Conditioned Memory Selection, the MOSEv2 baseline (henghuiding/MOSE-api,
``MOSEv2/sam2_rcms``), as a variant of the SAM2 family on the official ``sam2`` 1.1.0 package.

What RCMS changes in SAM2 (read from its fork of sam2 1.1.0 at MOSE-api commit ``241977ae``):

* every tracked frame gets a quality score ``sigmoid(object score) x max predicted IoU x mean
  sigmoid of the positive mask logits`` (NaN when no logit is positive, which never qualifies);
* the first time an object disappears (object-score logit ``<= 0`` on a frame it is tracked on),
  up to ``num_prev_frames_to_promote`` earlier non-conditioning frames whose quality exceeds
  ``low_quality_threshold``, walking back from the previous frame and never reaching frame 0, are
  promoted to conditioning memory (attended to for the rest of the video);
* its model configs set the memory encoder's mask sigmoid scale / bias to 7.5 / -4.0 (they go
  with its fine-tuned checkpoints) and, for b+, the temporal stride of memory to 1 (the default).

Defaults are those of its VOS entry point (``tools/vos_inference_ddp.py``) and README command:
``--num_prev_frames_to_promote 4 --low_quality_threshold 0.6``. The fork's yaml / build function
say 5 and its class default says 3; the entry point passes its own value, which wins.

Differences from the original, none of which changes a mask (``tests/test_methods_sam2_rcms.py``
compares with its entry point's output bit for bit): the "disappearance handled" flag lives in a
per-(video, object) state owned by the session instead of the inference-state dict; memory
pruning keeps, besides SAM2's window, the latest qualifying frames a disappearance may still
promote; the per-frame quality is computed here instead of inside the forked predictor.
Only b+ and l exist: those are the sizes RCMS publishes checkpoints for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from adapters.sam2_family import SAM2Hooks
from adapters.sam2_vos import SAM2, SAM2Config
from harness.options import option

RCMS_URL = "https://huggingface.co/FudanCVL/MOSEv2_baseline"
RCMS_SIZES: dict[str, tuple[str, str]] = {  # size -> (sam2 1.1.0 config, RCMS checkpoint file name)
    "b+": ("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_b+_MOSEv2_mss_lvt16.pt"),
    "l": ("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_l_MOSEv2_mss_lvt16.pt"),
}


@dataclass
class RCMSObject:
    """Per-(video, object) RCMS state: when it first disappeared and which frames were promoted."""

    disappeared_at: int | None = None
    promoted: list[int] = field(default_factory=list)


class RCMSPredictor(SAM2Hooks):
    """SAM2's video predictor with RCMS's per-frame quality and conditioning-memory promotion."""

    def __init__(self, num_prev_frames_to_promote: int = 4, low_quality_threshold: float = 0.6,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_prev_frames_to_promote = int(num_prev_frames_to_promote)
        self.low_quality_threshold = float(low_quality_threshold)
        # predicted IoUs of the step in progress: written by _track_step and consumed by the
        # _run_single_frame_inference call around it (call scratch, not per-object state)
        self._step_ious = None

    def new_object_state(self) -> RCMSObject:
        return RCMSObject()

    def _track_step(self, *args: Any, **kwargs: Any):
        current_out, sam_outputs, high_res_features, pix_feat = super()._track_step(*args, **kwargs)
        self._step_ious = sam_outputs[2]  # (1, M) predicted IoUs, discarded by sam2's track_step
        return current_out, sam_outputs, high_res_features, pix_feat

    def _run_single_frame_inference(self, *args: Any, **kwargs: Any):
        out, masks = super()._run_single_frame_inference(*args, **kwargs)
        ious, self._step_ious = self._step_ious, None
        logits = out["pred_masks"]  # (1, 1, S/4, S/4) as stored in memory
        positive = logits > 0.0
        mask_quality = logits.sigmoid()[positive].sum() / positive.sum()
        out["quality"] = (out["object_score_logits"].sigmoid().item() * ious.max().item()
                          * mask_quality.item())
        return out, masks

    def track_frame(self, state: dict, obj_idx: int, obj_state: RCMSObject, frame: int):
        import torch

        out, masks = super().track_frame(state, obj_idx, obj_state, frame)
        if obj_state.disappeared_at is None and torch.max(out["object_score_logits"]) <= 0:
            obj_state.disappeared_at = frame
            out_dict = state["output_dict_per_obj"][obj_idx]
            non_cond, cond = out_dict["non_cond_frame_outputs"], out_dict["cond_frame_outputs"]
            for prev in range(frame - 1, 0, -1):  # back from t-1, never frame 0
                if len(obj_state.promoted) >= self.num_prev_frames_to_promote:
                    break
                if prev in non_cond and non_cond[prev]["quality"] > self.low_quality_threshold:
                    cond[prev] = non_cond.pop(prev)  # insertion order = memory order, as upstream
                    obj_state.promoted.append(prev)
        return out, masks

    def selectable_frames(self, state: dict, obj_idx: int, obj_state: RCMSObject, next_frame: int) -> set[int]:
        keep = super().selectable_frames(state, obj_idx, obj_state, next_frame)
        if obj_state.disappeared_at is None:  # a first disappearance may still promote these
            non_cond = state["output_dict_per_obj"][obj_idx]["non_cond_frame_outputs"]
            good = [t for t in sorted(non_cond, reverse=True)
                    if t >= 1 and non_cond[t]["quality"] > self.low_quality_threshold]
            keep.update(good[: self.num_prev_frames_to_promote])
        return keep


@dataclass(frozen=True)
class RCMSConfig(SAM2Config):
    """Options of the ``rcms`` methods (``configs/method/rcms*.yaml``): SAM2's plus
    num_prev_frames_to_promote / low_quality_threshold (the entry point's flags)."""

    num_prev_frames_to_promote: int = option(4, ge=0)
    low_quality_threshold: float = 0.6

    family: ClassVar[str] = "rcms"
    variant: ClassVar[str] = "adapters.sam2_rcms.RCMSPredictor"
    sizes: ClassVar[dict[str, tuple[str, str]]] = RCMS_SIZES
    checkpoints_url: ClassVar[str] = RCMS_URL

    def model_overrides(self) -> list[str]:
        stride = ["++model.memory_temporal_stride_for_eval=1"] if self.size == "b+" else []
        return ["++model.sigmoid_scale_for_mem_enc=7.5", "++model.sigmoid_bias_for_mem_enc=-4.0", *stride,
                f"++model.num_prev_frames_to_promote={self.num_prev_frames_to_promote}",
                f"++model.low_quality_threshold={self.low_quality_threshold}"]


@dataclass(frozen=True)
class RCMSLargeConfig(RCMSConfig):
    size: str = "l"


class RCMS(SAM2):
    """SAM2.1 with RCMS (default size b+; ``rcms-b+`` / ``rcms-l`` fix the size)."""

    name: ClassVar[str] = "rcms"
    Config = RCMSConfig


class RCMSBasePlus(RCMS):
    default_size = "b+"


class RCMSLarge(RCMS):
    default_size = "l"
    Config = RCMSLargeConfig

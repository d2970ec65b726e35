"""SAMURAI: motion-aware memory for SAM 2 (Yang et al. 2024, yangchris11/samurai, Apache-2.0) as a
variant of the SAM2 family on the official ``sam2`` 1.1.0 package.

What SAMURAI changes in SAM2 (read from its fork of sam2 at samurai commit ``76ba1959``; its
model configs ``configs/samurai/sam2.1_hiera_{t,s,b+,l}.yaml`` are sam2.1's plus these values):

* an object counts as present when its object-score logit is ``> min_obj_score_logits`` (-1, not 0);
* a constant-velocity Kalman filter per object on its box ``(cx, cy, w/h, h)`` and their
  velocities (position / velocity noise weights 1/20 and 1/160 of the height), boxes being those of
  ``mask > 0`` at the model's input resolution;
* the mask among SAM's 3 candidates: while fewer than ``stable_frames_threshold`` (15) stable frames,
  the highest predicted IoU (the filter is started on the first tracked frame and updated when
  that IoU is ``> stable_ious_threshold`` (0.3), otherwise the stable count resets to 0); afterwards
  ``argmax w * IoU(filter's box, candidate's box) + (1 - w) * predicted IoU`` with
  ``w = kf_score_weight`` (0.25 for t/s/b+, 0.15 for l), the filter updated with the chosen box
  unless its predicted IoU is ``< 0.3`` (then the stable count resets);
* memory: instead of the last 6 frames, the last ``num_maskmem - 1`` (6) of the frames from 2 on
  whose chosen mask had predicted IoU ``> 0.5``, object score ``> 0`` and (when the filter chose it)
  filter IoU ``> 0`` (its scan stops after 15 of them, of which only the last 6 are used), plus
  ``t - 1``; object pointers are SAM2's (the last 15 frames).

Its VOS entry point is the fork's ``sam2/tools/vos_inference.py`` with
``configs/samurai/sam2.1_hiera_l.yaml --per_obj_png_file --track_object_appearing_later_in_video``
(``sam2/tools/README.md``, "SAMURAI VOS inference"): one object at a time, as here.
``scripts/main_inference.py`` and ``scripts/demo.py`` are its box-prompted VOT scripts.

Differences from the original (``tests/test_methods_sam2_samurai.py`` checks masks equal to its
entry point's and decoder outputs within 1e-5 with the filter overriding SAM's choice):

* the filter, its stable count and the qualifying frames are per-(video, object) state owned by the
  session. Upstream keeps one filter on the model, so it carries over from one object to the next
  and from one video to the next (processing order changes its results); its batched mode with
  several objects fails (the filter reads object 0 only). Each object here starts fresh;
* upstream raises a KeyError for an object first annotated on frame 2 or later, and for a
  conditioning frame inside the scanned range (``use_all_masks``); here the scan skips frames the
  object has no tracked output for;
* the filter sees tracked frames only: a single-click prompt decoded with 3 candidates does not
  start it (upstream's model-wide filter is fed by any multimask decoding, prompts included);
* the fork is built on sam2 c2ec8e1 (its batched predictor ships in 1.1.0 as
  ``sam2.sam2_video_predictor_legacy``); it runs here on 1.1.0's per-object predictor, logits equal
  to float noise; the filter's update solves with numpy instead of scipy's Cholesky (1e-16);
* memory pruning keeps, besides SAM2's window (object pointers), the qualifying frames that may
  still be selected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from adapters.sam2_family import SAM2Hooks
from adapters.sam2_vos import SAM2, SAM2Config
from harness.options import option

KF_SCORE_WEIGHT = {"t": 0.25, "s": 0.25, "b+": 0.25, "l": 0.15}  # its configs/samurai/*.yaml
STD_POSITION, STD_VELOCITY = 1.0 / 20, 1.0 / 160


@dataclass
class SAMURAIObject:
    """Per-(video, object) SAMURAI state: the Kalman filter (8-d mean ``(cx, cy, a, h)`` + velocities,
    ``8x8`` covariance), the stable-frame count, the qualifying memory frames (ascending, at most
    15) and counters of what the mechanism did."""

    mean: np.ndarray | None = None
    cov: np.ndarray | None = None
    stable_frames: int = 0
    memory: list[int] = field(default_factory=list)
    kf_frames: int = 0  # frames whose candidate the filter-weighted score chose
    kf_overrides: int = 0  # ... where that was not the highest predicted IoU
    resets: int = 0  # stable count reset to 0 by a low predicted IoU
    memory_beyond_window: int = 0  # tracked frames reading a memory frame SAM2's window would not


# -- the Kalman filter (constant velocity, noise relative to the box height) --------------------
def _motion_noise(h: float, scale_pos: float, scale_vel: float) -> np.ndarray:
    std = [scale_pos * STD_POSITION * h, scale_pos * STD_POSITION * h, 1e-2, scale_pos * STD_POSITION * h,
           scale_vel * STD_VELOCITY * h, scale_vel * STD_VELOCITY * h, 1e-5, scale_vel * STD_VELOCITY * h]
    return np.diag(np.square(std))


def kf_start(z: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance from a first measurement ``z = (cx, cy, a, h)`` (zero velocity)."""
    return np.r_[np.asarray(z, float), np.zeros(4)], _motion_noise(z[3], 2.0, 10.0)


def kf_predict(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    motion = np.eye(8)
    motion[:4, 4:] = np.eye(4)
    return motion @ mean, motion @ cov @ motion.T + _motion_noise(mean[3], 1.0, 1.0)


def kf_update(mean: np.ndarray, cov: np.ndarray, z: list[float]) -> tuple[np.ndarray, np.ndarray]:
    h = mean[3]
    innovation_cov = cov[:4, :4] + np.diag(np.square([STD_POSITION * h, STD_POSITION * h, 1e-1, STD_POSITION * h]))
    gain = np.linalg.solve(innovation_cov, cov[:4, :]).T  # (8, 4) = P H^T S^-1 (P, S symmetric)
    return mean + gain @ (np.asarray(z, float) - mean[:4]), cov - gain @ innovation_cov @ gain.T


def box_of(mask) -> list[int]:
    """``[x0, y0, x1, y1]`` of ``mask > 0`` (inclusive max pixel, as upstream), ``[0, 0, 0, 0]`` if empty."""
    import torch

    yx = torch.argwhere(mask > 0.0)
    if len(yx) == 0:
        return [0, 0, 0, 0]
    (y0, x0), (y1, x1) = yx.min(dim=0).values.tolist(), yx.max(dim=0).values.tolist()
    return [x0, y0, x1, y1]


def xyah(box: list[int]) -> list[float]:
    x0, y0, x1, y1 = box
    h = (y1 - y0) or 1  # upstream: a zero height counts as 1
    return [(x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / h, h]


def filter_box_iou(mean: np.ndarray, box: list[int]) -> float:
    """IoU of the filter's box with ``box`` (upstream's formula: no +1, 0 for an empty box)."""
    if box == [0, 0, 0, 0]:
        return 0.0
    cx, cy, a, h = mean[:4]
    p = (cx - a * h / 2, cy - h / 2, cx + a * h / 2, cy + h / 2)
    inter = max(0, min(p[2], box[2]) - max(p[0], box[0])) * max(0, min(p[3], box[3]) - max(p[1], box[1]))
    union = (p[2] - p[0]) * (p[3] - p[1]) + (box[2] - box[0]) * (box[3] - box[1]) - inter
    return inter / union if union != 0 else 0.0


class SAMURAIPredictor(SAM2Hooks):
    """SAM2's video predictor with SAMURAI's motion-aware candidate choice and memory selection."""

    def __init__(self, stable_frames_threshold: int = 15, stable_ious_threshold: float = 0.3,
                 min_obj_score_logits: float = -1.0, kf_score_weight: float = 0.25,
                 memory_bank_iou_threshold: float = 0.5, memory_bank_obj_score_threshold: float = 0.0,
                 memory_bank_kf_score_threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stable_frames_threshold = int(stable_frames_threshold)
        self.stable_ious_threshold = float(stable_ious_threshold)
        self.min_obj_score_logits = float(min_obj_score_logits)
        self.kf_score_weight = float(kf_score_weight)
        self.memory_bank_iou_threshold = float(memory_bank_iou_threshold)
        self.memory_bank_obj_score_threshold = float(memory_bank_obj_score_threshold)
        self.memory_bank_kf_score_threshold = float(memory_bank_kf_score_threshold)
        # call scratch of the tracking step in progress (set and cleared by track_frame): the
        # object's state, and the chosen candidate's (predicted IoU, filter IoU or None)
        self._active: SAMURAIObject | None = None
        self._choice: tuple[Any, Any] | None = None

    def new_object_state(self) -> SAMURAIObject:
        return SAMURAIObject()

    def track_frame(self, state: dict, obj_idx: int, obj_state: SAMURAIObject, frame: int):
        self._active, self._choice = obj_state, None
        try:
            out, masks = super().track_frame(state, obj_idx, obj_state, frame)
        finally:
            self._active = None
        iou, kf = self._choice
        if (frame >= 2 and iou.item() > self.memory_bank_iou_threshold  # upstream scans frames >= 2
                and out["object_score_logits"].item() > self.memory_bank_obj_score_threshold
                and (kf is None or kf.item() > self.memory_bank_kf_score_threshold)):
            obj_state.memory = [*obj_state.memory, frame][-(self.max_obj_ptrs_in_encoder - 1):]
        return out, masks

    def memory_frames(self, obj_state: SAMURAIObject, frame: int) -> list[int]:
        """Non-conditioning frames whose mask memory ``frame`` reads, oldest first."""
        frames = list(obj_state.memory)
        if frame - 1 not in frames:
            frames.append(frame - 1)
        return frames[-(self.num_maskmem - 1):]

    def selectable_frames(self, state: dict, obj_idx: int, obj_state: SAMURAIObject, next_frame: int) -> set[int]:
        # later frames read the newest qualifying frames (never older ones) and SAM2's window
        keep = super().selectable_frames(state, obj_idx, obj_state, next_frame)
        return keep | set(obj_state.memory[-(self.num_maskmem - 1):])

    # -- candidate choice ------------------------------------------------------------------
    def _choose(self, st: SAMURAIObject, ious, high_res_multimasks):
        """Index ``(1,)`` of the candidate SAMURAI keeps for a tracked object (B = 1)."""
        import torch

        best = torch.argmax(ious, dim=-1)
        kf_score = None
        if st.mean is None or st.stable_frames == 0:  # (re)start the filter on SAM's choice
            st.mean, st.cov = kf_start(xyah(box_of(high_res_multimasks[0, best.item()])))
            st.stable_frames += 1
        elif st.stable_frames < self.stable_frames_threshold:  # warming up: SAM's choice
            st.mean, st.cov = kf_predict(st.mean, st.cov)
            if ious[0, best] > self.stable_ious_threshold:
                st.mean, st.cov = kf_update(st.mean, st.cov, xyah(box_of(high_res_multimasks[0, best.item()])))
                st.stable_frames += 1
            else:
                st.stable_frames, st.resets = 0, st.resets + 1
        else:  # stable: weigh the filter's box against SAM's predicted IoU
            st.mean, st.cov = kf_predict(st.mean, st.cov)
            boxes = [box_of(high_res_multimasks[0, k]) for k in range(ious.shape[1])]
            kf_ious = torch.tensor([filter_box_iou(st.mean, b) for b in boxes], device=ious.device)
            weighted = self.kf_score_weight * kf_ious + (1 - self.kf_score_weight) * ious
            choice = torch.argmax(weighted, dim=-1)
            st.kf_frames += 1
            st.kf_overrides += int(choice.item() != best.item())
            best, kf_score = choice, kf_ious[choice]
            if ious[0, best] < self.stable_ious_threshold:
                st.stable_frames, st.resets = 0, st.resets + 1
            else:
                st.mean, st.cov = kf_update(st.mean, st.cov, xyah(boxes[best.item()]))
        self._choice = (ious[0, best], kf_score)
        return best

    def _forward_sam_heads(self, backbone_features, point_inputs=None, mask_inputs=None,
                           high_res_features=None, multimask_output=False):
        """sam2 1.1.0's ``_forward_sam_heads`` (same inputs and 7 outputs) with SAMURAI's presence
        threshold and, on a tracked frame, its candidate choice (:meth:`_choose`)."""
        import torch
        import torch.nn.functional as F
        from sam2.modeling.sam2_base import NO_OBJ_SCORE

        B, device = backbone_features.size(0), backbone_features.device
        if point_inputs is not None:
            coords, labels = point_inputs["point_coords"], point_inputs["point_labels"]
        else:  # no clicks: one padding point
            coords = torch.zeros(B, 1, 2, device=device)
            labels = -torch.ones(B, 1, dtype=torch.int32, device=device)
        dense_prompt = mask_inputs
        if mask_inputs is not None and mask_inputs.shape[-2:] != self.sam_prompt_encoder.mask_input_size:
            dense_prompt = F.interpolate(mask_inputs.float(), size=self.sam_prompt_encoder.mask_input_size,
                                         align_corners=False, mode="bilinear", antialias=True)
        sparse, dense = self.sam_prompt_encoder(points=(coords, labels), boxes=None, masks=dense_prompt)
        low_multi, ious, tokens, obj_logits = self.sam_mask_decoder(
            image_embeddings=backbone_features, image_pe=self.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
            multimask_output=multimask_output, repeat_image=False, high_res_features=high_res_features)
        if self.pred_obj_scores:
            appearing = obj_logits > self.min_obj_score_logits  # SAMURAI: -1, SAM2: 0
            low_multi = torch.where(appearing[:, None, None], low_multi, NO_OBJ_SCORE)
        low_multi = low_multi.float()
        high_multi = F.interpolate(low_multi, size=(self.image_size, self.image_size), mode="bilinear",
                                   align_corners=False)
        token = tokens[:, 0]
        if multimask_output:
            if self._active is not None:
                best = self._choose(self._active, ious, high_multi)
            else:  # a prompt's own decoding: SAM2's choice
                best = torch.argmax(ious, dim=-1)
            rows = torch.arange(B, device=device)
            low, high = low_multi[rows, best].unsqueeze(1), high_multi[rows, best].unsqueeze(1)
            if tokens.size(1) > 1:
                token = tokens[rows, best]
        else:
            low, high = low_multi, high_multi
            if self._active is not None:
                self._choice = (ious[0, :1], None)
        obj_ptr = self.obj_ptr_proj(token)
        if self.pred_obj_scores:
            present = obj_logits.sigmoid() if self.soft_no_obj_ptr else appearing.float()
            if self.fixed_no_obj_ptr:
                obj_ptr = present * obj_ptr
            obj_ptr = obj_ptr + (1 - present) * self.no_obj_ptr
        return low_multi, high_multi, ious, low, high, obj_ptr, obj_logits

    # -- memory selection ------------------------------------------------------------------
    def _prepare_memory_conditioned_features(self, frame_idx, is_init_cond_frame, current_vision_feats,
                                             current_vision_pos_embeds, feat_sizes, output_dict, num_frames,
                                             track_in_reverse=False):
        """sam2 1.1.0's memory read (eval, forward) with SAMURAI's mask-memory frames
        (:meth:`memory_frames`); conditioning frames and object pointers as SAM2."""
        if self._active is None or is_init_cond_frame or track_in_reverse or self.num_maskmem == 0:
            return super()._prepare_memory_conditioned_features(
                frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes,
                output_dict, num_frames, track_in_reverse)
        import torch
        from sam2.modeling.sam2_utils import get_1d_sine_pe, select_closest_cond_frames

        B, C = current_vision_feats[-1].size(1), self.hidden_dim
        H, W = feat_sizes[-1]
        device = current_vision_feats[-1].device
        non_cond = output_dict["non_cond_frame_outputs"]
        selected, unselected = select_closest_cond_frames(frame_idx, output_dict["cond_frame_outputs"],
                                                          self.max_cond_frames_in_attn)
        frames = self.memory_frames(self._active, frame_idx)
        if frames and frames[0] < frame_idx - (self.num_maskmem - 1):
            self._active.memory_beyond_window += 1
        first_pos = self.num_maskmem - len(frames)  # the newest frame gets t_pos num_maskmem - 1
        entries = [(0, out) for out in selected.values()]
        entries += [(first_pos + i, non_cond.get(f, unselected.get(f))) for i, f in enumerate(frames)]
        memory, memory_pos = [], []
        for t_pos, prev in entries:
            if prev is None:  # e.g. t-1 is a conditioning frame (already in as t_pos 0)
                continue
            memory.append(prev["maskmem_features"].to(device, non_blocking=True).flatten(2).permute(2, 0, 1))
            enc = prev["maskmem_pos_enc"][-1].to(device).flatten(2).permute(2, 0, 1)
            memory_pos.append(enc + self.maskmem_tpos_enc[self.num_maskmem - t_pos - 1])
        num_ptr_tokens = 0
        if self.use_obj_ptrs_in_encoder:  # object pointers: SAM2's (conditioning + last frames)
            max_ptrs = min(num_frames, self.max_obj_ptrs_in_encoder)
            ptr_cond = ({t: o for t, o in selected.items() if t <= frame_idx}
                        if self.only_obj_ptrs_in_the_past_for_eval else selected)
            pos_ptrs = [((frame_idx - t) if self.use_signed_tpos_enc_to_obj_ptrs else abs(frame_idx - t),
                         o["obj_ptr"]) for t, o in ptr_cond.items()]
            for t_diff in range(1, max_ptrs):
                t = frame_idx - t_diff
                if t < 0:
                    break
                out = non_cond.get(t, unselected.get(t, None))
                if out is not None:
                    pos_ptrs.append((t_diff, out["obj_ptr"]))
            if pos_ptrs:
                pos, ptrs = zip(*pos_ptrs)
                obj_ptrs = torch.stack(ptrs, dim=0)
                if self.add_tpos_enc_to_obj_ptrs:
                    dim = C if self.proj_tpos_enc_in_obj_ptrs else self.mem_dim
                    obj_pos = get_1d_sine_pe(torch.tensor(pos).to(device=device) / (max_ptrs - 1), dim=dim)
                    obj_pos = self.obj_ptr_tpos_proj(obj_pos).unsqueeze(1).expand(-1, B, self.mem_dim)
                else:
                    obj_pos = obj_ptrs.new_zeros(len(pos), B, self.mem_dim)
                if self.mem_dim < C:  # split each pointer into C // mem_dim tokens
                    obj_ptrs = obj_ptrs.reshape(-1, B, C // self.mem_dim, self.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
                    obj_pos = obj_pos.repeat_interleave(C // self.mem_dim, dim=0)
                memory.append(obj_ptrs)
                memory_pos.append(obj_pos)
                num_ptr_tokens = obj_ptrs.shape[0]
        pix = self.memory_attention(curr=current_vision_feats, curr_pos=current_vision_pos_embeds,
                                    memory=torch.cat(memory, dim=0), memory_pos=torch.cat(memory_pos, dim=0),
                                    num_obj_ptr_tokens=num_ptr_tokens)
        return pix.permute(1, 2, 0).view(B, C, H, W)


@dataclass(frozen=True)
class SAMURAIConfig(SAM2Config):
    """Options of the ``samurai`` methods (``configs/method/samurai*.yaml``): SAM2's plus the
    values of its ``configs/samurai/sam2.1_hiera_*.yaml`` (``kf_score_weight`` null: the size's,
    0.25 for t/s/b+ and 0.15 for l)."""

    kf_score_weight: float | None = option(None, ge=0, le=1)
    stable_frames_threshold: int = option(15, ge=0)
    stable_ious_threshold: float = 0.3
    min_obj_score_logits: float = -1.0
    memory_bank_iou_threshold: float = 0.5
    memory_bank_obj_score_threshold: float = 0.0
    memory_bank_kf_score_threshold: float = 0.0

    family: ClassVar[str] = "samurai"
    variant: ClassVar[str] = "adapters.sam2_samurai.SAMURAIPredictor"

    def model_overrides(self) -> list[str]:
        w = KF_SCORE_WEIGHT[self.size] if self.kf_score_weight is None else self.kf_score_weight
        return [f"++model.kf_score_weight={w}",
                f"++model.stable_frames_threshold={self.stable_frames_threshold}",
                f"++model.stable_ious_threshold={self.stable_ious_threshold}",
                f"++model.min_obj_score_logits={self.min_obj_score_logits}",
                f"++model.memory_bank_iou_threshold={self.memory_bank_iou_threshold}",
                f"++model.memory_bank_obj_score_threshold={self.memory_bank_obj_score_threshold}",
                f"++model.memory_bank_kf_score_threshold={self.memory_bank_kf_score_threshold}"]


@dataclass(frozen=True)
class SAMURAITinyConfig(SAMURAIConfig):
    size: str = "t"


@dataclass(frozen=True)
class SAMURAISmallConfig(SAMURAIConfig):
    size: str = "s"


@dataclass(frozen=True)
class SAMURAILargeConfig(SAMURAIConfig):
    size: str = "l"


class SAMURAI(SAM2):
    """SAM2.1 with SAMURAI (default size b+; ``samurai-t/-s/-b+/-l`` fix the size). Zero-shot: the
    SAM 2.1 checkpoints of the sam2 README."""

    name: ClassVar[str] = "samurai"
    Config = SAMURAIConfig


class SAMURAITiny(SAMURAI):
    default_size = "t"
    Config = SAMURAITinyConfig


class SAMURAISmall(SAMURAI):
    default_size = "s"
    Config = SAMURAISmallConfig


class SAMURAIBasePlus(SAMURAI):
    default_size = "b+"


class SAMURAILarge(SAMURAI):
    default_size = "l"
    Config = SAMURAILargeConfig

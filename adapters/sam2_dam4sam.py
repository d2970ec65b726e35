"""DAM4SAM: distractor-aware memory for SAM2 (Videnovic et al., "A Distractor-Aware Memory for
Visual Object Tracking with SAM2", arXiv 2411.17576), as a variant of the SAM2 family on the
official ``sam2`` 1.1.0 package.

Written from the paper and from facts read in jovanavidenovic/DAM4SAM (commit ``9c954504``; that
repository has no licence, so none of its code is reused). Its fork of sam2 is the c2ec8e1
batched predictor (1.1.0's ``sam2_video_predictor_legacy``), run one object at a time. What it
changes in SAM2's memory, per object:

* **DRM** (distractor-resolving memory), held as conditioning frames: the initial frame plus
  tracked frames added when the chosen candidate (highest predicted IoU of the 3) has predicted
  IoU ``> 0.8``, its video-resolution area is within ``0.8-1.2 x`` the median of the last 10
  non-zero areas (current frame included; never on the first tracked frame), the object is
  present, more than 5 frames passed since the last addition, and some alternative candidate,
  minus the chosen mask, keeps a largest 8-connected component whose union with the chosen
  mask has a box IoU ``<= 0.7`` with the chosen mask's box (boxes as vot-toolkit's
  ``Mask -> Rectangle``: width = right - left, one pixel narrower than the mask's extent; a
  union box at most one such unit wide or high scores 1). An added frame's memory is re-encoded
  from its binarised low-res mask, as SAM2 encodes prompted frames. Attention reads up to 4 of
  them: the latest before ``t-1``, the initial frame, then the closest others, never ``t-1``.
* **RAM** (recent appearance memory): the remaining ``7 - |DRM|`` slots: the latest frame before
  ``t`` where the object is present (``t-1`` first, walking back), then every 5th frame of the
  object's own frame grid (counted from its first frame) further back, each walking back on the
  grid past frames where the object is absent; temporal encodings by rank, newest first.
  Object pointers come only from frames where the object is present.
* Model settings of its ``sam21pp`` configs and its builder: memory stride 5, 4 conditioning
  frames in attention, no non-overlap constraint, corrections as conditioning frames, multimask
  for up to 3 clicks, dynamic multimask, prompted masks binarised for the memory encoder and no
  hole filling (its fork's ``fill_holes_in_mask_scores`` returns its input). Frames are resized
  as float tensors (antialiased bilinear), not with PIL.

Multi-object output. DAM4SAM has no VOS script: its tracker (``DAM4SAMTracker``, driven by
``run_on_didi.py``) follows one object per run and writes the given mask on the first frame.
Here each object is tracked independently in one session (objects never interact: no non-overlap
constraint, per-object memory and state), the given mask is the output on an object's prompt
frame, and the harness merges overlapping masks to the LOWER object id
(:func:`harness.data.masks.masks_to_labels`); tests/golden/dam4sam runs the original tracker once
per object and merges the same way.

Differences from the original, none of which changes a mask on the golden
(``tests/test_methods_sam2_dam4sam.py``): per-object state lives in a per-(video, object)
:class:`DAM4SAMObject` owned by the session (the original keeps it on the tracker object, one
tracker per object); object sizes keep only the last 300 entries (the original keeps all and
reads the last 300); memory pruning drops non-conditioning frames RAM can no longer reach and
DRM frames attention can no longer select (the original keeps every frame's memory: DAM4SAM #10
reports OOM on long videos); an object first prompted on frame ``s`` counts its frames from ``s``
exactly as the original's tracker started on that frame. A box prompt goes through SAM2's box
prompt (the original's box initialisation first decodes a mask from the box, then starts from
that mask); clicks use SAM2's points, as the original's sam2 fork would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from adapters.sam2_family import SAM2Hooks
from adapters.sam2_vos import SAM2, SAM2Config

DRM_IOU = 0.8  # chosen candidate's predicted IoU must exceed this
DRM_AREA = (0.8, 1.2)  # area / median of recent non-zero areas
DRM_MIN_GAP = 5  # frames since the last addition must exceed this
DRM_BOX_IOU = 0.7  # an alternative must reach this box IoU or less
AREA_HISTORY, AREA_MEDIAN_OF = 300, 10


@dataclass
class DAM4SAMObject:
    """Per-(video, object) DAM4SAM state: areas of the chosen masks (video resolution, one per
    tracked frame, the last ``AREA_HISTORY``), the last DRM addition and every addition."""

    areas: list[int] = field(default_factory=list)
    last_added: int | None = None
    added: list[int] = field(default_factory=list)


def _visible(out: dict) -> bool:
    """The object is present in a stored output: some positive low-res mask logit (the
    original's ``n_pixels_pos >= 1``)."""
    return bool((out["pred_masks"][0, 0] > 0).any())


def _extent(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` pixel-inclusive extent of a non-empty ``(H, W)`` mask."""
    cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def box_iou_in_union(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> float:
    """Box IoU of a mask's box with the box of a superset mask, as vot-toolkit computes it for the
    rectangles of two masks: a box spans ``right - left`` by ``bottom - top`` pixels from its
    corner, and a union box at most one pixel wide or high scores 1 (both "empty")."""
    left, top, right, bottom = inner
    big_l, big_t, big_r, big_b = outer
    if big_r - big_l <= 1 or big_b - big_t <= 1:
        return 1.0
    return (max(0, right - left) * max(0, bottom - top)) / ((big_r - big_l) * (big_b - big_t))


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of a non-empty ``(H, W)`` bool mask (ties: the first
    label OpenCV assigns, as the original)."""
    import cv2

    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


class DAM4SAMPredictor(SAM2Hooks):
    """SAM2's video predictor with DAM4SAM's DRM / RAM memory, one object per tracking step."""

    frame_resize: ClassVar[str] = "tensor-bilinear"
    output_prompt_masks: ClassVar[bool] = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # the 3 candidate masks and IoUs of the step in progress: written by _track_step and
        # consumed by the track_frame call around it (call scratch, not per-object state)
        self._step_candidates = None

    def new_object_state(self) -> DAM4SAMObject:
        return DAM4SAMObject()

    def _track_step(self, *args: Any, **kwargs: Any):
        current_out, sam_outputs, high_res_features, pix_feat = super()._track_step(*args, **kwargs)
        # (1, M, S/4, S/4) candidate logits (absent object: NO_OBJ_SCORE) and (1, M) IoUs
        self._step_candidates = (sam_outputs[0], sam_outputs[2])
        return current_out, sam_outputs, high_res_features, pix_feat

    # -- memory: DRM + RAM --------------------------------------------------------------------
    def _select_drm(self, frame: int, cond: dict, start: int) -> tuple[dict, dict]:
        """(selected, unselected) conditioning outputs; insertion order = memory order."""
        selected = {}
        before = [t for t in cond if t < frame - 1]
        if before:
            selected[max(before)] = cond[max(before)]
        if start not in selected:
            selected[start] = cond[start]
        room = self.max_cond_frames_in_attn - len(selected)
        for t in sorted((t for t in cond if t not in selected and t != frame - 1),
                        key=lambda t: abs(t - frame))[:room]:
            selected[t] = cond[t]
        return selected, {t: o for t, o in cond.items() if t not in selected}

    def _select_ram(self, frame: int, cond: dict, non_cond: dict, drm: dict, start: int) -> list[tuple[int, Any]]:
        """``(frame - start, output or None)`` per RAM slot: the latest frame with the object
        present before ``frame``, then every ``r``-th frame of the object's grid further back."""
        r = self.memory_temporal_stride_for_eval

        def usable(t: int) -> Any:
            out = non_cond.get(t)
            return out if out is not None and t not in drm and _visible(out) else None

        slots: list[tuple[int, Any]] = []
        p = frame - 1
        for i in range(self.num_maskmem - len(drm)):
            if i == 0:
                out = cond[p] if p in cond else non_cond.get(p)
                step = 1
            elif p >= start:
                p = start + ((p - start - 1) // r) * r
                out, step = non_cond.get(p), r
            else:
                slots.append((p - start, None))
                continue
            if out is None or p in drm or not _visible(out):
                out = None
                while p - step > start:  # walk back (frame `start` itself is never RAM)
                    p -= step
                    out = usable(p)
                    if out is not None:
                        break
                else:
                    p -= step
            slots.append((p - start, out))
        return slots

    def _prepare_memory_conditioned_features(self, frame_idx, is_init_cond_frame, current_vision_feats,
                                             current_vision_pos_embeds, feat_sizes, output_dict, num_frames,
                                             track_in_reverse=False):
        """Memory attention over DRM + RAM (``current_vision_feats[-1]``: ``(HW, B, C)``; returns
        ``(B, C, H, W)``). Frames are counted from the object's first conditioning frame."""
        if is_init_cond_frame or self.num_maskmem == 0 or track_in_reverse:
            return super()._prepare_memory_conditioned_features(
                frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes,
                output_dict, num_frames, track_in_reverse)
        import torch
        from sam2.modeling.sam2_utils import get_1d_sine_pe

        B, C = current_vision_feats[-1].size(1), self.hidden_dim
        H, W = feat_sizes[-1]
        device = current_vision_feats[-1].device
        cond, non_cond = output_dict["cond_frame_outputs"], output_dict["non_cond_frame_outputs"]
        start = min(cond)
        drm, unselected = self._select_drm(frame_idx, cond, start)
        # DRM entries carry key 0 (no temporal order), RAM entries their frame (relative to the
        # object's start; empty slots <= 0): a stable sort puts DRM first and RAM oldest -> newest
        entries = sorted([(0, out) for out in drm.values()] + self._select_ram(frame_idx, cond, non_cond, drm, start),
                         key=lambda e: e[0])
        memory, memory_pos = [], []
        for rank, (key, out) in enumerate(entries):
            if out is None:
                continue
            t_pos = 0 if key == 0 else rank
            memory.append(out["maskmem_features"].to(device, non_blocking=True).flatten(2).permute(2, 0, 1))
            enc = out["maskmem_pos_enc"][-1].to(device).flatten(2).permute(2, 0, 1)
            memory_pos.append(enc + self.maskmem_tpos_enc[len(entries) - t_pos - 1])

        n_ptr_tokens = 0
        if self.use_obj_ptrs_in_encoder:
            max_ptrs = min(frame_idx - start + 1, self.max_obj_ptrs_in_encoder)  # frames seen so far
            past_only = not self.training and self.only_obj_ptrs_in_the_past_for_eval
            pos_ptrs = [(frame_idx - t, out["obj_ptr"]) for t, out in drm.items() if not past_only or t <= frame_idx]
            for d in range(1, max_ptrs):
                out = non_cond.get(frame_idx - d, unselected.get(frame_idx - d))
                if out is not None and _visible(out):
                    pos_ptrs.append((d, out["obj_ptr"]))
            if pos_ptrs:
                pos, ptrs = zip(*pos_ptrs)
                obj_ptrs = torch.stack(ptrs, dim=0)
                if self.add_tpos_enc_to_obj_ptrs:
                    dim = C if self.proj_tpos_enc_in_obj_ptrs else self.mem_dim
                    obj_pos = get_1d_sine_pe(torch.tensor(pos, device=device) / (max_ptrs - 1), dim=dim)
                    obj_pos = self.obj_ptr_tpos_proj(obj_pos).unsqueeze(1).expand(-1, B, self.mem_dim)
                else:
                    obj_pos = obj_ptrs.new_zeros(len(pos), B, self.mem_dim)
                if self.mem_dim < C:  # one pointer -> C / mem_dim tokens
                    obj_ptrs = obj_ptrs.reshape(-1, B, C // self.mem_dim, self.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
                    obj_pos = obj_pos.repeat_interleave(C // self.mem_dim, dim=0)
                memory.append(obj_ptrs)
                memory_pos.append(obj_pos)
                n_ptr_tokens = obj_ptrs.shape[0]
        fused = self.memory_attention(curr=current_vision_feats, curr_pos=current_vision_pos_embeds,
                                      memory=torch.cat(memory, dim=0), memory_pos=torch.cat(memory_pos, dim=0),
                                      num_obj_ptr_tokens=n_ptr_tokens)
        return fused.permute(1, 2, 0).view(B, C, H, W)

    # -- per frame: track, then maybe add the frame to DRM ------------------------------------
    def track_frame(self, state: dict, obj_idx: int, obj_state: DAM4SAMObject, frame: int):
        out, masks = super().track_frame(state, obj_idx, obj_state, frame)
        candidates, ious = self._step_candidates
        self._step_candidates = None
        if self._adds_to_drm(state, obj_state, frame, candidates[0].float(), ious[0].float().cpu().numpy()):
            self._add_to_drm(state, obj_idx, frame)
            obj_state.last_added = frame
            obj_state.added.append(frame)
        return out, masks

    def _adds_to_drm(self, state: dict, obj: DAM4SAMObject, frame: int, candidates, ious: np.ndarray) -> bool:
        """DAM4SAM's DRM rule on one tracked frame (``candidates``: ``(M, S/4, S/4)`` logits,
        ``ious``: ``(M,)`` float32); records the chosen mask's area."""
        best = int(np.argmax(ious))
        _, video_res = self._get_orig_video_res_output(state, candidates[:, None])
        binary = (video_res[:, 0] > 0.0).cpu().numpy()
        chosen = binary[best]
        area = int(chosen.sum())
        obj.areas.append(area)
        del obj.areas[:-AREA_HISTORY]
        ratio = -1.0
        if len(obj.areas) > 1 and area >= 1:
            ratio = area / np.median([a for a in obj.areas if a >= 1][-AREA_MEDIAN_OF:])
        if not (ious[best] > DRM_IOU and DRM_AREA[0] <= ratio <= DRM_AREA[1] and area >= 1
                and (obj.last_added is None or frame - obj.last_added > DRM_MIN_GAP)):
            return False
        extras = [binary[i] & ~chosen for i in range(len(binary)) if i != best]
        unions = [largest_component(m) | chosen for m in extras if m.any()]
        if not unions:
            return False
        box = _extent(chosen)
        return min(box_iou_in_union(box, _extent(u)) for u in unions) <= DRM_BOX_IOU

    def _add_to_drm(self, state: dict, obj_idx: int, frame: int) -> None:
        """Move ``frame`` to the object's conditioning memory, its memory re-encoded from the
        binarised mask as for a prompted frame (what the original's next preflight does)."""
        import torch

        out_dict = state["output_dict_per_obj"][obj_idx]
        out = out_dict["non_cond_frame_outputs"].pop(frame)
        high_res = torch.nn.functional.interpolate(out["pred_masks"].to(state["device"]), mode="bilinear",
                                                   size=(self.image_size, self.image_size), align_corners=False)
        features, pos_enc = self._run_memory_encoder(state, frame, 1, high_res, out["object_score_logits"],
                                                     is_mask_from_pts=True)
        out_dict["cond_frame_outputs"][frame] = {**out, "maskmem_features": features, "maskmem_pos_enc": pos_enc}

    # -- pruning ------------------------------------------------------------------------------
    def selectable_frames(self, state: dict, obj_idx: int, obj_state: DAM4SAMObject, next_frame: int) -> set[int]:
        """Object pointers of the last ``max_obj_ptrs_in_encoder - 1`` frames, the latest frame
        with the object present (RAM's first slot may walk back to it) and the latest
        ``num_maskmem - 2`` present frames of the object's stride grid (the other RAM slots)."""
        out_dict = state["output_dict_per_obj"][obj_idx]
        non_cond, cond = out_dict["non_cond_frame_outputs"], out_dict["cond_frame_outputs"]
        if not cond:
            return set(non_cond)
        start, r = min(cond), self.memory_temporal_stride_for_eval
        keep = {t for t in non_cond if t >= next_frame - (self.max_obj_ptrs_in_encoder - 1)}
        present = [t for t in sorted(non_cond, reverse=True) if _visible(non_cond[t])]
        keep.update(present[:1])
        keep.update([t for t in present if (t - start) % r == 0][: self.num_maskmem - 2])
        return keep

    def selectable_cond_frames(self, state: dict, obj_idx: int, obj_state: DAM4SAMObject,
                               next_frame: int) -> set[int]:
        """The initial frame, the latest ``max_cond_frames_in_attn`` conditioning frames (DRM
        selection only ever takes recent ones) and those object pointers may still read."""
        cond = state["output_dict_per_obj"][obj_idx]["cond_frame_outputs"]
        if not cond:
            return set()
        keep = {min(cond), *sorted(cond, reverse=True)[: self.max_cond_frames_in_attn]}
        keep.update(t for t in cond if t >= next_frame - (self.max_obj_ptrs_in_encoder - 1))
        return keep


@dataclass(frozen=True)
class DAM4SAMConfig(SAM2Config):
    """Options of the ``dam4sam`` methods (``configs/method/dam4sam*.yaml``): SAM2's; the default
    size is l (the original's default tracker ``sam21pp-L``), with the official SAM 2.1
    checkpoints (the original's ``download_ckpts.sh``)."""

    size: str = "l"

    family: ClassVar[str] = "dam4sam"
    variant: ClassVar[str] = "adapters.sam2_dam4sam.DAM4SAMPredictor"

    def model_overrides(self) -> list[str]:
        # its sam21pp_hiera_*.yaml changes, then what its builder's apply_postprocessing adds
        # (hole filling off: its fork's fill_holes_in_mask_scores returns the input unchanged)
        return ["++model.memory_temporal_stride_for_eval=5", "++model.max_cond_frames_in_attn=4",
                "++model.non_overlap_masks=false", "++model.add_all_frames_to_correct_as_cond=true",
                "++model.multimask_max_pt_num=3",
                "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
                "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
                "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
                "++model.binarize_mask_from_pts_for_mem_enc=true", "++model.fill_hole_area=0"]


@dataclass(frozen=True)
class DAM4SAMTinyConfig(DAM4SAMConfig):
    size: str = "t"


@dataclass(frozen=True)
class DAM4SAMSmallConfig(DAM4SAMConfig):
    size: str = "s"


@dataclass(frozen=True)
class DAM4SAMBasePlusConfig(DAM4SAMConfig):
    size: str = "b+"


class DAM4SAM(SAM2):
    """SAM2.1 with DAM4SAM's distractor-aware memory (default size l; ``dam4sam-t`` / ``-s`` /
    ``-b+`` / ``-l`` fix the size)."""

    name: ClassVar[str] = "dam4sam"
    Config = DAM4SAMConfig
    requires = {**SAM2.requires, "cv2": "pip install opencv-python-headless"}


class DAM4SAMTiny(DAM4SAM):
    default_size = "t"
    Config = DAM4SAMTinyConfig


class DAM4SAMSmall(DAM4SAM):
    default_size = "s"
    Config = DAM4SAMSmallConfig


class DAM4SAMBasePlus(DAM4SAM):
    default_size = "b+"
    Config = DAM4SAMBasePlusConfig


class DAM4SAMLarge(DAM4SAM):
    default_size = "l"

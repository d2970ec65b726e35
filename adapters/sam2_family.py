"""The SAM2 family: a variant is a sam2 predictor class plus its per-object state.

A variant (plain SAM2, RCMS, ...) is written as a subclass of :class:`SAM2Hooks`: it overrides
the predictor's own methods where its original does (``_track_step``,
``_run_single_frame_inference``, ...) and the few per-frame hooks below that the one tracking
loop of the family (:class:`adapters.sam2_vos.SAM2Session`) calls. :func:`make_predictor` mixes
it into the sam2 predictor class it names (``base_predictor``), so the object the adapter drives
*is* a ``sam2`` predictor: ``isinstance(p, sam2.sam2_video_predictor.SAM2VideoPredictor)``.

State that a variant keeps per object (RCMS's "disappearance already handled", a Kalman filter,
...) is created by :meth:`SAM2Hooks.new_object_state` and owned by the session, one per
(video, object): never an attribute of the predictor, which is shared by every video a method
runs on.

Memory pruning asks the variant (:meth:`SAM2Hooks.selectable_frames`) which non-conditioning
frames a later frame may still read, so a variant that looks further back than SAM2's window
keeps exactly what it may select and its masks do not depend on pruning.

This module imports no torch/sam2 at import time (the method registry must stay light); the
predictor class is built on first use by :func:`make_predictor`, which hydra calls as the
model's ``_target_``.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any, ClassVar


class SAM2Hooks:
    """Per-frame decisions of the family's tracking loop; the defaults are plain SAM2 1.1.0's.

    Subclasses may also override any method of the sam2 predictor they are mixed into and add
    constructor keyword arguments (they arrive as ``++model.<name>=...`` hydra overrides).
    """

    #: ``module.Class`` of the sam2 predictor this variant subclasses.
    base_predictor: ClassVar[str] = "sam2.sam2_video_predictor.SAM2VideoPredictor"
    #: how frames are resized to the model input (:class:`adapters.sam2_frames.LazyFrames`):
    #: ``pil`` as sam2's loader, ``tensor-bilinear`` for originals that resize float tensors (DAM4SAM)
    frame_resize: ClassVar[str] = "pil"
    #: output an object's given conditioning mask on its mask-prompt frame instead of the model's
    #: decoding of it (originals whose driver writes the given mask there, e.g. DAM4SAM)
    output_prompt_masks: ClassVar[bool] = False

    def new_object_state(self) -> Any:
        """A fresh per-(video, object) state (``None``: plain SAM2 keeps none)."""
        return None

    def track_frame(self, state: dict, obj_idx: int, obj_state: Any, frame: int):
        """Track one object on a frame it has no prompt on; store the output in its memory.

        Returns ``(out, mask_logits)``: the compact per-frame output dict (stored under
        ``output_dict_per_obj[obj_idx]["non_cond_frame_outputs"][frame]``) and the low-res mask
        logits ``(1, 1, S/4, S/4)``, as ``propagate_in_video`` does for one object.
        """
        out_dict = state["output_dict_per_obj"][obj_idx]
        out, masks = self._run_single_frame_inference(
            inference_state=state, output_dict=out_dict, frame_idx=frame, batch_size=1,
            is_init_cond_frame=False, point_inputs=None, mask_inputs=None, reverse=False,
            run_mem_encoder=True)
        out_dict["non_cond_frame_outputs"][frame] = out
        return out, masks

    def settle(self, obj_state: Any, frame: int, out: dict, masks: Any, last: bool) -> dict[int, tuple[Any, Any]]:
        """The frames of an object whose output is final once ``frame`` was tracked (or is its
        prompt frame): ``frame -> (low-res mask logits (1, 1, S/4, S/4), object-score logit (1, 1))``.

        Plain SAM2 and every causal variant: ``frame`` itself, now. A variant that decides a frame
        only after seeing later ones (SAM2Long keeps several pathways and outputs the one that
        scores best in the end) returns each frame once it is decided, and the rest when ``last``
        (the video's last frame) is true; the loop yields a frame when every object's is final.
        """
        return {frame: (masks, out["object_score_logits"])}

    def memory_window(self) -> int:
        """How many frames back forward tracking reads non-conditioning memory.

        ``_prepare_memory_conditioned_features`` (sam2 1.1.0) reads, for frame ``f``, mask memories
        of frames ``f-1`` and ``((f-2)//r)*r - k*r`` for ``k < num_maskmem - 2`` (``r`` = temporal
        stride) and object pointers of frames ``f-1 .. f-(max_obj_ptrs_in_encoder-1)``;
        conditioning frames are kept separately and never dropped.
        """
        r = max(1, int(self.memory_temporal_stride_for_eval))
        return max(r * int(self.num_maskmem) + 1, int(self.max_obj_ptrs_in_encoder))

    def selectable_frames(self, state: dict, obj_idx: int, obj_state: Any, next_frame: int) -> set[int]:
        """Non-conditioning frames of ``obj_idx`` that tracking from ``next_frame`` on may still read
        (the rest may be dropped). Plain SAM2: those inside :meth:`memory_window`."""
        cutoff = next_frame - self.memory_window()
        return {t for t in state["output_dict_per_obj"][obj_idx]["non_cond_frame_outputs"] if t >= cutoff}

    def selectable_cond_frames(self, state: dict, obj_idx: int, obj_state: Any, next_frame: int) -> set[int] | None:
        """Conditioning frames of ``obj_idx`` that tracking from ``next_frame`` on may still read;
        ``None`` (plain SAM2, and any variant whose conditioning memory only holds prompts): keep all.
        A variant that promotes tracked frames to conditioning memory without bound (DAM4SAM's
        DRM) names the ones it may still select, so the rest can be dropped."""
        return None


def _locate(target: str) -> type:
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name)


@cache
def predictor_class(variant: str) -> type:
    """The sam2 predictor subclass for ``variant`` (``module.Class`` of a :class:`SAM2Hooks`)."""
    hooks = _locate(variant)
    base = _locate(hooks.base_predictor)
    return type(hooks.__name__, (hooks, base), {"__module__": hooks.__module__,
                                                "__doc__": hooks.__doc__})


def make_predictor(variant: str = "adapters.sam2_family.SAM2Hooks", **kwargs: Any):
    """Hydra ``_target_`` of the family: build ``variant`` mixed into its sam2 predictor class."""
    return predictor_class(variant)(**kwargs)

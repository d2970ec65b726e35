"""SAM2Long: a training-free memory tree for SAM 2 (Ding et al., "SAM2Long: Enhancing SAM 2 for
Long Video Segmentation with a Training-Free Memory Tree", arXiv 2410.16268), as a variant of the
SAM2 family on the official ``sam2`` 1.1.0 package.

Written from the paper and from facts read in Mark12Ding/SAM2Long (commit ``7193b77f``; CC BY-NC
4.0, so none of its code is reused). Its fork changes SAM2's tracking of one object (its VOS script
``tools/vos_inference.py`` always tracks objects one at a time, from each object's first mask):

* the prompt frame ``s`` and ``s + 1`` are SAM2's own steps (one mask, SAM2's choice among 3);
* from ``s + 2`` on, ``P`` pathways (``num_pathway``, 3) each read their own memory and decode 3
  candidates; candidate ``j`` of pathway ``p`` scores ``acc_p + log(predicted IoU_j + 1e-5)``
  (``acc`` the pathway's cumulative score, 0 after ``s + 1``; a negative IoU gives NaN, ordered as
  Python's ``sorted`` orders it). The ``P`` best (stable sort, pathway order then candidate
  order on ties) become the new pathways, unless every pathway's ``|object-score logit|`` is
  ``<= uncertainty`` (2): then candidates are taken best first with distinct
  ``round(+-IoU_j, 2)`` (the sign that of the object score), and if fewer than ``P`` are distinct,
  the best candidate of each pathway not yet represented fills up. Each kept candidate's memory is
  encoded from its own mask;
* a pathway's memory: scanning back from ``t - 1`` to ``s + 1`` along its own history, the frames
  whose kept candidate had predicted IoU ``> iou_thre`` (0.1) and object score ``> 0``, at most
  ``min(frames, 16) - 1`` of them, plus ``t - 1`` if it is not one; the newest 6 are the mask
  memories (temporal encodings by rank), and object pointers come from the newest down to the
  second oldest of that list (the oldest is never one), at distances = their rank;
* memory attention scales the keys of each memory frame and object pointer by ``linspace(0.95,
  1.05)`` of their object-score rank (the prompt frame and pointer count as 10, the highest), keys
  only (values unchanged), when more than one memory frame is read;
* the output of every frame is the mask of the pathway that scores best **after the last frame**,
  traced back through the tree: not causal (``streaming=False``).

Defaults are the README command's (``--num_pathway 3 --iou_thre 0.1 --uncertainty 2``); the
script's own argparse defaults differ (``iou_thre`` 0.3, ``uncertainty`` 1): the README is what
the paper's numbers were run with.

Differences from the original, none of which changes a mask on the golden
(``tests/test_methods_sam2_sam2long.py``):

* the key scaling reshapes memory-frame keys with the token count of the actual feature map
  (``(image_size / 16)^2``); the original hard-codes 4096, right only at 1024 px (its golden run at
  64 px used the same derivation, see tests/golden/sam2long/README.md);
* a frame is output as soon as every live pathway descends from the same candidate on it (the
  original keeps every frame's candidates of every pathway until the end of the video and
  deep-copies each pathway's frame->candidate map on every frame, growing with video length);
  the masks are those of the final best pathway either way;
* pathways with the same history give the same outputs: each distinct history is run once (the
  original runs all ``P`` tracking steps, e.g. 3 identical ones on ``s + 2``);
* memory pruning keeps only what a live pathway may still read (the original offloads every
  frame's memories to the CPU and keeps them: samurai/SAM2Long users report >100 GB on long videos);
* one conditioning frame per object (the original's score bookkeeping assumes exactly one):
  ``use_all_masks`` and re-prompting are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from adapters.sam2_family import SAM2Hooks
from adapters.sam2_vos import SAM2, SAM2Config
from harness.api import Capabilities, PromptKind
from harness.errors import ConfigError
from harness.options import option

PROMPT_SCORE = 10.0  # the score the original gives the prompt frame's memory and pointer
KEY_SCALE = (0.95, 1.05)


@dataclass(frozen=True)
class Pathway:
    """A live pathway after frame ``t``: ``node`` (its kept candidate on ``t``, see
    :class:`SAM2LongObject`), cumulative score, and the frames that qualify for its memory
    (``(frame, node)``, ascending, at most ``min(frames, 16) - 1``, frames ``s + 1 .. t``)."""

    node: int
    score: float
    memory: tuple[tuple[int, int], ...]


@dataclass
class SAM2LongObject:
    """Per-(video, object) SAM2Long state.

    A *node* is one kept candidate on one frame (an integer; its memory is stored under
    ``non_cond_frame_outputs[frame]["nodes"][node]``); nodes with the same history are one node.
    ``parent``/``frame_of`` link nodes to the node they grew from; ``logits`` hold the low-res mask
    logits and object score of nodes on frames not output yet (``undecided``, ascending).
    Counters say what the mechanism did."""

    pathways: list[Pathway] = field(default_factory=list)
    start: int = -1  # the prompt frame s
    parent: dict[int, int | None] = field(default_factory=dict)
    frame_of: dict[int, int] = field(default_factory=dict)
    logits: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    undecided: list[int] = field(default_factory=list)
    next_node: int = 0
    steps: int = 0  # frames tracked with pathways (s + 2 on)
    distinct_steps: int = 0  # ... where the pathways held more than one distinct history
    uncertain_steps: int = 0  # ... where the uncertainty rule chose the candidates
    overtakes: int = 0  # ... where the best pathway did not grow from the previous best
    late_frames: int = 0  # frames output after a later frame was tracked
    memory_skips: int = 0  # tracking steps whose memory skipped a non-qualifying frame


class SAM2LongPredictor(SAM2Hooks):
    """SAM2's video predictor with SAM2Long's pathways, per-pathway memory and key scaling."""

    def __init__(self, num_pathway: int = 3, iou_thre: float = 0.1, uncertainty: float = 2.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_pathway = int(num_pathway)
        self.iou_thre = float(iou_thre)
        self.uncertainty = float(uncertainty)
        # call scratch of the tracking step in progress (set and cleared by track_frame): the
        # pathway whose memory is read, the decoder's output tokens, the keys' per-token scale
        self._reading: Pathway | None = None
        self._collect = False
        self._tokens: Any = None
        self._key_scale: Any = None
        self.sam_mask_decoder.register_forward_hook(self._keep_tokens)
        for layer in self.memory_attention.layers:
            layer.cross_attn_image.register_forward_pre_hook(self._scale_keys, with_kwargs=True)

    def new_object_state(self) -> SAM2LongObject:
        return SAM2LongObject()

    # -- hooks on sam2's modules (active only inside track_frame) --------------------------
    def _keep_tokens(self, module: Any, inputs: Any, output: tuple) -> None:
        if self._collect:
            self._tokens = output[2]  # (B, M, C) output tokens, one per candidate

    def _scale_keys(self, module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        if self._key_scale is None:
            return None
        k = kwargs["k"]  # (B, N, C): memory + pos
        return args, {**kwargs, "k": (k * self._key_scale.to(k).view(1, -1, 1)).contiguous()}

    # -- one tracking step -----------------------------------------------------------------
    def track_step(self, frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds,
                   feat_sizes, point_inputs, mask_inputs, output_dict, num_frames, track_in_reverse=False,
                   run_mem_encoder=True, prev_sam_mask_logits=None):
        """sam2's ``track_step``; inside :meth:`track_frame` it returns every candidate instead of
        encoding memory (``current_out["sam2long"]``: low-res and high-res candidate masks
        ``(1, 3, h, w)``, predicted IoUs ``(1, 3)``, SAM2's choice, object-score logits ``(1, 1)``)."""
        if not self._collect:
            return super().track_step(frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds,
                                      feat_sizes, point_inputs, mask_inputs, output_dict, num_frames,
                                      track_in_reverse, run_mem_encoder, prev_sam_mask_logits)
        current_out, sam_outputs, _, _ = self._track_step(
            frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes,
            point_inputs, mask_inputs, output_dict, num_frames, track_in_reverse, prev_sam_mask_logits)
        current_out["sam2long"] = (*sam_outputs, self._tokens)
        return current_out

    def _step(self, state: dict, obj_idx: int, frame: int, feats: tuple, reading: Pathway | None):
        """Run one tracking step reading ``reading``'s memory (None: SAM2's own)."""
        _, _, vision_feats, vision_pos, feat_sizes = feats
        self._reading, self._collect = reading, True
        try:
            out = self.track_step(frame_idx=frame, is_init_cond_frame=False, current_vision_feats=vision_feats,
                                  current_vision_pos_embeds=vision_pos, feat_sizes=feat_sizes, point_inputs=None,
                                  mask_inputs=None, output_dict=state["output_dict_per_obj"][obj_idx],
                                  num_frames=state["num_frames"], track_in_reverse=False,
                                  run_mem_encoder=False, prev_sam_mask_logits=None)
        finally:
            self._reading, self._collect, self._key_scale = None, False, None
        return out["sam2long"]

    def _store(self, state: dict, obj: SAM2LongObject, frame: int, feats: tuple, parent: int | None,
               high_res, low_res, obj_ptr, score, iou) -> tuple[int, dict]:
        """Encode a kept candidate's memory (from its ``(1, 1, S, S)`` mask) as a new node on
        ``frame`` grown from ``parent``; returns ``(node, its memory entry)``."""
        import torch

        _, _, vision_feats, _, feat_sizes = feats
        maskmem, maskmem_pos = self._encode_new_memory(current_vision_feats=vision_feats, feat_sizes=feat_sizes,
                                                       pred_masks_high_res=high_res, object_score_logits=score,
                                                       is_mask_from_pts=False)
        storage = state["storage_device"]
        node = obj.next_node
        obj.next_node += 1
        entry = {"maskmem_features": maskmem.to(torch.bfloat16).to(storage, non_blocking=True),
                 "maskmem_pos_enc": self._get_maskmem_pos_enc(state, {"maskmem_pos_enc": maskmem_pos}),
                 "obj_ptr": obj_ptr, "object_score_logits": score, "iou": iou}
        # a parent on an already decided frame was forgotten: the node is a root of the tree
        obj.parent[node] = parent if parent in obj.frame_of else None
        obj.frame_of[node] = frame
        obj.logits[node] = (low_res, score)
        return node, entry

    def track_frame(self, state: dict, obj_idx: int, obj_state: SAM2LongObject, frame: int):
        obj = obj_state
        non_cond = state["output_dict_per_obj"][obj_idx]["non_cond_frame_outputs"]
        feats = self._get_image_feature(state, frame, 1)
        nodes: dict[int, dict] = {}
        if not obj.pathways:  # s + 1: SAM2's own step, one node
            low_m, high_m, ious, low, high, ptr, score, _ = self._step(state, obj_idx, frame, feats, None)
            obj.start = frame - 1
            node, nodes[node] = self._store(state, obj, frame, feats, None, high, low, ptr, score, ious.max(-1)[0])
            memory = ((frame, node),) if self._qualifies(nodes[node]) else ()
            obj.pathways = [Pathway(node, 0.0, memory)] * self.num_pathway
        else:
            obj.pathways = self._grow(state, obj_idx, obj, frame, feats, nodes)
        non_cond[frame] = {"nodes": nodes}
        best = obj.logits[obj.pathways[0].node]
        return {"object_score_logits": best[1]}, best[0]

    def _qualifies(self, entry: dict) -> bool:
        return entry["iou"].item() > self.iou_thre and entry["object_score_logits"].item() > 0

    def _grow(self, state: dict, obj_idx: int, obj: SAM2LongObject, frame: int, feats: tuple,
              nodes: dict[int, dict]) -> list[Pathway]:
        """Decode every pathway (once per distinct history), score the candidates, keep P."""
        ran: dict[int, tuple] = {}
        for pw in obj.pathways:
            if pw.node not in ran:
                ran[pw.node] = self._step(state, obj_idx, frame, feats, pw)
                read = [f for f, _ in self.memory_frames(pw, frame)][-(self.num_maskmem - 1):]
                obj.memory_skips += read != list(range(max(obj.start + 1, frame - len(read)), frame))
        obj.steps += 1
        obj.distinct_steps += len(ran) > 1
        candidates, certainty = [], []
        for p, pw in enumerate(obj.pathways):
            ious, score = ran[pw.node][2], ran[pw.node][6]
            certainty.append(abs(score.item()))
            for j in range(ious.shape[1]):
                iou = ious[0, j].float().item()
                signed = iou if score.item() > 0 else -iou
                candidates.append((p, j, pw.score + np.log(iou + 1e-5), signed))
        ranked = sorted(candidates, key=lambda c: c[2], reverse=True)
        if max(certainty) > self.uncertainty:
            kept = ranked[: self.num_pathway]
        else:
            obj.uncertain_steps += 1
            kept, seen = [], set()
            for c in ranked:
                if round(c[3], 2) not in seen:
                    kept.append(c)
                    seen.add(round(c[3], 2))
                if len(kept) == self.num_pathway:
                    break
            if len(kept) < self.num_pathway:  # few distinct masks: one more from each other pathway
                held = {c[0] for c in kept}
                for p in range(len(obj.pathways)):
                    if p not in held:
                        kept.append(next(c for c in ranked if c[0] == p))
                    if len(kept) == self.num_pathway:
                        break
        obj.overtakes += kept[0][0] != 0
        grown: list[Pathway] = []
        made: dict[tuple[int, int], int] = {}
        for p, j, total, _ in kept:
            pw = obj.pathways[p]
            key = (pw.node, j)
            if key not in made:  # the same candidate of the same history: one node
                low_m, high_m, ious, _, _, _, score, tokens = ran[pw.node]
                ptrs = self._candidate_pointers(tokens, score)
                node, nodes[node] = self._store(state, obj, frame, feats, pw.node, high_m[:, j:j + 1],
                                                low_m[:, j:j + 1], ptrs[:, j], score, ious[0, j])
                made[key] = node
            node = made[key]
            memory = pw.memory + ((frame, node),) if self._qualifies(nodes[node]) else pw.memory
            grown.append(Pathway(node, float(total), memory[-self._memory_cap(state):]))
        assert len(grown) == self.num_pathway, "SAM2Long keeps num_pathway pathways"
        return grown

    def _candidate_pointers(self, tokens, score):
        """Object pointers of all candidates ``(B, M, C)`` from the decoder's tokens, with SAM2's
        no-object pointer mixed in when the object is judged absent (the original projects all
        tokens at once, as here: one batched projection)."""
        appearing = (score > 0).float()[:, None]  # (B, 1, 1)
        ptrs = self.obj_ptr_proj(tokens)
        ptrs = appearing * ptrs
        return ptrs + (1 - appearing) * self.no_obj_ptr

    def _memory_cap(self, state: dict) -> int:
        return min(state["num_frames"], self.max_obj_ptrs_in_encoder) - 1

    # -- output: the final best pathway -------------------------------------------------------
    def settle(self, obj_state: SAM2LongObject, frame: int, out: dict, masks: Any, last: bool):
        obj = obj_state
        if not obj.pathways:  # the prompt frame: its own output
            return {frame: (masks, out["object_score_logits"])}
        obj.undecided.append(frame)
        heads = [obj.pathways[0].node] if last else [pw.node for pw in obj.pathways]
        # walk back from the newest frame: once the live pathways share a node, that frame and
        # every earlier one are decided
        ancestors, f = set(heads), frame
        while len(ancestors) > 1:
            ancestors = {obj.parent[n] for n in ancestors}
            f -= 1
        if f < obj.undecided[0]:
            return {}
        node, decided = ancestors.pop(), {}
        while node is not None and obj.frame_of[node] >= obj.undecided[0]:
            decided[obj.frame_of[node]] = obj.logits[node]
            node = obj.parent[node]
        obj.late_frames += sum(1 for g in decided if g < frame)
        obj.undecided = [g for g in obj.undecided if g > f]
        for n in [n for n, g in obj.frame_of.items() if g <= f]:  # decided: forget the tree there
            obj.logits.pop(n, None)
            obj.frame_of.pop(n)
            obj.parent.pop(n)
        for n in obj.parent:  # a node whose parent was forgotten is a root now
            if obj.parent[n] is not None and obj.parent[n] not in obj.frame_of:
                obj.parent[n] = None
        return dict(sorted(decided.items()))

    # -- memory ------------------------------------------------------------------------------
    def memory_frames(self, pathway: Pathway, frame: int) -> list[tuple[int, int]]:
        """``(frame, node)`` a pathway reads on ``frame``, oldest first: its qualifying frames
        plus ``frame - 1``."""
        frames = list(pathway.memory)
        if not frames or frames[-1][0] != frame - 1:
            frames.append((frame - 1, pathway.node))
        return frames

    def selectable_frames(self, state: dict, obj_idx: int, obj_state: SAM2LongObject, next_frame: int) -> set[int]:
        if not obj_state.pathways:
            return super().selectable_frames(state, obj_idx, obj_state, next_frame)
        keep = {next_frame - 1}
        for pw in obj_state.pathways:
            keep.update(f for f, _ in pw.memory)
        return keep

    def _prepare_memory_conditioned_features(self, frame_idx, is_init_cond_frame, current_vision_feats,
                                             current_vision_pos_embeds, feat_sizes, output_dict, num_frames,
                                             track_in_reverse=False):
        """sam2 1.1.0's memory read outside pathways; for a pathway, SAM2Long's: its memory
        frames, the prompt frame, object pointers by rank, and the key scaling."""
        if self._reading is None or is_init_cond_frame or track_in_reverse or self.num_maskmem == 0:
            return super()._prepare_memory_conditioned_features(
                frame_idx, is_init_cond_frame, current_vision_feats, current_vision_pos_embeds, feat_sizes,
                output_dict, num_frames, track_in_reverse)
        import torch
        from sam2.modeling.sam2_utils import get_1d_sine_pe

        pathway = self._reading
        B, C = current_vision_feats[-1].size(1), self.hidden_dim
        H, W = feat_sizes[-1]
        device = current_vision_feats[-1].device
        cond = output_dict["cond_frame_outputs"]
        if len(cond) != 1:
            raise ConfigError("sam2long conditions each object on one prompt frame")
        (start, prompt), = cond.items()
        non_cond = output_dict["non_cond_frame_outputs"]
        frames = self.memory_frames(pathway, frame_idx)
        entries = [(0, prompt)]
        recent = frames[-(self.num_maskmem - 1):]
        first_pos = self.num_maskmem - len(recent)
        entries += [(first_pos + i, non_cond[f]["nodes"][n]) for i, (f, n) in enumerate(recent)]
        bf16 = torch.bfloat16
        frame_scores = [torch.ones(B, device=device, dtype=bf16) * PROMPT_SCORE]
        memory, memory_pos = [], []
        for t_pos, prev in entries:
            if t_pos > 0:
                frame_scores.append(prev["object_score_logits"].view(-1))
            memory.append(prev["maskmem_features"].to(device, non_blocking=True).flatten(2).permute(2, 0, 1))
            enc = prev["maskmem_pos_enc"][-1].to(device).flatten(2).permute(2, 0, 1)
            memory_pos.append(enc + self.maskmem_tpos_enc[self.num_maskmem - t_pos - 1])
        max_ptrs = min(num_frames, self.max_obj_ptrs_in_encoder)
        pos_ptrs = [(abs(frame_idx - start), prompt["obj_ptr"])]
        ptr_scores = [torch.ones(B, device=device, dtype=bf16) * PROMPT_SCORE]
        for t_diff in range(1, min(max_ptrs, len(frames))):  # never the oldest memory frame
            f, n = frames[-t_diff]
            prev = non_cond[f]["nodes"][n]
            ptr_scores.append(prev["object_score_logits"].view(-1))
            pos_ptrs.append((t_diff, prev["obj_ptr"]))
        pos, ptrs = zip(*pos_ptrs)
        obj_ptrs = torch.stack(ptrs, dim=0)
        dim = C if self.proj_tpos_enc_in_obj_ptrs else self.mem_dim
        obj_pos = get_1d_sine_pe(torch.tensor(pos, device=device) / (max_ptrs - 1), dim=dim)
        obj_pos = self.obj_ptr_tpos_proj(obj_pos).unsqueeze(1).expand(-1, B, self.mem_dim)
        per_ptr = C // self.mem_dim if self.mem_dim < C else 1
        if self.mem_dim < C:  # split each pointer into C // mem_dim tokens
            obj_ptrs = obj_ptrs.reshape(-1, B, C // self.mem_dim, self.mem_dim).permute(0, 2, 1, 3).flatten(0, 1)
            obj_pos = obj_pos.repeat_interleave(C // self.mem_dim, dim=0)
        memory.append(obj_ptrs)
        memory_pos.append(obj_pos)
        if len(frame_scores) > 1:  # more than one memory frame: scale the keys by score rank
            tokens = H * W  # the original hard-codes 4096 (1024 px)
            self._key_scale = torch.cat([_rank_scale(frame_scores).repeat_interleave(tokens),
                                         _rank_scale(ptr_scores).repeat_interleave(per_ptr)])
        pix = self.memory_attention(curr=current_vision_feats, curr_pos=current_vision_pos_embeds,
                                    memory=torch.cat(memory, dim=0), memory_pos=torch.cat(memory_pos, dim=0),
                                    num_obj_ptr_tokens=obj_ptrs.shape[0])
        self._key_scale = None
        return pix.permute(1, 2, 0).view(B, C, H, W)


def _rank_scale(scores: list) -> Any:
    """``linspace(0.95, 1.05)`` assigned by ascending score rank, ``(n,) float32`` (B = 1). The
    scores are stacked as the original stacks them (bf16 prompt score, float32 others: float32
    unless the prompt's is the only one, then bf16, so a lone 0.95 is bf16's 0.9492)."""
    import torch

    stacked = torch.stack(scores, dim=1)
    scale = torch.linspace(*KEY_SCALE, len(scores)).to(stacked)
    ranked = torch.zeros_like(stacked)
    ranked.scatter_(1, torch.argsort(stacked, dim=1), scale.unsqueeze(0).repeat([stacked.shape[0], 1]))
    return ranked[0].float()


@dataclass(frozen=True)
class SAM2LongConfig(SAM2Config):
    """Options of the ``sam2long`` methods (``configs/method/sam2long*.yaml``): SAM2's plus the
    README command's ``--num_pathway 3 --iou_thre 0.1 --uncertainty 2`` (its script's argparse
    defaults are 0.3 / 1). Zero-shot: the SAM 2.1 checkpoints."""

    num_pathway: int = option(3, ge=1, le=3)
    iou_thre: float = 0.1
    uncertainty: float = option(2.0, ge=0)

    family: ClassVar[str] = "sam2long"
    variant: ClassVar[str] = "adapters.sam2_sam2long.SAM2LongPredictor"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.use_all_masks:
            raise ConfigError("sam2long conditions each object on its first prompt only (its pathway scores "
                              "assume one prompt frame); set method.use_all_masks=false")

    def model_overrides(self) -> list[str]:
        return [f"++model.num_pathway={self.num_pathway}", f"++model.iou_thre={self.iou_thre}",
                f"++model.uncertainty={self.uncertainty}"]


@dataclass(frozen=True)
class SAM2LongTinyConfig(SAM2LongConfig):
    size: str = "t"


@dataclass(frozen=True)
class SAM2LongSmallConfig(SAM2LongConfig):
    size: str = "s"


@dataclass(frozen=True)
class SAM2LongLargeConfig(SAM2LongConfig):
    size: str = "l"


class SAM2Long(SAM2):
    """SAM2.1 with SAM2Long's memory tree (default size b+; ``sam2long-t/-s/-b+/-l`` fix the size).
    Not causal: a frame's mask is the final best pathway's (decided after later frames)."""

    name: ClassVar[str] = "sam2long"
    Config = SAM2LongConfig
    capabilities = Capabilities(prompts=frozenset({PromptKind.MASK, PromptKind.BOX, PromptKind.POINTS}),
                                unprompted=True, streaming=False, prompt_feedback=True)


class SAM2LongTiny(SAM2Long):
    default_size = "t"
    Config = SAM2LongTinyConfig


class SAM2LongSmall(SAM2Long):
    default_size = "s"
    Config = SAM2LongSmallConfig


class SAM2LongBasePlus(SAM2Long):
    default_size = "b+"


class SAM2LongLarge(SAM2Long):
    default_size = "l"
    Config = SAM2LongLargeConfig

"""SAM 2.1 (Ravi et al. 2024) on the official ``sam2`` 1.1.0 package, semi-supervised VOS.

Follows ``tools/vos_inference.py`` of facebookresearch/sam2: conditioning masks are added with
``add_new_mask``, masks are ``logits > score_thresh`` after the non-overlapping constraint
(``++model.non_overlap_masks=true``), no post-processing (``apply_postprocessing=False``), and an
object first annotated on a later frame is tracked forward from that frame only and is absent
before it (that script's ``--track_object_appearing_later_in_video`` mode; objects are independent
in SAM2's per-object state, so one shared state gives the same masks as one state per object).
Box and click prompts go through ``add_new_points_or_box``.

Differences from the script, none of which changes a mask: frames are decoded lazily from the
streaming reader (:mod:`adapters.sam2_frames`), memory that can no longer be attended to is
dropped as tracking moves on, and the propagation loop is ours so that each object starts at its
first prompt.

The SAM2 family: this module holds the one tracking loop (:class:`SAM2Session`) and the method
class every variant derives from. A variant (e.g. :mod:`adapters.sam2_rcms`) is one file: a
:class:`~adapters.sam2_family.SAM2Hooks` subclass (mixed into a sam2 predictor class; its
per-frame logic and per-object state), a ``SAM2Config`` subclass naming it, and ``SAM2``
subclasses per size. The loop calls the predictor's ``track_frame`` for every object on every
frame without a prompt and asks it which memory it may still select before pruning.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.prompt_masks import check_prompt
from harness.api import (
    BoxPrompt,
    Capabilities,
    FrameResult,
    FrameSource,
    MaskPrompt,
    Method,
    PointsPrompt,
    Prompt,
    PromptKind,
    Session,
)
from harness.errors import ConfigError, MissingDependencyError
from harness.options import option
from harness.timing import ModelTimer

CHECKPOINTS_URL = "https://github.com/facebookresearch/sam2?tab=readme-ov-file#download-checkpoints"
SIZES: dict[str, tuple[str, str]] = {  # size -> (config inside the sam2 package, checkpoint file name)
    "t": ("configs/sam2.1/sam2.1_hiera_t.yaml", "sam2.1_hiera_tiny.pt"),
    "s": ("configs/sam2.1/sam2.1_hiera_s.yaml", "sam2.1_hiera_small.pt"),
    "b+": ("configs/sam2.1/sam2.1_hiera_b+.yaml", "sam2.1_hiera_base_plus.pt"),
    "l": ("configs/sam2.1/sam2.1_hiera_l.yaml", "sam2.1_hiera_large.pt"),
}


@dataclass(frozen=True)
class SAM2Config:
    """Options of the ``sam2`` methods (``configs/method/sam2*.yaml``); a variant subclasses it.

    size: hiera backbone t | s | b+ | l. ckpt: path to the matching ``sam2.1_hiera_*.pt``.
    random_init: tests only: run without a checkpoint on weights drawn with ``seed``.
    image_size: model input side (default: the config's 1024; multiples of 32; small for tests).
    use_all_masks: condition on every mask prompt (default: each object's first mask only, as
        semi-supervised VOS evaluation does). score_thresh: mask logit threshold.
    apply_postprocessing: upstream's dynamic multimask / hole filling (off in VOS evaluation).
    autocast: auto (bf16 on CUDA, fp32 on CPU, as upstream) | bf16 | fp32.
    prune_memory: drop memory the variant can no longer select (flat memory on long videos).
    frame_cache: pre-processed frames kept in memory. offload_state_to_cpu: keep memories on host.
    proposal_grid / proposal_iou / proposal_min_area: unprompted mode, a ``g x g`` grid of clicks on
    the first frame, de-duplicated by mask IoU, masks smaller than this fraction of the frame dropped.
    """

    size: str = "b+"
    ckpt: str | None = None
    random_init: bool = False
    seed: int = option(0, ge=0)
    image_size: int | None = None
    use_all_masks: bool = False
    score_thresh: float = 0.0
    apply_postprocessing: bool = False
    autocast: str = "auto"
    prune_memory: bool = True
    frame_cache: int = option(2, ge=1)
    offload_state_to_cpu: bool = False
    proposal_grid: int = option(8, ge=1)
    proposal_iou: float = option(0.5, gt=0, le=1)
    proposal_min_area: float = option(0.0005, ge=0, lt=1)

    #: the family member: method name, its predictor (``module.Class`` of a SAM2Hooks subclass),
    #: size -> (sam2 package config, checkpoint file) and where the checkpoints are published
    family: ClassVar[str] = "sam2"
    variant: ClassVar[str] = "adapters.sam2_family.SAM2Hooks"
    sizes: ClassVar[dict[str, tuple[str, str]]] = SIZES
    checkpoints_url: ClassVar[str] = CHECKPOINTS_URL

    def __post_init__(self) -> None:
        f = self.family
        if self.size not in self.sizes:
            raise ConfigError(f"{f}.size must be one of {', '.join(self.sizes)}, got {self.size!r}")
        if self.autocast not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"{f}.autocast must be auto | bf16 | fp32, got {self.autocast!r}")
        if self.image_size is not None and (self.image_size < 32 or self.image_size % 32):
            raise ConfigError(f"{f}.image_size must be a positive multiple of 32, got {self.image_size}")
        if not self.ckpt and not self.random_init:  # here, so the runner refuses it before any work
            raise ConfigError(missing_checkpoint_message(self))

    def model_overrides(self) -> list[str]:
        """Hydra overrides of the variant's model config (its constructor arguments included)."""
        return []


def missing_checkpoint_message(cfg: SAM2Config) -> str:
    name = cfg.sizes[cfg.size][1]
    return (f"method {cfg.family}-{cfg.size} needs a checkpoint: download {name} from {cfg.checkpoints_url} "
            f"(no weights are downloaded at run time) and pass method.ckpt=/path/to/{name}")


def build_predictor(cfg: SAM2Config, device: str):
    """The variant's predictor for ``cfg`` (weights from ``cfg.ckpt`` or seeded random): the
    official builder with the model's ``_target_`` set to the family's factory."""
    import torch
    from sam2.build_sam import build_sam2_video_predictor

    config_file, ckpt_name = cfg.sizes[cfg.size]
    ckpt = None
    if cfg.ckpt:
        path = Path(cfg.ckpt).expanduser()
        if not path.is_file():
            raise MissingDependencyError(
                f"{cfg.family} checkpoint '{cfg.ckpt}' does not exist; download {ckpt_name} from "
                f"{cfg.checkpoints_url} and set method.ckpt to its path")
        ckpt = str(path)
    elif not cfg.random_init:
        raise ConfigError(missing_checkpoint_message(cfg))
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{device}' requested but torch has no CUDA here; use device=cpu")
    overrides = ["++model.non_overlap_masks=true",
                 "++model._target_=adapters.sam2_family.make_predictor", f"++model.variant={cfg.variant}",
                 *cfg.model_overrides()]
    if cfg.image_size:
        overrides.append(f"++model.image_size={cfg.image_size}")
    if ckpt is None:
        torch.manual_seed(cfg.seed)  # random init draws from the global generator
    return build_sam2_video_predictor(config_file, ckpt, device=device, hydra_overrides_extra=overrides,
                                      apply_postprocessing=cfg.apply_postprocessing)


def sam2_box(box) -> np.ndarray:
    """A pixel-inclusive ``(x, y, w, h)`` box as SAM2's ``[x0, y0, x1, y1]`` ``(4,) float32``.

    SAM2 builds its training boxes with inclusive max corners (``sam2/utils/misc.py mask_to_box``:
    the last pixel's coordinate, not one past it), so a mask's box is given the same way here; one
    pixel matters on MOSEv2's small objects.
    """
    x, y, w, h = (float(v) for v in box)
    return np.array([x, y, x + w - 1, y + h - 1], np.float32)


class SAM2Session(Session):
    def __init__(self, method: SAM2, video: FrameSource, max_objects: int) -> None:
        from adapters.sam2_frames import LazyFrames, new_inference_state

        self.method, self.video, self.max_objects = method, video, max_objects
        self.cfg: SAM2Config = method.cfg
        self.predictor = method.predictor
        self.images = LazyFrames(video, self.predictor.image_size, cache=self.cfg.frame_cache,
                                 resize=self.predictor.frame_resize)
        self.state = new_inference_state(self.images, video.height, video.width, method.device,
                                         self.cfg.offload_state_to_cpu)
        self.window = self.predictor.memory_window()
        self.objects: dict[int, Any] = {}  # obj_idx -> the variant's per-object state (this video)
        self.prompts: list[Prompt] = []
        self._masked: set[int] = set()  # objects that already got a conditioning mask
        self._stale = False  # the live state holds tracking results: replay before new prompts
        self.dropped = 0  # memory entries pruned (reported by the memory benchmark)
        # model work inside propagate() (proposals, replay, preflight, frames): popped per frame
        self.timer = ModelTimer(method.device)

    # -- prompts --------------------------------------------------------------------------
    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        check_prompt(self.method.capabilities, prompt, self.method.name)
        if not 0 <= prompt.frame < len(self.video):
            raise ConfigError(f"prompt on frame {prompt.frame}, video '{self.video.name}' has "
                              f"{len(self.video)} frames")
        if isinstance(prompt, MaskPrompt) and prompt.mask.shape != (self.video.height, self.video.width):
            raise ConfigError(f"mask prompt for object {prompt.obj_id} has shape {prompt.mask.shape}, "
                              f"frames of '{self.video.name}' are {(self.video.height, self.video.width)}")
        if isinstance(prompt, MaskPrompt) and prompt.obj_id in self._masked and not self.cfg.use_all_masks:
            return self._frame_masks(prompt.frame)  # semi-supervised: the first mask conditions
        if self._stale:
            self._replay()
        self.prompts.append(prompt)
        with self.method.inference():
            video_res = self._apply(prompt)
        return self._to_masks(video_res)

    def _apply(self, prompt: Prompt):
        p, st = self.predictor, self.state
        if isinstance(prompt, MaskPrompt):
            self._masked.add(prompt.obj_id)
            _, _, out = p.add_new_mask(st, prompt.frame, prompt.obj_id, prompt.mask.astype(bool))
        elif isinstance(prompt, BoxPrompt):
            _, _, out = p.add_new_points_or_box(st, prompt.frame, prompt.obj_id, box=sam2_box(prompt.box))
        elif isinstance(prompt, PointsPrompt):
            _, _, out = p.add_new_points_or_box(st, prompt.frame, prompt.obj_id,
                                                points=np.asarray(prompt.points, np.float32),
                                                labels=np.asarray(prompt.labels, np.int32),
                                                clear_old_points=False)
        else:  # pragma: no cover - check_prompt rejects the rest
            raise AssertionError(prompt)
        return out

    def _replay(self) -> None:
        self.predictor.reset_state(self.state)
        self._masked.clear()
        with self.method.inference():
            for prompt in self.prompts:
                self._apply(prompt)
        self._stale = False

    def _to_masks(self, video_res) -> dict[int, np.ndarray]:
        ids = self.state["obj_ids"]
        binary = (video_res > self.cfg.score_thresh).cpu().numpy()[:, 0]
        return {int(oid): binary[k] for k, oid in enumerate(ids)}

    def _frame_masks(self, frame: int) -> dict[int, np.ndarray]:
        with self.method.inference():
            cons = self.predictor._consolidate_temp_output_across_obj(
                self.state, frame, is_cond=True, consolidate_at_video_res=True)
            _, video_res = self.predictor._get_orig_video_res_output(self.state, cons["pred_masks_video_res"])
        return self._to_masks(video_res)

    def score_clicks(self, frame: int, points: Sequence[tuple[float, float]]) -> list[tuple[float, np.ndarray]]:
        """Decode each single positive click ``(x, y)`` on ``frame`` as its own object, in a scratch
        state (this session's prompts and memory are untouched; the backbone runs once).

        Returns ``(object score in [0, 1], (H, W) bool mask)`` per click, in click order (the
        interface :mod:`adapters.sam2_proposals` uses).
        """
        import torch

        from adapters.sam2_frames import new_inference_state

        h, w = self.video.height, self.video.width
        p = self.predictor
        scratch = new_inference_state(self.images, h, w, self.method.device, self.cfg.offload_state_to_cpu)
        out: list[tuple[float, np.ndarray]] = []
        with self.method.inference():
            for k, (x, y) in enumerate(points):
                p.add_new_points_or_box(scratch, frame, k, points=np.array([[x, y]], np.float32),
                                        labels=np.array([1], np.int32))
            for k in range(len(points)):
                res = scratch["temp_output_dict_per_obj"][k]["cond_frame_outputs"][frame]
                logits = torch.nn.functional.interpolate(res["pred_masks"].float(), size=(h, w),
                                                         mode="bilinear", align_corners=False)
                score = float(torch.sigmoid(res["object_score_logits"].float()).item())
                out.append((score, (logits[0, 0] > self.cfg.score_thresh).cpu().numpy()))
        return out

    # -- propagation ----------------------------------------------------------------------
    def propagate(self) -> Iterator[FrameResult]:
        """Proposals (unprompted), a replay of the prompts (re-prediction) and the preflight are
        model time charged to the first processed frame; frames before the first prompt are
        placeholders (``processed=False``)."""
        self.timer.pop()  # a new pass: nothing carried over from an abandoned one
        if not self.prompts:
            if not self.method.capabilities.unprompted:
                raise ConfigError("sam2 needs at least one prompt")
            from adapters.sam2_proposals import propose

            with self.timer:  # grid clicks + backbone + the proposals' mask encoding
                for prompt in propose(self, self.max_objects):
                    self.add_prompt(prompt)
            if not self.prompts:  # nothing found: every frame empty
                for t in range(len(self.video)):
                    yield FrameResult(frame=t, model_time_s=self.timer.pop(), processed=t == 0)
                return
        elif self._stale:
            with self.timer:
                self._replay()
        yield from self._track()

    def _track(self) -> Iterator[FrameResult]:
        import torch
        from sam2.modeling.sam2_base import NO_OBJ_SCORE

        from adapters.sam2_frames import prune_memory

        p, st = self.predictor, self.state
        self._stale = True
        timer = self.timer
        with timer, self.method.inference():  # runs the memory encoder per prompted object
            p.propagate_in_video_preflight(st)
        ids = list(st["obj_ids"])
        self.objects = {k: p.new_object_state() for k in range(len(ids))}  # fresh for each pass
        order = sorted(range(len(ids)), key=lambda k: ids[k])  # stack objects by id, as the script
        starts = {k: min(st["output_dict_per_obj"][k]["cond_frame_outputs"]) for k in order}
        low = p.image_size // 4
        last = len(self.video) - 1
        # frame -> object -> (low-res logits, object-score logit); a frame is yielded once every
        # object's output is final (at once for causal variants: SAM2Hooks.settle)
        decided: dict[int, dict[int, tuple[Any, Any]]] = {}
        spent: dict[int, float] = {}  # model time of frames not yielded yet
        for t in range(len(self.video)):
            if t < min(starts.values()):  # no model work: not a processed frame
                empty = np.zeros((self.video.height, self.video.width), bool)
                yield FrameResult(frame=t, masks={ids[k]: empty for k in order},
                                  scores={ids[k]: 0.0 for k in order}, processed=False)
                continue
            self.images[t]  # decode + pre-process outside the model timer
            with timer, self.method.inference():
                for k in order:
                    out_dict = st["output_dict_per_obj"][k]
                    if t < starts[k]:
                        absent = torch.full((1, 1, low, low), NO_OBJ_SCORE, dtype=torch.float32, device=st["device"])
                        decided.setdefault(t, {})[k] = (absent, None)
                        continue
                    if t in out_dict["cond_frame_outputs"]:
                        out = out_dict["cond_frame_outputs"][t]
                        masks = out["pred_masks"].to(st["device"], non_blocking=True)
                    else:  # the variant's per-frame logic (plain SAM2: one tracking step)
                        out, masks = p.track_frame(st, k, self.objects[k], t)
                    st["frames_tracked_per_obj"][k][t] = {"reverse": False}
                    for f, final in p.settle(self.objects[k], t, out, masks, t == last).items():
                        decided.setdefault(f, {})[k] = final
            spent[t] = timer.pop()
            if self.cfg.prune_memory:
                self.dropped += prune_memory(
                    st, lambda k, t=t: p.selectable_frames(st, k, self.objects[k], t + 1),
                    lambda k, t=t: p.selectable_cond_frames(st, k, self.objects[k], t + 1))
            while spent and len(decided.get(min(spent), ())) == len(order):
                f = min(spent)
                finals = decided.pop(f)
                yield self._frame_result(f, [finals[k] for k in order], [ids[k] for k in order], spent.pop(f))
        self.images.close_stream()

    def _frame_result(self, frame: int, finals: list[tuple[Any, Any]], ids: list[int], spent: float) -> FrameResult:
        """Frame ``frame``'s masks from each object's final low-res logits (in ``ids`` order): the
        video-resolution resize and the non-overlap constraint across objects, as the script."""
        import torch

        p = self.predictor
        with self.timer, self.method.inference():
            _, video_res = p._get_orig_video_res_output(self.state, torch.cat([m.float() for m, _ in finals], 0))
            binary = (video_res > self.cfg.score_thresh).cpu().numpy()[:, 0]
        if p.output_prompt_masks:  # the variant's driver writes the given mask on its frame
            given = {(q.frame, q.obj_id): q.mask for q in self.prompts if isinstance(q, MaskPrompt)}
            for i, oid in enumerate(ids):
                if (frame, oid) in given:
                    binary[i] = given[frame, oid].astype(bool)
        scores = {oid: 0.0 if s is None else float(torch.sigmoid(s.float()).item())
                  for oid, (_, s) in zip(ids, finals)}
        return FrameResult(frame=frame, masks={oid: binary[i] for i, oid in enumerate(ids)},
                           scores=scores, model_time_s=spent + self.timer.pop())

    def close(self) -> None:
        self.images.close_stream()
        self.state = {}


class SAM2(Method):
    """SAM 2.1 video predictor (default size b+; ``sam2-t``/``-s``/``-b+``/``-l`` fix the size)."""

    name: ClassVar[str] = "sam2"
    default_size: ClassVar[str | None] = None
    Config = SAM2Config
    capabilities = Capabilities(
        prompts=frozenset({PromptKind.MASK, PromptKind.BOX, PromptKind.POINTS}),
        unprompted=True, prompt_feedback=True, reprompt=True,
    )
    requires = {"torch": "pip install torch (see the Makefile for the pinned CPU wheel)",
                "sam2": "SAM2_BUILD_CUDA=0 pip install --no-build-isolation sam2==1.1.0"}

    def __init__(self, cfg: SAM2Config | None = None, device: str = "cpu") -> None:
        cfg = cfg or self.Config()
        f = cfg.family
        if self.default_size and cfg.size != self.default_size:
            raise ConfigError(f"method {f}-{self.default_size} is the {self.default_size} model, got "
                              f"size={cfg.size!r}; use method {f} with size={cfg.size!r} instead")
        super().__init__(cfg, device)
        self.predictor = build_predictor(cfg, device)

    @contextlib.contextmanager
    def inference(self):
        """``torch.inference_mode`` plus autocast: bf16 on CUDA as upstream, fp32 on CPU unless
        ``autocast: bf16``. Entered per frame, never across a ``yield``."""
        import torch

        dev = "cuda" if str(self.device).startswith("cuda") else "cpu"
        bf16 = self.cfg.autocast == "bf16" or (self.cfg.autocast == "auto" and dev == "cuda")
        with torch.inference_mode(), torch.autocast(dev, dtype=torch.bfloat16, enabled=bf16):
            yield

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return SAM2Session(self, video, max_objects)


@dataclass(frozen=True)
class SAM2TinyConfig(SAM2Config):
    size: str = "t"


@dataclass(frozen=True)
class SAM2SmallConfig(SAM2Config):
    size: str = "s"


@dataclass(frozen=True)
class SAM2LargeConfig(SAM2Config):
    size: str = "l"


class SAM2Tiny(SAM2):
    default_size = "t"
    Config = SAM2TinyConfig


class SAM2Small(SAM2):
    default_size = "s"
    Config = SAM2SmallConfig


class SAM2BasePlus(SAM2):
    default_size = "b+"


class SAM2Large(SAM2):
    default_size = "l"
    Config = SAM2LargeConfig

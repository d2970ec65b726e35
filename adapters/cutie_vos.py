"""Cutie (Cheng et al. 2024, "Putting the Object Back into Video Object Segmentation") on the
``rf-cutie==1.0.1`` package (import name ``cutie``; hkchengrex/Cutie's code), semi-supervised VOS.

Follows ``cutie/eval_vos.py`` with the ``mose-val`` dataset config in the YouTube-VOS mode that
gives every object at its first appearance (``use_all_masks=True`` with a sparse mask folder: on
an object's first frame, a mask holding only the objects that start there):

* frames before the first prompted frame get no ``step`` (and count as not processed); the
  memory clock (``mem_every``) starts at the first prompted frame;
* frames are ``ToTensor``-scaled to ``[0, 1]``; when the short side exceeds ``size`` the frame
  is resized to short side ``size`` (bilinear, antialias, on the float tensor) and the mask of
  new objects with PIL nearest, as ``VideoReader`` does; the new objects' ids are the labels left
  after that resize;
* ``InferenceCore.step(image, mask, labels, end=last_frame)``; the output probabilities are
  upsampled bilinearly (``align_corners=False``) back to the frame size, then argmax and the
  object manager's id remap, as ``ResultSaver.process``.

The configuration is the package's own ``eval_config.yaml`` composed with hydra
(``model=base|small``, ``dataset=mose-val`` and the options below as overrides, then
``get_dataset_cfg``), inside hydra's scoped initialiser so that no global hydra state is left
behind (the sam2 adapter composes with hydra too).

Differences from the script: frames come from the harness's streaming reader (OpenCV decoding)
instead of a ``DataLoader`` over PIL decoding (identical RGB on the golden's JPEGs, which the
equivalence test reads through that reader; ``tests/golden/cutie/README.md``), and the network is
built without the ImageNet download of its ResNet backbones (a checkpoint overwrites every weight;
a checkpoint missing weights is refused).

Box, point and scribble prompts become a first mask through GrabCut
(:func:`adapters.prompt_masks.prompt_to_mask`), as for the classical baselines: Cutie itself takes
only masks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.memory_vos import FirstMasks, inference_context, resnets_without_download
from harness.api import (
    Capabilities,
    FrameResult,
    FrameSource,
    Method,
    Prompt,
    PromptKind,
    Session,
)
from harness.errors import ConfigError, MissingDependencyError
from harness.timing import ModelTimer

CHECKPOINTS_URL = "https://github.com/hkchengrex/Cutie/releases/tag/v1.0"
MODELS: dict[str, str] = {"base": "cutie-base-mega.pth", "small": "cutie-small-mega.pth"}
TEST_KEY_SCALE = 0.1
"""``random_init`` scales the key projection by this: with plain random weights the unshifted
``exp`` of Cutie's top-k softmax overflows to NaN (``tests/golden/cutie/README.md``)."""


@dataclass(frozen=True)
class CutieConfig:
    """Options of the ``cutie`` methods (``configs/method/cutie*.yaml``); defaults are
    ``eval_config.yaml`` + ``mose-val`` of rf-cutie 1.0.1.

    model: base | small. ckpt: path to ``cutie-base-mega.pth`` / ``cutie-small-mega.pth``.
    random_init: tests only: seeded random weights (key projection x0.1), meaningless masks.
    size: resize frames whose short side exceeds this to this short side (-1: never).
    mem_every: a memory frame every this many frames. max_mem_frames: working-memory frames.
    use_long_term: long-term memory (off for mose-val; its settings are the eval config's).
    top_k: memory readout keeps this many affinities per pixel (null: all).
    stagger_updates: sensory-memory updates per memory period. chunk_size: objects per pass.
    amp: fp16 autocast on CUDA (off in the original's evaluation).
    """

    model: str = "base"
    ckpt: str | None = None
    random_init: bool = False
    seed: int = 0
    size: int = 480
    mem_every: int = 5
    max_mem_frames: int = 5
    use_long_term: bool = False
    top_k: int | None = 30
    stagger_updates: int = 5
    chunk_size: int = -1
    amp: bool = False

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"cutie.model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.mem_every < 1 or self.max_mem_frames < 1 or self.stagger_updates < 1:
            raise ConfigError("cutie.mem_every, max_mem_frames and stagger_updates must be >= 1")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"cutie.top_k must be >= 1 or null, got {self.top_k}")
        if not self.ckpt and not self.random_init:  # here, so the runner refuses it before any work
            raise ConfigError(missing_checkpoint_message(self.model))


def missing_checkpoint_message(model: str) -> str:
    name = MODELS[model]
    return (f"method cutie ({model}) needs a checkpoint: download {name} from {CHECKPOINTS_URL} "
            f"(no weights are downloaded at run time) and pass method.ckpt=/path/to/{name}")


def compose_config(cfg: CutieConfig) -> Any:
    """rf-cutie's ``eval_config`` for ``cfg`` as ``eval_vos.py`` sees it after ``get_dataset_cfg``."""
    from cutie.inference.utils.args_utils import get_dataset_cfg
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.initialize import get_gh_backup, restore_gh_from_backup
    from omegaconf import open_dict

    overrides = [
        f"model={cfg.model}", "dataset=mose-val", "weights=null", "use_all_masks=true",
        f"size={cfg.size}", f"mem_every={cfg.mem_every}", f"use_long_term={str(cfg.use_long_term).lower()}",
        f"max_mem_frames={cfg.max_mem_frames}", f"top_k={'null' if cfg.top_k is None else cfg.top_k}",
        f"stagger_updates={cfg.stagger_updates}", f"chunk_size={cfg.chunk_size}", f"amp={str(cfg.amp).lower()}",
    ]
    # hydra's global state may belong to someone else (importing sam2 initialises it): set it
    # aside, compose, and put it back, leaving nothing of ours behind
    backup = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module("cutie.config", version_base="1.3.2"):
            composed = compose("eval_config", overrides=overrides)
    finally:
        if backup is not None:
            restore_gh_from_backup(backup)
    with open_dict(composed):
        get_dataset_cfg(composed)
    return composed


def build_network(model_cfg: Any) -> Any:
    """``CUTIE(cfg)`` in eval mode on CPU, randomly initialised (from torch's global generator)."""
    from cutie.model.cutie import CUTIE
    from cutie.model.utils import resnet

    with resnets_without_download(resnet):
        return CUTIE(model_cfg).eval()


def random_weights(model_cfg: Any, seed: int, key_scale: float = TEST_KEY_SCALE) -> dict[str, Any]:
    """Seeded random state dict for tests (the global RNG is left as it was).

    Cutie initialises some weights with ``nn.init.orthogonal_`` (a QR), whose last bits differ between
    CPU kinds (AVX-512 or not), and random weights amplify that into different masks. During the build
    it is replaced by a QR-free seeded draw of the same shape and variance (uniform, ``gain /
    sqrt(fan_in)`` standard deviation), so the test weights are the same on every CPU."""
    import math

    import torch

    def orthogonal_free(tensor, gain=1.0, generator=None):
        bound = gain * math.sqrt(3.0 / max(1, tensor[0].numel()))
        with torch.no_grad():
            return tensor.uniform_(-bound, bound, generator=generator)

    original = torch.nn.init.orthogonal_
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.nn.init.orthogonal_ = orthogonal_free
        try:
            net = build_network(model_cfg)
        finally:
            torch.nn.init.orthogonal_ = original
    state = net.state_dict()
    state["key_proj.key_proj.weight"] = state["key_proj.key_proj.weight"] * key_scale
    return state


def load_checkpoint(path: Path, network: Any) -> dict[str, Any]:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ConfigError(f"cutie checkpoint '{path}' is not a state dict; use {', '.join(MODELS.values())}")
    missing = [k for k in network.state_dict() if k not in state]
    if missing:
        raise ConfigError(f"cutie checkpoint '{path}' lacks {len(missing)} weights of this model "
                          f"(e.g. {missing[0]}): wrong model size? set method.model to match it")
    return state


class CutieSession(Session):
    def __init__(self, method: Cutie, video: FrameSource) -> None:
        self.method, self.video = method, video
        self.prompts = FirstMasks(method, video)
        self.timer = ModelTimer(method.device)
        self.core: Any = None

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        self.prompts.add(prompt)
        return None

    def _inputs(self, rgb: np.ndarray, new: dict[int, np.ndarray] | None):
        """``(image (3, h, w) float, mask (h, w) long | None, labels, resized)`` as ``VideoReader``."""
        import torch
        import torch.nn.functional as F
        from PIL import Image

        size = self.method.eval_cfg.size
        height, width = rgb.shape[:2]
        resized = size > 0 and min(height, width) > size
        # torchvision's ToTensor makes the CHW tensor contiguous before the float conversion; a
        # permuted (channels-last) one flows through the network in that layout and its Linear
        # layers then round differently (1e-6), flipping near-tie pixels of random weights
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous().float().div(255)
        if resized:  # torchvision Resize(size) on a tensor: short side = size, long side floored
            short, long = min(height, width), max(height, width)
            new_long = int(size * long / short)
            out_hw = (size, new_long) if height <= width else (new_long, size)
            image = F.interpolate(image[None], size=out_hw, mode="bilinear", align_corners=False,
                                  antialias=True)[0]
        if new is None:
            return image, None, None, resized
        png = Image.fromarray(FirstMasks.index_mask(new, (height, width)))
        if resized:
            png = png.resize((image.shape[2], image.shape[1]), Image.NEAREST)
        mask = torch.from_numpy(np.array(png)).long()
        labels = torch.unique(mask)
        return image, mask, labels[labels != 0].tolist(), resized

    def propagate(self) -> Iterator[FrameResult]:
        """One ``step`` per frame from the first prompted frame on; earlier frames are
        placeholders (``processed=False``)."""
        import torch
        import torch.nn.functional as F
        from cutie.inference.inference_core import InferenceCore

        starts = self.prompts.starts()
        first, n, ids = min(starts), len(self.video), sorted(self.prompts.first)
        empty = np.zeros((self.video.height, self.video.width), bool)
        device = self.method.device
        self.timer.pop()
        self.core = InferenceCore(self.method.network, cfg=self.method.eval_cfg)
        for t, rgb in self.video.stream():
            if t < first:
                yield FrameResult(frame=t, masks={o: empty for o in ids}, processed=False)
                continue
            image, mask, labels, resized = self._inputs(rgb, starts.get(t))
            with self.timer, self.method.inference():
                image = image.to(device)
                mask = mask.to(device) if mask is not None else None
                prob = self.core.step(image, mask, labels, end=(t == n - 1))
                if resized:
                    prob = F.interpolate(prob.unsqueeze(1), (self.video.height, self.video.width),
                                         mode="bilinear", align_corners=False)[:, 0]
                tmp = torch.argmax(prob, dim=0)
                out = torch.zeros_like(tmp)
                for tmp_id, obj in self.core.object_manager.tmp_id_to_obj.items():
                    out[tmp == tmp_id] = obj.id
                label_map = out.cpu().numpy()
            yield FrameResult(frame=t, masks={o: label_map == o for o in ids}, model_time_s=self.timer.pop())
        self.core = None

    def close(self) -> None:
        self.core = None


class Cutie(Method):
    """Cutie (default model base; ``cutie-b`` / ``cutie-s`` fix the model)."""

    name: ClassVar[str] = "cutie"
    default_model: ClassVar[str | None] = None
    Config = CutieConfig
    capabilities = Capabilities(
        prompts=frozenset({PromptKind.MASK, PromptKind.BOX, PromptKind.POINTS, PromptKind.SCRIBBLE}),
    )
    requires = {"torch": "pip install torch (see the Makefile for the pinned CPU wheel)",
                "hydra": "pip install hydra-core (or: pip install -e '.[cutie]')",
                "cutie.inference": "pip install rf-cutie==1.0.1 (or: pip install -e '.[cutie]'); "
                                   "never the unrelated package 'cutie'"}

    def __init__(self, cfg: CutieConfig | None = None, device: str = "cpu") -> None:
        import torch

        cfg = cfg or self.Config()
        if self.default_model and cfg.model != self.default_model:
            raise ConfigError(f"method {self.name} is the {self.default_model} model, got model={cfg.model!r}; "
                              f"use method cutie with model={cfg.model!r} instead")
        super().__init__(cfg, device)
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device '{device}' requested but torch has no CUDA here; use device=cpu")
        self.eval_cfg = compose_config(cfg)
        # eval_vos.py builds and loads the network inside torch.inference_mode() (the function is
        # decorated with it), so its parameters are inference tensors; CPU linear layers then take
        # another kernel path than with ordinary parameters (1e-6 apart, enough to flip near-tie
        # pixels of random weights): build the same way
        with torch.inference_mode():
            self.network = self._build(cfg, device)

    def _build(self, cfg: CutieConfig, device: str) -> Any:
        network = build_network(self.eval_cfg)
        if cfg.ckpt:
            path = Path(cfg.ckpt).expanduser()
            if not path.is_file():
                raise MissingDependencyError(
                    f"cutie checkpoint '{cfg.ckpt}' does not exist; download {MODELS[cfg.model]} from "
                    f"{CHECKPOINTS_URL} and set method.ckpt to its path")
            state = load_checkpoint(path, network)
        else:
            state = random_weights(self.eval_cfg, cfg.seed)
        network.load_weights(state)
        return network.to(device).eval()

    def inference(self):
        """:func:`adapters.memory_vos.inference_context`: fp16 autocast on CUDA with ``amp``."""
        return inference_context(self.device, self.cfg.amp)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return CutieSession(self, video)


@dataclass(frozen=True)
class CutieSmallConfig(CutieConfig):
    model: str = "small"


class CutieBase(Cutie):
    name = "cutie-b"
    default_model = "base"


class CutieSmall(Cutie):
    name = "cutie-s"
    default_model = "small"
    Config = CutieSmallConfig

"""XMem (Cheng & Schwing, ECCV 2022) from a user's checkout of hkchengrex/XMem (MIT), semi-supervised VOS.

There is no XMem package: the user gives a checkout (``method.repo``) and its checkpoint
(``method.ckpt``, ``XMem.pth`` from the v1.0 release). The checkout's code runs unchanged; this
adapter does what its ``eval.py`` does around it, in the YouTube-VOS mode that gives every object at
its first appearance (``--dataset Y19 --save_all``; ``--dataset G`` reads only the first mask):

* frames before the first prompted frame get no ``step`` (and count as not processed), so the
  memory clock (``mem_every``) starts at the first prompted frame;
* frames are ``ToTensor``-scaled to ``[0, 1]``, normalised with the ImageNet mean/std, then (size
  >= 0: always, even upwards) resized to short side ``size`` as torchvision>=0.17's ``Resize`` does
  on a tensor (long side ``int(size * long / short)``, bilinear, antialias, skipped when the size
  is unchanged); the mask of the objects starting on a frame goes through the checkout's
  ``MaskMapper`` (one-hot of every label seen so far) and is then resized nearest to
  ``int(h / min(h, w) * size) x int(w / min(h, w) * size)`` (``VideoReader.resize_mask``);
* ``InferenceCore.set_all_labels`` + ``step(image, mask, new_labels, end=last_frame)``; the
  probabilities are upsampled bilinearly (``align_corners=False``) to the frame size, then
  ``torch.max(prob, 0).indices`` and the mapper's id remap;
* eval.py's options and defaults (``size`` 480, ``mem_every`` 5, ``deep_update_every`` -1 = with
  each memory frame, ``top_k`` 30, long-term memory on with T_max 10, T_min 5, P 128, LT_max 10000)
  and its per-video rule for long-term usage counting (on when ``frames / (T_max - T_min) * P >=
  LT_max``); on CUDA the step runs under fp16 autocast as eval.py does unless ``--benchmark``
  (``amp: false``); CPU is fp32.

Isolation: the checkout's top-level packages are called ``model``, ``inference``, ``util`` and
``dataset``, names that other code uses too. :func:`load_checkout` imports them in-process
(:func:`adapters.checkout_import.import_isolated`) with the checkout first on ``sys.path`` and any
modules of those names set aside, then takes every module it loaded out of ``sys.modules`` (keeping
them on a private :class:`Checkout`) and puts back what was there, so nothing of the checkout is
importable by name afterwards and nothing else is shadowed.
In-process rather than a server process: the step runs in the runner's own torch (same threads,
device and timing, no frame copies across a pipe), and the modules imported here (network,
inference core, memory manager, mask mapper) do no imports at call time, so they never look
their names up again.

Differences from eval.py: frames come from the harness's reader (OpenCV decoding instead of PIL,
identical RGB on the golden's JPEGs, ``tests/golden/xmem/README.md``) one at a time instead of a
``DataLoader``; the network is built with ``model_path=None`` (dimensions read from the checkpoint
as ``XMem.init_hyperparameters`` does) and without the ImageNet download of its ResNets (the
checkpoint overwrites every weight); no flip / multi-scale / score saving.

Box, point and scribble prompts become a first mask through GrabCut
(:func:`adapters.prompt_masks.prompt_to_mask`), as for Cutie: XMem itself takes only masks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.checkout_import import Checkout, import_isolated
from adapters.memory_vos import FirstMasks, imagenet_frame, inference_context, resnets_without_download
from harness.api import Capabilities, FrameResult, FrameSource, Method, Prompt, PromptKind, Session
from harness.errors import ConfigError, MissingDependencyError
from harness.timing import ModelTimer

REPO_URL = "https://github.com/hkchengrex/XMem"
CHECKPOINTS_URL = "https://github.com/hkchengrex/XMem/releases/tag/v1.0"
CHECKPOINT = "XMem.pth"
TOP_LEVEL = ("model", "inference", "util", "dataset")
"""The checkout's top-level packages (they must not leak into ``sys.modules``)."""
NEEDED = ("model.network", "model.resnet", "inference.inference_core", "inference.data.mask_mapper")
TEST_KEY_SCALE = 0.1
"""``random_init`` scales the key projection by this: with plain random weights the unshifted ``exp``
of XMem's top-k softmax underflows to NaN on every propagated frame (``tests/golden/xmem/README.md``)."""
INSTALL = (f"a checkout of hkchengrex/XMem (MIT; no package): git clone {REPO_URL} and pass method.repo=PATH; "
           f"its checkpoint {CHECKPOINT} from {CHECKPOINTS_URL}: method.ckpt=PATH (nothing is downloaded at run "
           "time; random_init=true for tests)")


@dataclass(frozen=True)
class XMemConfig:
    """Options of the ``xmem`` method (``configs/method/xmem.yaml``); defaults are ``eval.py``'s.

    repo: path to a checkout of hkchengrex/XMem. ckpt: path to ``XMem.pth``.
    random_init: tests only: seeded random weights (key projection x0.1), meaningless masks.
    size: resize the short side to this (-1: original resolution). mem_every: a memory frame every
    this many frames (r). deep_update_every: -1 = with each memory frame. top_k: affinities kept per
    pixel (null: all). long_term: long-term memory; max/min_mid_term_frames (T_max, T_min),
    num_prototypes (P), max_long_term_elements (LT_max). amp: fp16 autocast on CUDA (eval.py's default;
    its ``--benchmark`` turns it off).
    """

    repo: str | None = None
    ckpt: str | None = None
    random_init: bool = False
    seed: int = 0
    size: int = 480
    mem_every: int = 5
    deep_update_every: int = -1
    top_k: int | None = 30
    long_term: bool = True
    max_mid_term_frames: int = 10
    min_mid_term_frames: int = 5
    num_prototypes: int = 128
    max_long_term_elements: int = 10000
    amp: bool = True

    def __post_init__(self) -> None:
        if self.mem_every < 1 or self.deep_update_every == 0:
            raise ConfigError("xmem.mem_every must be >= 1 and xmem.deep_update_every -1 or >= 1")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"xmem.top_k must be >= 1 or null, got {self.top_k}")
        if not 1 <= self.min_mid_term_frames < self.max_mid_term_frames:
            raise ConfigError("xmem needs 1 <= min_mid_term_frames < max_mid_term_frames, got "
                              f"{self.min_mid_term_frames}, {self.max_mid_term_frames}")
        if self.num_prototypes < 1 or self.max_long_term_elements <= self.num_prototypes:
            raise ConfigError("xmem needs num_prototypes >= 1 and max_long_term_elements > num_prototypes")
        if not self.repo:  # here, so the runner refuses it before any work
            raise ConfigError(f"method xmem needs {INSTALL}")
        if not self.ckpt and not self.random_init:
            raise ConfigError(f"method xmem needs its checkpoint: download {CHECKPOINT} from {CHECKPOINTS_URL} "
                              f"and pass method.ckpt=/path/to/{CHECKPOINT}")

    def eval_config(self) -> dict[str, Any]:
        """The ``config`` dict ``eval.py`` hands to ``XMem`` and ``InferenceCore`` (``vars(args)`` +
        ``enable_long_term``), before the per-video ``enable_long_term_count_usage``."""
        return {"top_k": self.top_k, "mem_every": self.mem_every, "deep_update_every": self.deep_update_every,
                "enable_long_term": self.long_term, "disable_long_term": not self.long_term,
                "max_mid_term_frames": self.max_mid_term_frames, "min_mid_term_frames": self.min_mid_term_frames,
                "num_prototypes": self.num_prototypes, "max_long_term_elements": self.max_long_term_elements,
                "size": self.size, "benchmark": not self.amp, "flip": False, "save_scores": False}


def long_term_limit(video: str, frame: int, cfg: XMemConfig) -> str:
    """The message for XMem's own limit (``KVMemoryStore.remove_obsolete_features``): once the
    long-term memory is full it drops rarely used entries, which its data structure cannot do
    while objects that started on different frames are held (object groups). eval.py stops on
    the same frame; MOSEv2 gives every object on frame 0 (one group), so its videos never hit it."""
    return (f"xmem: video '{video}' reached XMem's own long-term memory limit on frame {frame} "
            f"({cfg.max_long_term_elements} elements, method.max_long_term_elements) with objects that "
            "started on different frames, which XMem's memory cannot prune (its eval.py stops here too). "
            "Run it with method.long_term=false, or a larger method.max_long_term_elements (more memory; "
            "results then differ from eval.py's defaults)")


def load_checkout(repo: str | Path) -> Checkout:
    """Import the checkout at ``repo`` isolated (see the module docstring); cached per path.

    Raises:
        MissingDependencyError: ``repo`` is not an XMem checkout (naming what to get).
    """
    root = Path(repo).expanduser().resolve()
    for rel in ("model/network.py", "inference/inference_core.py", "inference/data/mask_mapper.py"):
        if not (root / rel).is_file():
            raise MissingDependencyError(f"method xmem: '{repo}' is not a checkout of hkchengrex/XMem (no {rel}); "
                                         f"it needs {INSTALL}")
    return import_isolated(root, TOP_LEVEL, NEEDED, "xmem")


def dims_of(state: Mapping[str, Any]) -> dict[str, int]:
    """key/value/hidden dimensions of a checkpoint, as ``XMem.init_hyperparameters`` reads them."""
    hidden = state.get("decoder.hidden_update.transform.weight")
    return {"key_dim": state["key_proj.key_proj.weight"].shape[0],
            "value_dim": state["value_encoder.fuser.block2.conv2.weight"].shape[0],
            "hidden_dim": 0 if hidden is None else hidden.shape[0] // 3}


def build_network(checkout: Checkout, config: dict[str, Any]) -> Any:
    """``XMem(config, model_path=None)`` on CPU, randomly initialised from torch's global generator;
    fills ``config``'s missing key/value/hidden dimensions with XMem's defaults (in place, as XMem does)."""
    with resnets_without_download(checkout["model.resnet"]), contextlib.redirect_stdout(None):  # it prints its dims
        return checkout["model.network"].XMem(config, model_path=None).eval()


def random_weights(checkout: Checkout, seed: int, key_scale: float = TEST_KEY_SCALE) -> dict[str, Any]:
    """Seeded random state dict of the default XMem for tests (the global RNG is left as it was)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_network(checkout, {})
    state = net.state_dict()
    state["key_proj.key_proj.weight"] = state["key_proj.key_proj.weight"] * key_scale
    return state


def load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a wrong file
        raise ConfigError(f"xmem checkpoint '{path}' cannot be read ({exc}); use {CHECKPOINT} from "
                          f"{CHECKPOINTS_URL}") from None
    if not isinstance(state, dict) or "key_proj.key_proj.weight" not in state \
            or "value_encoder.fuser.block2.conv2.weight" not in state:
        raise ConfigError(f"xmem checkpoint '{path}' is not an XMem state dict; use {CHECKPOINT} from "
                          f"{CHECKPOINTS_URL}")
    return state


def resized_shape(height: int, width: int, size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """``(image (h, w), mask (h, w))`` after eval.py's resizes to short side ``size``: torchvision's
    ``Resize(size)`` for the image, ``VideoReader.resize_mask``'s arithmetic for the mask."""
    short, long = min(height, width), max(height, width)
    new_long = int(size * long / short)
    image = (size, new_long) if height <= width else (new_long, size)
    mask = (int(height / short * size), int(width / short * size))
    return image, mask


class XMemSession(Session):
    def __init__(self, method: XMem, video: FrameSource) -> None:
        self.method, self.video = method, video
        self.prompts = FirstMasks(method, video, max_id=255)
        self.timer = ModelTimer(method.device)
        self.core: Any = None
        self.config: dict[str, Any] | None = None

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        self.prompts.add(prompt)
        return None

    def propagate(self) -> Iterator[FrameResult]:
        """One ``step`` per frame from the first prompted frame on; earlier frames are
        placeholders (``processed=False``)."""
        import torch
        import torch.nn.functional as F

        starts = self.prompts.starts()
        method, cfg = self.method, self.method.cfg
        first, n, ids = min(starts), len(self.video), sorted(self.prompts.first)
        height, width = self.video.height, self.video.width
        empty = np.zeros((height, width), bool)
        config = dict(method.config)
        # eval.py: "no need to count usage for LT if the video is not that long anyway"
        config["enable_long_term_count_usage"] = config["enable_long_term"] and (
            n / (config["max_mid_term_frames"] - config["min_mid_term_frames"]) * config["num_prototypes"]
            >= config["max_long_term_elements"])
        self.config = config
        mapper = method.checkout["inference.data.mask_mapper"].MaskMapper()
        self.timer.pop()
        self.core = method.checkout["inference.inference_core"].InferenceCore(method.network, config=config)
        _, mask_hw = resized_shape(height, width, cfg.size) if cfg.size >= 0 else (None, None)
        for t, rgb in self.video.stream():
            if t < first:
                yield FrameResult(frame=t, masks={o: empty for o in ids}, processed=False)
                continue
            image = imagenet_frame(rgb, cfg.size)
            new = starts.get(t)
            with self.timer, method.inference():
                image = image.to(method.device)
                msk = labels = None
                if new is not None:
                    onehot, labels = mapper.convert_mask(FirstMasks.index_mask(new, (height, width)))
                    msk = torch.Tensor(onehot).to(method.device)
                    if mask_hw is not None:
                        msk = F.interpolate(msk[None], mask_hw, mode="nearest")[0]
                    if tuple(msk.shape[1:]) != tuple(image.shape[1:]):
                        raise ConfigError(f"xmem: size {cfg.size} resizes '{self.video.name}' ({height}x{width}) "
                                          f"to {tuple(image.shape[1:])} but its masks to {tuple(msk.shape[1:])} "
                                          "(eval.py fails here too); choose another method.size")
                    self.core.set_all_labels(list(mapper.remappings.values()))
                try:
                    prob = self.core.step(image, msk, labels, end=(t == n - 1))
                except NotImplementedError:
                    raise ConfigError(long_term_limit(self.video.name, t, cfg)) from None
                if cfg.size >= 0:
                    prob = F.interpolate(prob.unsqueeze(1), (height, width), mode="bilinear",
                                         align_corners=False)[:, 0]
                out = torch.max(prob, dim=0).indices.detach().cpu().numpy().astype(np.uint8)
                label_map = mapper.remap_index_mask(out)
            yield FrameResult(frame=t, masks={o: label_map == o for o in ids}, model_time_s=self.timer.pop())
        self.core = None

    def close(self) -> None:
        self.core = None


class XMem(Method):
    """XMem (Cheng & Schwing 2022) from a user checkout of hkchengrex/XMem, as its own eval.py.

    Masks equal that eval.py's (tests/golden/xmem); ``install`` says what to clone and download."""

    name: ClassVar[str] = "xmem"
    Config = XMemConfig
    capabilities = Capabilities(
        prompts=frozenset({PromptKind.MASK, PromptKind.BOX, PromptKind.POINTS, PromptKind.SCRIBBLE}),
    )
    requires = {"torch": "pip install torch (see the Makefile for the pinned CPU wheel)"}
    install: ClassVar[str] = INSTALL

    def __init__(self, cfg: XMemConfig | None = None, device: str = "cpu") -> None:
        import torch

        if cfg is None:
            raise ConfigError(f"method xmem needs {INSTALL}")
        super().__init__(cfg, device)
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device '{device}' requested but torch has no CUDA here; use device=cpu")
        self.checkout = load_checkout(cfg.repo)
        if cfg.ckpt:
            path = Path(cfg.ckpt).expanduser()
            if not path.is_file():
                raise MissingDependencyError(f"xmem checkpoint '{cfg.ckpt}' does not exist; download {CHECKPOINT} "
                                             f"from {CHECKPOINTS_URL} and set method.ckpt to its path")
            state = load_checkpoint(path)
        else:
            state = random_weights(self.checkout, cfg.seed)
        self.config = {**cfg.eval_config(), **dims_of(state)}
        network = build_network(self.checkout, self.config)
        try:
            with contextlib.redirect_stdout(None):  # it prints which conversion it applies
                network.load_weights(state, init_as_zero_if_needed=True)
        except RuntimeError as exc:
            raise ConfigError(f"xmem checkpoint '{cfg.ckpt}' does not fit XMem: {str(exc).splitlines()[0]}") from None
        self.network = network.to(device).eval()

    def inference(self):
        """:func:`adapters.memory_vos.inference_context`: fp16 autocast on CUDA with ``amp`` (eval.py's ``torch.cuda.amp.autocast(enabled=not args.benchmark)``)."""
        return inference_context(self.device, self.cfg.amp)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return XMemSession(self, video)

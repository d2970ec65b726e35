"""DEVA (Cheng et al., ICCV 2023) from a user's checkout of hkchengrex/Tracking-Anything-with-DEVA, semi-supervised VOS.

DEVA has no registry package: the user gives a checkout (``method.repo``; ``pip install -e`` it, which
installs its dependencies, of which the propagation path needs ``pulp`` and ``scipy`` at import) and
its propagation checkpoint (``method.ckpt``, ``DEVA-propagation.pth``, see the checkout's
``scripts/download_models.sh``). The checkout's code runs unchanged; this adapter does what its
``evaluation/eval_vos.py`` does around it for MOSE-like data, ``--dataset G --use_all_masks`` (every
object given at its first appearance: a sparse mask folder with one PNG per start frame; without
``--use_all_masks`` the G/DAVIS modes read only the first mask, YouTube-VOS forces it on). Verified by
running that script (``tests/golden/deva/README.md``):

* frames before the first mask get no ``step`` (and count as not processed); the memory clock
  (``mem_every``) starts at the first mask, ``end`` is true on the video's last frame;
* frames: ``ToTensor``, ImageNet ``Normalize``, then (size >= 0) torchvision's ``Resize(size)`` on the
  tensor (short side ``size``, long side ``int(size * long / short)``, bilinear, antialias; also
  upwards); masks: the PNG as a ``P`` image resized by the same ``Resize`` with NEAREST on the PIL
  image (PIL's nearest, pixel centres), then ``LongTensor``; the objects given are the non-zero labels
  left *after* that resize (``valid_labels``);
* ``DEVAInferenceCore.step(image, index_mask, valid_labels, end=last)``: object ids are used as they
  are (no remapping; 1..255), its ``ObjectManager`` maps them to channels; the probabilities are
  upsampled bilinearly (``align_corners=False``) to the frame size when size >= 0, then
  ``argmax`` and ``object_manager.tmp_to_obj_cls``;
* eval_args.py's defaults: size 480, mem_every 5, top_k 30, chunk_size -1 (all objects at once),
  long-term memory on (T_max 10, T_min 5, P 128, LT_max 10000) with eval_vos.py's per-video rule for
  usage counting (``frames / (T_max - T_min) * P >= LT_max``), key/value/pixel dims 64/512/512
  (read here from the checkpoint); no deep-update schedule (DEVA updates its sensory memory on
  every memory frame); ``--amp`` off by default (fp32 also on CUDA; ``amp: true`` = ``--amp``).

Isolation: the checkout's top-level package is ``deva``; :func:`load_checkout` imports it with
:func:`adapters.checkout_import.import_isolated`: no ``deva`` module stays in ``sys.modules``, and a
``deva`` module someone else imported stays in place. (The registry's ``deva-rich`` bundles an older
snapshot under another import name, CC BY-NC-SA and broken as shipped per issue #12: not used.)

Differences from eval_vos.py: frames come from the harness's reader (OpenCV decoding instead of
PIL, identical RGB on the golden's JPEGs) one at a time instead of a ``DataLoader``; the network is
built without the ImageNet download of its ResNets (``pretrained=True`` in ``big_modules``; the
checkpoint overwrites every weight, ``load_state_dict`` is strict); no flip / score saving.

Box, point and scribble prompts become a first mask through GrabCut
(:func:`adapters.prompt_masks.prompt_to_mask`), as for Cutie and XMem: DEVA's propagation takes masks
(its demo gets them from SAM / Grounding-DINO, not part of its VOS evaluation).

Unsupervised (TABLE 7) is the separate method ``deva-unsup`` (:mod:`adapters.deva_unsup`): DEVA merges
an image segmenter's per-frame output, which the user gives (mosebench ships no segmenter).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.checkout_import import Checkout, import_isolated
from adapters.memory_vos import (
    FirstMasks,
    imagenet_frame,
    inference_context,
    resize_short_side,
    resnets_without_download,
)
from harness.api import Capabilities, FrameResult, FrameSource, Method, Prompt, PromptKind, Session
from harness.errors import ConfigError, MissingDependencyError
from harness.timing import ModelTimer

REPO_URL = "https://github.com/hkchengrex/Tracking-Anything-with-DEVA"
CHECKPOINT = "DEVA-propagation.pth"
CHECKPOINTS_URL = "https://github.com/hkchengrex/Tracking-Anything-with-DEVA/releases/tag/v1.0"
TOP_LEVEL = ("deva",)
NEEDED = ("deva.model.network", "deva.model.resnet", "deva.inference.inference_core")
TEST_KEY_SCALE = 0.1
"""``random_init`` scales the key projection by this: DEVA's top-k softmax (``model/memory_utils.do_softmax``)
is an unshifted ``exp``, which overflows to NaN with plain random weights (as XMem's)."""
INSTALL = (f"a checkout of hkchengrex/Tracking-Anything-with-DEVA (no registry package): git clone {REPO_URL}, "
           "pip install -e it (its dependencies; the propagation needs pulp and scipy) and pass method.repo=PATH; "
           f"its propagation checkpoint {CHECKPOINT} ({CHECKPOINTS_URL}, fetched by the checkout's "
           "scripts/download_models.sh): method.ckpt=PATH (nothing is downloaded at run time; random_init=true "
           "for tests)")


@dataclass(frozen=True)
class DEVAConfig:
    """Options of the ``deva`` method (``configs/method/deva.yaml``); defaults are ``eval_vos.py``'s.

    repo: path to the checkout. ckpt: path to ``DEVA-propagation.pth``. random_init: tests only:
    seeded random weights (key projection x0.1), meaningless masks. size: resize the short side to
    this (-1: original resolution). mem_every: a memory frame every this many frames. top_k:
    affinities kept per pixel (null: all). chunk_size: objects per decoder batch (-1: all).
    long_term: long-term memory; max/min_mid_term_frames (T_max, T_min), num_prototypes (P),
    max_long_term_elements (LT_max). amp: fp16 autocast on CUDA (eval_vos.py's ``--amp``, off by default).
    """

    repo: str | None = None
    ckpt: str | None = None
    random_init: bool = False
    seed: int = 0
    size: int = 480
    mem_every: int = 5
    top_k: int | None = 30
    chunk_size: int = -1
    long_term: bool = True
    max_mid_term_frames: int = 10
    min_mid_term_frames: int = 5
    num_prototypes: int = 128
    max_long_term_elements: int = 10000
    amp: bool = False

    def __post_init__(self) -> None:
        if self.mem_every < 1:
            raise ConfigError(f"deva.mem_every must be >= 1, got {self.mem_every}")
        if self.top_k is not None and self.top_k < 1:
            raise ConfigError(f"deva.top_k must be >= 1 or null, got {self.top_k}")
        if self.chunk_size == 0 or self.chunk_size < -1:
            raise ConfigError(f"deva.chunk_size must be -1 (all objects) or >= 1, got {self.chunk_size}")
        if not 1 <= self.min_mid_term_frames < self.max_mid_term_frames:
            raise ConfigError("deva needs 1 <= min_mid_term_frames < max_mid_term_frames, got "
                              f"{self.min_mid_term_frames}, {self.max_mid_term_frames}")
        if self.num_prototypes < 1 or self.max_long_term_elements <= self.num_prototypes:
            raise ConfigError("deva needs num_prototypes >= 1 and max_long_term_elements > num_prototypes")
        if not self.repo:  # here, so the runner refuses it before any work
            raise ConfigError(f"method deva needs {INSTALL}")
        if not self.ckpt and not self.random_init:
            raise ConfigError(f"method deva needs its checkpoint: download {CHECKPOINT} from {CHECKPOINTS_URL} "
                              f"and pass method.ckpt=/path/to/{CHECKPOINT}")

    def eval_config(self) -> dict[str, Any]:
        """The ``config`` dict eval_vos.py builds (``vars(args)`` + ``enable_long_term``), before the
        per-video ``enable_long_term_count_usage`` and without the dims (read from the checkpoint)."""
        return {"top_k": self.top_k, "mem_every": self.mem_every, "chunk_size": self.chunk_size,
                "enable_long_term": self.long_term, "disable_long_term": not self.long_term,
                "max_mid_term_frames": self.max_mid_term_frames, "min_mid_term_frames": self.min_mid_term_frames,
                "num_prototypes": self.num_prototypes, "max_long_term_elements": self.max_long_term_elements,
                "size": self.size, "amp": self.amp, "flip": False, "save_scores": False}


def load_checkout(repo: str | Path) -> Checkout:
    """Import the checkout at ``repo`` isolated (see the module docstring); cached per path.

    Raises:
        MissingDependencyError: ``repo`` is not a DEVA checkout, or a dependency is missing (named).
    """
    root = Path(repo).expanduser().resolve()
    for rel in ("deva/model/network.py", "deva/inference/inference_core.py", "evaluation/eval_vos.py"):
        if not (root / rel).is_file():
            raise MissingDependencyError(f"method deva: '{repo}' is not a checkout of "
                                         f"hkchengrex/Tracking-Anything-with-DEVA (no {rel}); it needs {INSTALL}")
    return import_isolated(root, TOP_LEVEL, NEEDED, "deva")


DEFAULT_DIMS = {"key_dim": 64, "value_dim": 512, "pix_feat_dim": 512}  # eval_args.py


def dims_of(state: Mapping[str, Any]) -> dict[str, int]:
    """key/value/pixel-feature dimensions of a checkpoint (eval_args.py takes them as flags)."""
    key = state["key_proj.key_proj.weight"]
    return {"key_dim": key.shape[0], "pix_feat_dim": key.shape[1],
            "value_dim": state["mask_encoder.fuser.block2.conv2.weight"].shape[0]}


def build_network(checkout: Checkout, dims: Mapping[str, int]) -> Any:
    """``DEVA(config)`` on CPU, randomly initialised from torch's global generator."""
    with resnets_without_download(checkout["deva.model.resnet"]):
        return checkout["deva.model.network"].DEVA(dict(dims)).eval()


def random_weights(checkout: Checkout, seed: int, key_scale: float = TEST_KEY_SCALE) -> dict[str, Any]:
    """Seeded random state dict of the default DEVA for tests (the global RNG is left as it was)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_network(checkout, DEFAULT_DIMS)
    state = net.state_dict()
    state["key_proj.key_proj.weight"] = state["key_proj.key_proj.weight"] * key_scale
    return state


def load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    hint = f"use {CHECKPOINT} from {CHECKPOINTS_URL}"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a wrong file
        raise ConfigError(f"deva checkpoint '{path}' cannot be read ({exc}); {hint}") from None
    if not isinstance(state, dict) or "key_proj.key_proj.weight" not in state \
            or "mask_encoder.fuser.block2.conv2.weight" not in state:
        raise ConfigError(f"deva checkpoint '{path}' is not a DEVA propagation state dict; {hint}")
    return state


class DEVASession(Session):
    def __init__(self, method: DEVA, video: FrameSource) -> None:
        self.method, self.video = method, video
        self.prompts = FirstMasks(method, video, max_id=255)
        self.timer = ModelTimer(method.device)
        self.core: Any = None
        self.config: dict[str, Any] | None = None

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        self.prompts.add(prompt)
        return None

    def _mask(self, new: dict[int, np.ndarray]) -> tuple[Any, list[int]]:
        """``((h, w) int64 index mask, labels left after the resize)`` as VideoReader reads a PNG."""
        import torch
        from PIL import Image

        index = FirstMasks.index_mask(new, (self.video.height, self.video.width))
        size = self.method.cfg.size
        if size >= 0:
            out_h, out_w = resize_short_side(*index.shape, size)
            if (out_h, out_w) != index.shape:  # torchvision's Resize on a PIL image: PIL nearest
                index = np.array(Image.fromarray(index, mode="L").resize((out_w, out_h), Image.NEAREST))
        labels = np.unique(index)
        return torch.from_numpy(index.astype(np.int64)), [int(v) for v in labels[labels != 0]]

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
        # eval_vos.py: "no need to count usage for LT if the video is not that long anyway"
        config["enable_long_term_count_usage"] = config["enable_long_term"] and (
            n / (config["max_mid_term_frames"] - config["min_mid_term_frames"]) * config["num_prototypes"]
            >= config["max_long_term_elements"])
        self.config = config
        self.timer.pop()
        self.core = method.checkout["deva.inference.inference_core"].DEVAInferenceCore(method.network, config=config)
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
                    msk, labels = self._mask(new)
                    msk = msk.to(method.device)
                prob = self.core.step(image, msk, labels, end=(t == n - 1))
                if cfg.size >= 0:
                    prob = F.interpolate(prob.unsqueeze(1), (height, width), mode="bilinear",
                                         align_corners=False)[:, 0]
                out = self.core.object_manager.tmp_to_obj_cls(torch.argmax(prob, dim=0))
                label_map = out.detach().cpu().numpy()
            yield FrameResult(frame=t, masks={o: label_map == o for o in ids}, model_time_s=self.timer.pop())
        self.core = None

    def close(self) -> None:
        self.core = None


class DEVA(Method):
    """DEVA's propagation model (Cheng et al. 2023) from a user checkout, as its own eval_vos.py.

    Masks equal that script's (tests/golden/deva); ``install`` says what to clone and download."""

    name: ClassVar[str] = "deva"
    Config = DEVAConfig
    capabilities = Capabilities(
        prompts=frozenset({PromptKind.MASK, PromptKind.BOX, PromptKind.POINTS, PromptKind.SCRIBBLE}),
    )
    requires = {"torch": "pip install torch (see the Makefile for the pinned CPU wheel)"}
    install: ClassVar[str] = INSTALL

    def __init__(self, cfg: DEVAConfig | None = None, device: str = "cpu") -> None:
        import torch

        if cfg is None:
            raise ConfigError(f"method deva needs {INSTALL}")
        super().__init__(cfg, device)
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device '{device}' requested but torch has no CUDA here; use device=cpu")
        self.checkout = load_checkout(cfg.repo)
        if cfg.ckpt:
            path = Path(cfg.ckpt).expanduser()
            if not path.is_file():
                raise MissingDependencyError(f"deva checkpoint '{cfg.ckpt}' does not exist; download {CHECKPOINT} "
                                             f"from {CHECKPOINTS_URL} and set method.ckpt to its path")
            state = load_checkpoint(path)
        else:
            state = random_weights(self.checkout, cfg.seed)
        dims = dims_of(state)
        self.config = {**cfg.eval_config(), **dims}
        network = build_network(self.checkout, dims)
        try:
            network.load_weights(state)
        except RuntimeError as exc:
            raise ConfigError(f"deva checkpoint '{cfg.ckpt}' does not fit DEVA: {str(exc).splitlines()[0]}") from None
        self.network = network.to(device).eval()

    def inference(self):
        """:func:`adapters.memory_vos.inference_context`: fp16 autocast on CUDA with ``amp`` (eval_vos.py's ``torch.cuda.amp.autocast(enabled=args.amp)``)."""
        return inference_context(self.device, self.cfg.amp)

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return DEVASession(self, video)

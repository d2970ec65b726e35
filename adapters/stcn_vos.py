"""STCN (Cheng, Tai & Tang, NeurIPS 2021) from the registry package ``stcnbuf`` 0.2.2 (MIT), semi-supervised VOS.

``stcnbuf`` is a fork of hkchengrex/STCN (isarandi/stcnbuf): STCN's network (``model.eval_network.STCN``)
and its memory bank, driven by ``STCNInference`` (``initialize(frame, masks)`` then
``predict_batch(frames)``) from its own driver ``stcnbuf.segment_video.process_video``. This adapter
drives ``STCNInference`` as ``process_video`` does:

* all objects are given on one frame (``initialize``); ``STCNInference`` keeps a fixed object
  count, so objects cannot be added later (``add_objects_mid_video=False``, upstream eval_youtube.py
  can; ``tests/golden/stcn/README.md``);
* from that frame on (it included, as process_video re-predicts its initial frame), frames go in
  chunks of ``mem_every`` through ``predict_batch(chunk, add_last_to_memory=True)``: every frame
  of a chunk reads the same memory and the chunk's last frame is then written to it;
* frames are ToTensor-scaled, ImageNet-normalised and padded to a multiple of 16 by the package;
  the probabilities (soft aggregation) are argmaxed; ``top_k`` 20 (STCN's), memory unbounded
  (``mem_size`` null; the package's buffer of ``mem_size`` frames replaces random entries once full).

Differences from ``process_video`` (documented, none on the golden's inputs): frames come from the
harness's reader and are resized here (short side ``size``, bilinear with antialias; the package
resizes with framepump) only when ``size`` differs from the short side; the prompted frame answers
its prompts (argmax of the package's ``aggregate`` of them, as upstream STCN's eval; process_video
outputs its re-prediction, which random weights can leave empty); when resized the
probabilities are upsampled bilinearly to the frame before the argmax (the package argmaxes at the
processing size and never upsamples); the first mask is the prompt (the package makes it with
Mask R-CNN); no ``torch.jit.script`` (same masks on the golden's scripted video); the memory
readout is made contiguous (:func:`contiguous_readout`: with 2+ objects the package fails on CPU).
``top_k: null`` (all memory keys) exists for tiny test frames; a size with fewer keys per frame than
an integer ``top_k`` is refused with the fix.

Import and CPU: the package is imported with a stand-in ``torchvision`` (:mod:`adapters._stcn_torchvision`:
ToTensor/Normalize and torchvision's ResNet-50 layout without the ImageNet download), set aside
from ``sys.modules`` afterwards; the checkpoint overwrites every weight. ``STCNInference.initialize``
calls ``.cuda()`` on the frame; it runs here with ``torch.Tensor.cuda`` mapped to ``.to(device)``
for the duration of that call (under a lock). The package itself is never edited.

Box, point and scribble prompts become a first mask through GrabCut
(:func:`adapters.prompt_masks.prompt_to_mask`), as for Cutie and XMem.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.memory_vos import FirstMasks
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

PACKAGE = "stcnbuf==0.2.2"
CHECKPOINT = "stcn.pth"
CHECKPOINTS_URL = "https://github.com/hkchengrex/STCN#pretrained-models"
INSTALL = (f"pip install --no-deps {PACKAGE} (MIT; or method.path=DIR holding the stcnbuf package); its "
           f"checkpoint {CHECKPOINT} from {CHECKPOINTS_URL}: method.ckpt=PATH (nothing is downloaded at run time; "
           "random_init=true for tests)")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class STCNConfig:
    """Options of the ``stcn`` method (``configs/method/stcn.yaml``).

    path: directory holding the ``stcnbuf`` package (null: the installed one). ckpt: ``stcn.pth``.
    random_init: tests only, seeded random weights. size: short side (-1: as the video). mem_every:
    chunk length / memory period. top_k: affinities kept per pixel (null: all memory keys). mem_size: memory frames kept
    (null: all). amp: fp16 autocast on CUDA as process_video; CPU is fp32.
    """

    path: str | None = None
    ckpt: str | None = None
    random_init: bool = False
    seed: int = 0
    size: int = 480
    mem_every: int = 5
    top_k: int | None = 20
    mem_size: int | None = None
    amp: bool = True

    def __post_init__(self) -> None:
        if self.mem_every < 1 or (self.top_k is not None and self.top_k < 1):
            raise ConfigError(f"stcn.mem_every and stcn.top_k must be >= 1, got {self.mem_every}, {self.top_k}")
        if self.mem_size is not None and self.mem_size < 1:
            raise ConfigError(f"stcn.mem_size must be >= 1 or null, got {self.mem_size}")
        if not self.ckpt and not self.random_init:
            raise ConfigError(f"method stcn needs its checkpoint: download {CHECKPOINT} from {CHECKPOINTS_URL} "
                              f"and pass method.ckpt=/path/to/{CHECKPOINT}")


_LOCK = threading.Lock()
_PACKAGES: dict[str, Any] = {}


def load_package(path: str | None) -> Any:
    """``stcnbuf.model.eval_network`` imported with the stand-in torchvision; cached per path.

    Raises:
        MissingDependencyError: no ``stcnbuf`` there (naming what to install).
    """
    from adapters import _stcn_torchvision

    key = str(Path(path).expanduser().resolve()) if path else ""
    if key and not (Path(key) / "stcnbuf" / "model" / "eval_network.py").is_file():
        raise MissingDependencyError(f"method stcn: '{path}' holds no stcnbuf package (no "
                                     f"stcnbuf/model/eval_network.py); it needs {INSTALL}")
    with _LOCK:
        if key in _PACKAGES:
            return _PACKAGES[key]
        saved = {n: m for n, m in sys.modules.items() if n.split(".", 1)[0] in ("torchvision", "stcnbuf")}
        for n in saved:
            del sys.modules[n]
        sys.modules.update(_stcn_torchvision.modules())
        if key:
            sys.path.insert(0, key)
        importlib.invalidate_caches()
        try:
            module = importlib.import_module("stcnbuf.model.eval_network")
        except ImportError as exc:
            raise MissingDependencyError(f"method stcn cannot import stcnbuf ({exc}); it needs {INSTALL}") from None
        finally:
            if key:
                sys.path.remove(key)
            for n in [n for n in sys.modules if n.split(".", 1)[0] in ("torchvision", "stcnbuf")]:
                del sys.modules[n]
            sys.modules.update(saved)
        _PACKAGES[key] = module
        return module


@contextlib.contextmanager
def cuda_to(device: str):
    """``Tensor.cuda()`` -> ``Tensor.to(device)`` while active (``STCNInference.initialize`` calls it)."""
    import torch

    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self.to(device)  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _no_download(net_module: Any):
    """The value encoder calls ``mod_resnet.resnet18(pretrained=True)`` (an ImageNet download); during
    the build it is called with ``pretrained=False`` (the checkpoint overwrites every weight)."""
    mod_resnet = net_module.ValueEncoder.__init__.__globals__["mod_resnet"]
    original = mod_resnet.resnet18
    mod_resnet.resnet18 = lambda pretrained=True, **kw: original(pretrained=False, **kw)
    try:
        yield
    finally:
        mod_resnet.resnet18 = original


def build(net_module: Any) -> Any:
    """``STCN()`` without downloads, in eval mode (random init from torch's global generator)."""
    with _no_download(net_module):
        return net_module.STCN().eval()


def contiguous_readout(core: Any) -> Any:
    """``core.prop_model.segment_with_query`` with its memory readout made contiguous (returns ``core``).

    stcnbuf 0.2.2 ``view``s the readout of ``MemoryBank.match_memory`` (an ``einsum`` result); with
    more than one object torch's CPU einsum returns it permuted and the ``view`` raises "view size
    is not compatible" (the package fails there by itself, eager or scripted). Values unchanged."""
    original = core.prop_model.segment_with_query
    core.prop_model.segment_with_query = lambda readout, *rest: original(readout.contiguous(), *rest)
    return core


def random_weights(net_module: Any, seed: int) -> dict[str, Any]:
    """Seeded random state dict of ``STCN()`` (the global RNG is left as it was)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(net_module).state_dict()


def weights_digest(state: Mapping[str, Any]) -> str:
    """sha256 over the names and float32 bytes of a state dict (recorded next to the golden)."""
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def to_tensor(rgb: np.ndarray) -> Any:
    """``(3, h, w)`` float32 as ToTensor + Normalize(ImageNet) (contiguous before the float conversion)."""
    import torch

    image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous().float().div(255)
    mean = torch.as_tensor(IMAGENET_MEAN).view(-1, 1, 1)
    std = torch.as_tensor(IMAGENET_STD).view(-1, 1, 1)
    return image.sub_(mean).div_(std)


class STCNSession(Session):
    def __init__(self, method: STCN, video: FrameSource) -> None:
        self.method, self.video = method, video
        self.prompts = FirstMasks(method, video)
        self.timer = ModelTimer(method.device)
        self.core: Any = None
        self.memory_writes = 0
        self._given: tuple[int, np.ndarray] | None = None  # (prompted frame, its label map from the prompts)

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        self.prompts.add(prompt)
        return None

    @property
    def first(self) -> dict[int, tuple[int, np.ndarray]]:
        return self.prompts.first

    def _resize(self, x: Any, mode: str) -> Any:
        import torch.nn.functional as F

        size, (h, w) = self.method.cfg.size, x.shape[-2:]
        if size < 0 or min(h, w) == size:
            return x
        out = (size, int(round(w * size / h))) if w > h else (int(h * size / w), size)  # process_video's shape
        kw = {"align_corners": False, "antialias": True} if mode == "bilinear" else {}
        return F.interpolate(x[None], size=list(out), mode=mode, **kw)[0]

    def propagate(self) -> Iterator[FrameResult]:
        """Frames before the prompted frame are placeholders; then chunks of ``mem_every``."""
        import torch
        import torch.nn.functional as F

        if not self.first:
            raise ConfigError(f"stcn needs at least one prompt (video '{self.video.name}')")
        starts = {f for f, _ in self.first.values()}
        if len(starts) > 1:
            raise ConfigError(f"stcn (stcnbuf's STCNInference) takes every object on one frame; video "
                              f"'{self.video.name}' prompts objects on frames {sorted(starts)}")
        method, cfg = self.method, self.method.cfg
        first, ids = starts.pop(), sorted(self.first)
        height, width = self.video.height, self.video.width
        empty = np.zeros((height, width), bool)
        net = method.net_module
        mem = cfg.mem_size if cfg.mem_size is not None else np.inf
        self.timer.pop()
        chunk: list[tuple[int, Any]] = []
        for t, rgb in self.video.stream():
            if t < first:
                yield FrameResult(frame=t, masks={o: empty for o in ids}, processed=False)
                continue
            image = self._resize(to_tensor(rgb), "bilinear")
            if t == first:
                given = torch.as_tensor(np.stack([self.first[o][1] for o in ids]).astype(np.float32))
                self._given = (t, torch.argmax(net.aggregate(given), dim=0).numpy().astype(np.uint8))
                keys = -(-image.shape[1] // 16) * -(-image.shape[2] // 16)
                if cfg.top_k is not None and keys < cfg.top_k:
                    raise ConfigError(f"stcn: video '{self.video.name}' is processed at {tuple(image.shape[1:])}, "
                                      f"{keys} memory keys per frame < top_k {cfg.top_k} (STCN's top-k fails); "
                                      "use a larger method.size or a smaller method.top_k")
                masks = torch.as_tensor(np.stack([self.first[o][1] for o in ids]).astype(np.float32))
                masks = self._resize(masks, "nearest").to(method.device)
                with self.timer, method.inference(), _LOCK, cuda_to(method.device):
                    self.core = net.STCNInference(method.network, mem, 2, cfg.top_k or keys, cfg.size).to(method.device).eval()
                    self.core.im_transform = lambda _frame, image=image: image  # frame already transformed
                    self.core.initialize(None, masks)
                    contiguous_readout(self.core)
            chunk.append((t, image))
            if len(chunk) == cfg.mem_every or t == len(self.video) - 1:
                yield from self._chunk(chunk, ids, height, width, F)
                chunk = []
        if chunk:
            yield from self._chunk(chunk, ids, height, width, F)
        self.core = None

    def _chunk(self, chunk: list[tuple[int, Any]], ids: list[int], height: int, width: int,
               F: Any) -> Iterator[FrameResult]:
        import torch

        method = self.method
        if method.cfg.top_k is None:  # every memory key (the bank's k is read at each readout)
            self.core.memory_bank.top_k = int(self.core.memory_bank.mem_k.shape[2])
        with self.timer, method.inference():
            batch = torch.stack([im for _, im in chunk]).to(method.device)
            prob = self.core.predict_batch(batch, add_last_to_memory=True, is_temp=False)  # (1+K, B, h, w)
            self.memory_writes += 1
            if tuple(prob.shape[-2:]) != (height, width):
                prob = F.interpolate(prob.float().transpose(0, 1), (height, width), mode="bilinear",
                                     align_corners=False).transpose(0, 1)
            labels = torch.argmax(prob, dim=0).cpu().numpy().astype(np.uint8)
        elapsed = self.timer.pop() / len(chunk)
        for (t, _), lm in zip(chunk, labels):
            if self._given is not None and t == self._given[0]:
                lm = self._given[1]  # the prompted frame answers its prompts (upstream STCN's eval)
            yield FrameResult(frame=t, masks={o: lm == i + 1 for i, o in enumerate(ids)}, model_time_s=elapsed)

    def close(self) -> None:
        self.core = None


class STCN(Method):
    """STCN (Cheng et al. 2021) from the package stcnbuf 0.2.2, driven as its process_video.

    Masks equal that driver's (tests/golden/stcn); ``install`` says what to install and download."""

    name: ClassVar[str] = "stcn"
    Config = STCNConfig
    capabilities = Capabilities(
        prompts=frozenset({PromptKind.MASK, PromptKind.BOX, PromptKind.POINTS, PromptKind.SCRIBBLE}),
        add_objects_mid_video=False,
        streaming=True,
    )
    requires = {"torch": "pip install torch (see the Makefile for the pinned CPU wheel)"}
    install: ClassVar[str] = INSTALL

    def __init__(self, cfg: STCNConfig | None = None, device: str = "cpu") -> None:
        import torch

        cfg = cfg or STCNConfig(random_init=False, ckpt=None)
        super().__init__(cfg, device)
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device '{device}' requested but torch has no CUDA here; use device=cpu")
        self.net_module = load_package(cfg.path or os.environ.get("MOSEBENCH_STCNBUF") or None)
        if cfg.ckpt:
            path = Path(cfg.ckpt).expanduser()
            if not path.is_file():
                raise MissingDependencyError(f"stcn checkpoint '{cfg.ckpt}' does not exist; download {CHECKPOINT} "
                                             f"from {CHECKPOINTS_URL} and set method.ckpt to its path")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # noqa: BLE001 - any unpickling failure means a wrong file
                raise ConfigError(f"stcn checkpoint '{path}' cannot be read ({exc}); use {CHECKPOINT}") from None
        else:
            state = random_weights(self.net_module, cfg.seed)
        self.weights_sha256 = weights_digest(state)
        with torch.inference_mode():  # process_video builds and loads inside inference_mode
            network = build(self.net_module)
            try:
                network.load_state_dict(state)
            except RuntimeError as exc:
                raise ConfigError(f"stcn checkpoint '{cfg.ckpt}' does not fit STCN: "
                                  f"{str(exc).splitlines()[0]}") from None
        self.network = network.to(device)

    @contextlib.contextmanager
    def inference(self):
        """``torch.inference_mode`` plus, on CUDA with ``amp``, autocast (process_video's)."""
        import torch

        amp = self.cfg.amp and str(self.device).startswith("cuda")
        with torch.inference_mode(), (torch.autocast("cuda") if amp else contextlib.nullcontext()):
            yield

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return STCNSession(self, video)

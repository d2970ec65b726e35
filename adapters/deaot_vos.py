"""DeAOT (Yang & Yang, NeurIPS 2022, "Decoupling Features in Hierarchical Propagation for VOS") on
the registry package ``deaotpy==1.11.0`` (BSD-3; an older snapshot of yoxu515/aot-benchmark under
the import name ``aot``), semi-supervised VOS.

Install: ``pip install --no-deps deaotpy`` (its dependency list pulls a CUDA build of
spatial-correlation-sampler that is optional: without it the package uses its pure-torch local
attention, ``LocalGatedPropagation(enable_corr=False)``; plain AOT models do not run that way).
The package's top-level names ``aot``, ``tools`` and ``tracker`` clash with other code: the
adapter imports ``aot`` isolated as the XMem adapter imports its checkout (every module it loads is
taken out of ``sys.modules`` and kept on a private :class:`Package`; what was there is put back),
from ``method.repo`` (a folder holding ``aot/``, e.g. a ``pip install --target`` folder) or else
from wherever ``deaotpy`` is installed (its distribution's files, not ``sys.path`` order).

It does what the package's own ``aot/tools/eval.py`` + ``Evaluator.evaluating`` do for a
YouTube-VOS-style dataset (objects given at their first appearance), verified on deaotpy 1.11.0:

* frames before the first prompted frame are not in eval's frame list (no step; not processed);
  the first listed frame is the reference (``add_reference_frame(frame_step=0)``);
* frames: ``cv2.imread`` BGR -> float32 RGB; ``MultiRestrictSize(max_short_edge=None,
  max_long_edge=480*1.3*800/480=1040, align_corners=True, stride 16)``: scale so the long side is at
  most 1040, then each side rounded to ``16k+1`` (``np.around``), bicubic ``cv2.resize`` of the
  float image when the size changes; ``MultiToTensor``: ``/255``, minus ImageNet mean, over std;
  no flip, single scale (``--flip``/``--ms`` off);
* masks: ids are squeezed to ``1..N`` in order of first appearance (``VOSTest.obj_indices``) and
  resized nearest to the network input; a later frame's new objects overwrite the prediction
  (``pred * keep + new * (1 - keep)``), then ``add_reference_frame(frame_step=t - first)`` with
  ``obj_nums = max label``, ``decode_current_logits`` and ``update_memory``;
* other frames: ``match_propogate_one_frame`` -> ``decode_current_logits((H, W))`` (the engine's
  own bilinear resize to the frame size) -> softmax -> argmax -> nearest resize to the input ->
  ``update_memory``; long-term memory every ``TEST_LONG_TERM_MEM_GAP`` frames (DeAOT-L,
  R50-/SwinB-DeAOT-L: 5; T/S/B: 9999), short-term memory of the last ``TEST_SHORT_TERM_MEM_SKIP`` (1) frame;
  ``MODEL_MAX_OBJ_NUM`` 10 objects per engine (more objects: more engines, soft aggregation);
* ``torch.no_grad`` (not inference mode); ``--amp`` is off by default (``amp: false``); CUDA
  autocast when ``amp: true`` as ``main_worker(enable_amp=True)``.

Differences: frames come from the harness's reader (OpenCV decoding as eval's ``cv2.imread``);
the engine config is ``aot.configs.default.DefaultEngineConfig`` (no ``init_dir``: the stage
configs create result folders in the working directory; their test options are the same);
a checkpoint must fill every weight (the package's ``load_network`` keeps random values for
missing ones silently). Weights: ``method.ckpt`` from the aot-benchmark model zoo (nothing is
downloaded; the MobileNetV2 / ResNet encoders are built without ImageNet weights).

Box, point and scribble prompts become a first mask through GrabCut
(:func:`adapters.prompt_masks.prompt_to_mask`), as for Cutie and XMem: DeAOT takes only masks.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from adapters.prompt_masks import check_prompt, prompt_to_mask
from harness.api import (
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
from harness.timing import ModelTimer

PACKAGE = "deaotpy"
REPO_URL = "https://github.com/yoxu515/aot-benchmark"
CHECKPOINTS_URL = "https://github.com/yoxu515/aot-benchmark/blob/main/MODEL_ZOO.md"
MODELS: dict[str, str] = {"deaott": "DeAOT-T", "deaots": "DeAOT-S", "deaotb": "DeAOT-B", "deaotl": "DeAOT-L",
                          "r50_deaotl": "R50-DeAOT-L", "swinb_deaotl": "SwinB-DeAOT-L"}
"""``aot/configs/models/<key>.py`` -> the model zoo's name (the checkpoints are named after it)."""
NEEDED = ("aot.configs.default", "aot.networks.models", "aot.networks.engines")
MAX_LONG_EDGE = 480 * 1.3 * 800.0 / 480.0  # eval.py: args.max_resolution * 800 / 480
STRIDE = 16
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
INSTALL = (f"pip install --no-deps {PACKAGE} (BSD-3, yoxu515/aot-benchmark's code; --no-deps skips its optional "
           "CUDA correlation sampler), or method.repo=FOLDER holding its 'aot' package; a checkpoint from "
           f"{CHECKPOINTS_URL}: method.ckpt=PATH (nothing is downloaded at run time; random_init=true for tests)")


@dataclass(frozen=True)
class DeAOTConfig:
    """Options of the ``deaot`` methods (``configs/method/deaot*.yaml``); defaults are eval.py's.

    model: a key of :data:`MODELS`. ckpt: its checkpoint (``.pth``). repo: folder holding ``aot/``
    (null: the installed deaotpy). random_init: tests only: seeded random weights (decoder output
    layer centred), meaningless masks. long_term_mem_gap: frames between long-term memories (null: the
    model's TEST_LONG_TERM_MEM_GAP: 5 for the L models, 9999 for T/S/B). short_term_mem_skip: TEST_SHORT_TERM_MEM_SKIP. max_long_edge:
    eval.py's max_resolution * 800 / 480. amp: fp16 autocast on CUDA (eval.py's --amp; off).
    """

    model: str = "deaotl"
    ckpt: str | None = None
    repo: str | None = None
    random_init: bool = False
    seed: int = 0
    long_term_mem_gap: int | None = None
    short_term_mem_skip: int = 1
    max_long_edge: float = MAX_LONG_EDGE
    amp: bool = False

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"deaot.model must be one of {sorted(MODELS)}, got '{self.model}'")
        if self.long_term_mem_gap is not None and self.long_term_mem_gap < 1:
            raise ConfigError(f"deaot.long_term_mem_gap must be >= 1 or null, got {self.long_term_mem_gap}")
        if self.short_term_mem_skip < 1 or self.max_long_edge < STRIDE:
            raise ConfigError("deaot needs short_term_mem_skip >= 1 and max_long_edge >= 16")
        if not self.ckpt and not self.random_init:
            raise ConfigError(f"method deaot needs its checkpoint: download {MODELS[self.model]} from "
                              f"{CHECKPOINTS_URL} and pass method.ckpt=/path/to/it.pth")


@dataclass(frozen=True)
class Package:
    """The package's modules, held here and nowhere in ``sys.modules`` (``name -> module``)."""

    root: Path
    modules: Mapping[str, Any] = field(repr=False)
    configs: Mapping[str, Any] = field(repr=False)
    """``model -> DefaultEngineConfig`` (made at import: it imports its model config by name)."""

    def __getitem__(self, name: str) -> Any:
        return self.modules[name]


_LOCK = threading.Lock()
_PACKAGES: dict[Path, Package] = {}


def _ours(name: str) -> bool:
    return name.split(".", 1)[0] == "aot"


def _inside(module: Any, root: Path) -> bool:
    """``module`` comes from ``root`` (namespace packages such as ``aot.configs.models``: by path)."""
    paths = [getattr(module, "__file__", None) or "", *list(getattr(module, "__path__", None) or [])]
    return any(p and str(p).startswith(str(root)) for p in paths)


def package_root(repo: str | None) -> Path:
    """The folder holding ``aot/``: ``repo``, or the installed deaotpy's location.

    Raises:
        MissingDependencyError: no such folder / deaotpy not installed (naming how to install it).
    """
    if repo:
        root = Path(repo).expanduser().resolve()
    else:
        try:
            root = Path(str(importlib.metadata.distribution(PACKAGE).locate_file(""))).resolve()
        except importlib.metadata.PackageNotFoundError:
            raise MissingDependencyError(f"method deaot needs {INSTALL}") from None
    if not (root / "aot" / "networks" / "engines" / "deaot_engine.py").is_file():
        raise MissingDependencyError(f"method deaot: '{root}' holds no deaotpy 'aot' package; it needs {INSTALL}")
    return root


def load_package(root: Path) -> Package:
    """Import ``aot`` from ``root`` isolated (module docstring); cached per folder."""
    with _LOCK:
        if root in _PACKAGES:
            return _PACKAGES[root]
        others = {n: m for n, m in sys.modules.items() if _ours(n)}
        for n in others:
            del sys.modules[n]
        sys.path.insert(0, str(root))
        importlib.invalidate_caches()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                for name in NEEDED:
                    importlib.import_module(name)
                # eval.py's EngineConfig without init_dir (the stage configs make result folders)
                default = sys.modules["aot.configs.default"].DefaultEngineConfig
                configs = {m: default("mosebench", m) for m in MODELS}
        finally:
            sys.path.remove(str(root))
            ours = {n: m for n, m in sys.modules.items() if _ours(n)}
            strays = sorted(n for n, m in ours.items() if not _inside(m, root))  # before the parents leave
            for n in ours:
                del sys.modules[n]
            sys.modules.update(others)
        if strays:
            raise MissingDependencyError(f"method deaot: importing '{root}' picked up {strays[0]} from outside it; "
                                         f"reinstall it ({INSTALL})")
        package = Package(root, ours, configs)
        _PACKAGES[root] = package
        return package


def engine_config(package: Package, model: str) -> Any:
    """A fresh copy of ``model``'s ``DefaultEngineConfig``."""
    import copy

    return copy.deepcopy(package.configs[model])


def build_network(package: Package, cfg: Any) -> Any:
    """``build_vos_model(cfg.MODEL_VOS, cfg)`` on CPU from torch's global generator (it prints when
    the optional correlation sampler is missing: silenced)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return package["aot.networks.models"].build_vos_model(cfg.MODEL_VOS, cfg).eval()


def random_weights(package: Package, cfg: Any, seed: int) -> dict[str, Any]:
    """Seeded random state dict for tests (global RNG left as it was). The decoder's output layer
    ``decoder.conv_out`` gets a zero bias and zero-mean weight rows, so that no label wins on every
    pixel by a constant offset alone (plain random weights give one label everywhere;
    ``tests/golden/deaot/README.md``)."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        state = build_network(package, cfg).state_dict()
    weight = state["decoder.conv_out.weight"]
    state["decoder.conv_out.weight"] = weight - weight.mean(dim=1, keepdim=True)
    state["decoder.conv_out.bias"] = torch.zeros_like(state["decoder.conv_out.bias"])
    return state


def load_checkpoint(path: Path, expected: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The state dict of a checkpoint as the package's ``load_network`` reads it (``state_dict`` /
    ``model`` / plain; ``module.`` prefixes dropped), refused unless it fills every weight."""
    import torch

    hint = f"use the {MODELS[model]} checkpoint from {CHECKPOINTS_URL} (or set method.model to its model)"
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a wrong file
        raise ConfigError(f"deaot checkpoint '{path}' cannot be read ({exc}); {hint}") from None
    if isinstance(raw, dict):
        raw = raw.get("state_dict", raw.get("model", raw))
    state = {}
    for key, value in (raw.items() if isinstance(raw, dict) else ()):
        name = key[7:] if key not in expected and key.startswith("module.") else key
        if name in expected:
            state[name] = value
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ConfigError(f"deaot checkpoint '{path}' lacks {len(missing)} weights of {MODELS[model]} "
                          f"(e.g. {missing[0]}); {hint}")
    return state


def input_shape(height: int, width: int, max_long_edge: float, align_corners: bool = True) -> tuple[int, int]:
    """``MultiRestrictSize`` (no short-edge limit, scale 1): the network input ``(h, w)``; each side
    rounded to ``16k + 1`` (align_corners models) or ``16k`` (SwinB)."""
    sc = 1.0
    if max(height, width) > max_long_edge:
        sc = float(max_long_edge) / max(height, width)
    sides = []
    for side in (int(sc * float(height)), int(sc * float(width))):
        off = 1 if align_corners else 0
        if (side - off) % STRIDE:
            side = int(np.around((side - off) / STRIDE) * STRIDE + off)
        sides.append(side)
    return sides[0], sides[1]


def preprocess(rgb: np.ndarray, shape: tuple[int, int]) -> Any:
    """``(1, 3, h, w)`` float32 as eval's reader: float32 RGB, bicubic ``cv2.resize`` to ``shape``
    (when it differs), ``/255``, ImageNet mean/std, CHW (contiguous, as the DataLoader's stack)."""
    import cv2
    import torch

    img = np.ascontiguousarray(rgb, dtype=np.float32)
    if img.shape[:2] != shape:
        img = cv2.resize(img, dsize=(shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    img = img / 255.0
    img -= IMAGENET_MEAN
    img /= IMAGENET_STD
    return torch.from_numpy(img.transpose((2, 0, 1)))[None].contiguous()


class DeAOTSession(Session):
    def __init__(self, method: DeAOT, video: FrameSource) -> None:
        self.method, self.video = method, video
        self.first: dict[int, tuple[int, np.ndarray]] = {}  # obj_id -> (first frame, mask)
        self._points: dict[int, PointsPrompt] = {}  # clicks accumulate on an object's first frame
        self.timer = ModelTimer(method.device)
        self.engine: Any = None
        self.squeeze: list[int] = [0]  # eval's obj_indices: squeezed label -> object id

    def add_prompt(self, prompt: Prompt) -> Mapping[int, np.ndarray] | None:
        check_prompt(self.method.capabilities, prompt, self.method.name)
        h, w = self.video.height, self.video.width
        if not 0 <= prompt.frame < len(self.video):
            raise ConfigError(f"prompt on frame {prompt.frame}, video '{self.video.name}' has {len(self.video)} frames")
        if not 1 <= prompt.obj_id <= 255:
            raise ConfigError(f"deaot: object id {prompt.obj_id} is outside 1..255 (eval reads ids from an indexed "
                              "PNG); renumber the objects")
        if isinstance(prompt, MaskPrompt) and prompt.mask.shape != (h, w):
            raise ConfigError(f"mask prompt for object {prompt.obj_id} has shape {prompt.mask.shape}, "
                              f"frames of '{self.video.name}' are {(h, w)}")
        known = self.first.get(prompt.obj_id)
        if known is not None and known[0] < prompt.frame:
            return None  # semi-supervised: an object's first prompt conditions it
        if isinstance(prompt, PointsPrompt):
            before = self._points.get(prompt.obj_id)
            if before is not None and before.frame == prompt.frame:
                prompt = PointsPrompt(prompt.frame, prompt.obj_id, before.points + prompt.points,
                                      before.labels + prompt.labels)
            self._points[prompt.obj_id] = prompt
        mask = prompt_to_mask(prompt, self.video.frame(prompt.frame)) if not isinstance(prompt, MaskPrompt) \
            else prompt.mask.astype(bool)
        self.first[prompt.obj_id] = (prompt.frame, mask)
        return None

    def _squeezed(self, new: dict[int, np.ndarray]) -> Any:
        """``(1, 1, H, W)`` float label of the objects starting on a frame, ids squeezed in order
        of first appearance (``VOSTest.read_label(squeeze_idx=obj_indices)``)."""
        import torch

        index = np.zeros((self.video.height, self.video.width), np.uint8)
        for oid in sorted(new):  # overlapping prompts (never in a dataset PNG): the higher id wins
            index[new[oid]] = oid
        for oid in np.unique(index):
            if int(oid) not in self.squeeze:
                self.squeeze.append(int(oid))
        squeezed = np.zeros_like(index)
        for idx, oid in enumerate(self.squeeze):
            if oid:
                squeezed += ((index == oid) * idx).astype(np.uint8)
        return torch.from_numpy(squeezed.astype(np.int32))[None, None].float()

    def propagate(self) -> Iterator[FrameResult]:
        """eval's loop from the first prompted frame on; earlier frames are placeholders
        (``processed=False``)."""
        import torch
        import torch.nn.functional as F

        if not self.first:
            raise ConfigError(f"deaot needs at least one prompt (video '{self.video.name}')")
        method, cfg = self.method, self.method.cfg
        starts: dict[int, dict[int, np.ndarray]] = {}
        for oid, (frame, mask) in self.first.items():
            starts.setdefault(frame, {})[oid] = mask
        first, ids = min(starts), sorted(self.first)
        height, width = self.video.height, self.video.width
        empty = np.zeros((height, width), bool)
        shape = input_shape(height, width, cfg.max_long_edge, method.engine_cfg.MODEL_ALIGN_CORNERS)
        self.squeeze = [0]
        self.timer.pop()
        self.engine = method.new_engine()
        device = method.device
        for t, rgb in self.video.stream():
            if t < first:
                yield FrameResult(frame=t, masks={o: empty for o in ids}, processed=False)
                continue
            img = preprocess(rgb, shape)
            new = starts.get(t)
            with self.timer, method.inference():
                img = img.to(device)
                new_label = None if new is None else self._squeezed(new).to(device)
                if t == first:
                    label = F.interpolate(new_label, size=img.size()[2:], mode="nearest")
                    self.engine.add_reference_frame(img, label, frame_step=0, obj_nums=[len(self.squeeze) - 1])
                    pred_label = new_label
                else:
                    self.engine.match_propogate_one_frame(img)
                    logit = self.engine.decode_current_logits((height, width))
                    prob = torch.mean(torch.softmax(logit, dim=1), dim=0, keepdim=True)
                    pred_label = torch.argmax(prob, dim=1, keepdim=True).float()
                    if new_label is not None:
                        keep = (new_label == 0).float()
                        pred_label = pred_label * keep + new_label * (1 - keep)
                        label = F.interpolate(pred_label, size=self.engine.input_size_2d, mode="nearest")
                        self.engine.add_reference_frame(img, label, obj_nums=[int(pred_label.max().item())],
                                                        frame_step=t - first)
                        self.engine.decode_current_logits((height, width))
                        self.engine.update_memory(label)
                    else:
                        label = F.interpolate(pred_label, size=self.engine.input_size_2d, mode="nearest")
                        self.engine.update_memory(label)
                out = pred_label[0, 0].cpu().numpy().astype(np.uint8)
            masks = {o: out == self.squeeze.index(o) if o in self.squeeze else empty for o in ids}
            yield FrameResult(frame=t, masks=masks, model_time_s=self.timer.pop())
        self.engine = None

    def close(self) -> None:
        self.engine = None


class DeAOT(Method):
    """DeAOT on the deaotpy package (aot-benchmark's code), as its own eval.py; DeAOT-L by default
    (the paper's TABLE 4 row). Masks equal that eval's (tests/golden/deaot)."""

    name: ClassVar[str] = "deaot"
    Config = DeAOTConfig
    default_model: ClassVar[str | None] = None
    capabilities = Capabilities(
        prompts=frozenset({PromptKind.MASK, PromptKind.BOX, PromptKind.POINTS, PromptKind.SCRIBBLE}),
    )
    requires = {"torch": "pip install torch (see the Makefile for the pinned CPU wheel)",
                "cv2": "pip install opencv-python-headless"}
    install: ClassVar[str] = INSTALL

    def __init__(self, cfg: DeAOTConfig | None = None, device: str = "cpu") -> None:
        import torch

        cfg = cfg or self.Config()
        if self.default_model and cfg.model != self.default_model:
            raise ConfigError(f"method {self.name} is the {MODELS[self.default_model]} model, got "
                              f"model={cfg.model!r}; use method deaot with model={cfg.model!r} instead")
        super().__init__(cfg, device)
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device '{device}' requested but torch has no CUDA here; use device=cpu")
        self.package = load_package(package_root(cfg.repo))
        self.engine_cfg = engine_config(self.package, cfg.model)
        if cfg.long_term_mem_gap is not None:
            self.engine_cfg.TEST_LONG_TERM_MEM_GAP = cfg.long_term_mem_gap
        self.engine_cfg.TEST_SHORT_TERM_MEM_SKIP = cfg.short_term_mem_skip
        if cfg.ckpt:
            path = Path(cfg.ckpt).expanduser()
            if not path.is_file():
                raise MissingDependencyError(f"deaot checkpoint '{cfg.ckpt}' does not exist; download "
                                             f"{MODELS[cfg.model]} from {CHECKPOINTS_URL} and set method.ckpt")
        network = build_network(self.package, self.engine_cfg)
        state = load_checkpoint(path, network.state_dict(), cfg.model) if cfg.ckpt \
            else random_weights(self.package, self.engine_cfg, cfg.seed)
        network.load_state_dict(state)
        self.network = network.to(device).eval()

    def new_engine(self) -> Any:
        """eval's ``build_engine(MODEL_ENGINE, phase='eval', ...)`` for one video."""
        ecfg = self.engine_cfg
        engine = self.package["aot.networks.engines"].build_engine(
            ecfg.MODEL_ENGINE, phase="eval", aot_model=self.network, gpu_id=0,
            long_term_mem_gap=ecfg.TEST_LONG_TERM_MEM_GAP, short_term_mem_skip=ecfg.TEST_SHORT_TERM_MEM_SKIP)
        return engine.eval()

    @contextlib.contextmanager
    def inference(self):
        """``torch.no_grad`` (as ``Evaluator.evaluating``) plus, on CUDA with ``amp``, autocast (eval.py --amp)."""
        import torch

        amp = self.cfg.amp and str(self.device).startswith("cuda")
        with torch.no_grad(), (torch.autocast("cuda") if amp else contextlib.nullcontext()):
            yield

    def open_session(self, video: FrameSource, max_objects: int = 20) -> Session:
        return DeAOTSession(self, video)


@dataclass(frozen=True)
class DeAOTTinyConfig(DeAOTConfig):
    model: str = "deaott"


class DeAOTTiny(DeAOT):
    name: ClassVar[str] = "deaot-t"
    default_model: ClassVar[str | None] = "deaott"
    Config = DeAOTTinyConfig


class DeAOTLarge(DeAOT):
    name: ClassVar[str] = "deaot-l"
    default_model: ClassVar[str | None] = "deaotl"

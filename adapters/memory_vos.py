"""Helpers shared by the memory-based VOS adapters that take one first mask per object (Cutie, XMem, DEVA).

* :class:`FirstMasks`: semi-supervised prompt bookkeeping. An object's first prompt conditions it
  (later ones are ignored); box, point and scribble prompts become a first mask through GrabCut
  (:func:`adapters.prompt_masks.prompt_to_mask`); clicks on the same frame accumulate.
* :func:`imagenet_frame`: ``ToTensor`` + ImageNet ``Normalize`` + torchvision's ``Resize(size)`` on
  the tensor, as the ``VideoReader`` of XMem's and DEVA's eval scripts.
* :func:`resnets_without_download`: their ResNets are built with ``pretrained=True`` (an ImageNet
  download); a real checkpoint overwrites every weight, so they are built without it.
* :func:`inference_context`: ``torch.inference_mode`` plus fp16 autocast on CUDA when asked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from adapters.prompt_masks import check_prompt, prompt_to_mask
from harness.api import FrameSource, MaskPrompt, PointsPrompt, Prompt
from harness.errors import ConfigError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@contextlib.contextmanager
def resnets_without_download(resnet: Any) -> Iterator[None]:
    """While in the block, ``resnet.resnet18`` / ``resnet.resnet50`` (a checkout's ResNet module) are
    called with ``pretrained=False`` whatever their caller passes."""
    originals = resnet.resnet18, resnet.resnet50

    def plain(fn):
        return lambda pretrained=True, **kw: fn(pretrained=False, **kw)

    resnet.resnet18, resnet.resnet50 = plain(originals[0]), plain(originals[1])
    try:
        yield
    finally:
        resnet.resnet18, resnet.resnet50 = originals


@contextlib.contextmanager
def inference_context(device: str, amp: bool) -> Iterator[None]:
    """``torch.inference_mode`` plus, on CUDA with ``amp``, fp16 autocast (the eval scripts'
    ``torch.cuda.amp.autocast``, a no-op on CPU there too)."""
    import torch

    amp = amp and str(device).startswith("cuda")
    with torch.inference_mode(), (torch.autocast("cuda") if amp else contextlib.nullcontext()):
        yield


def resize_short_side(height: int, width: int, size: int) -> tuple[int, int]:
    """``(h, w)`` after torchvision's ``Resize(size)``: short side ``size``, long side floored."""
    short, long = min(height, width), max(height, width)
    new_long = int(size * long / short)
    return (size, new_long) if height <= width else (new_long, size)


def imagenet_frame(rgb: np.ndarray, size: int) -> Any:
    """``(3, h, w)`` float32 tensor from an ``(H, W, 3) uint8`` frame: ``[0, 1]``, ImageNet-normalised,
    then (``size >= 0``) resized to short side ``size`` as torchvision >= 0.17's ``Resize`` on a tensor
    (bilinear, antialias; the input unchanged when the size does not change)."""
    import torch
    import torch.nn.functional as F

    image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous().float().div(255)
    mean = torch.as_tensor(IMAGENET_MEAN, dtype=image.dtype).view(-1, 1, 1)
    std = torch.as_tensor(IMAGENET_STD, dtype=image.dtype).view(-1, 1, 1)
    image = image.sub_(mean).div_(std)
    if size >= 0:
        out_hw = resize_short_side(rgb.shape[0], rgb.shape[1], size)
        if tuple(image.shape[1:]) != out_hw:
            image = F.interpolate(image[None], size=list(out_hw), mode="bilinear", align_corners=False,
                                  antialias=True)[0]
    return image


class FirstMasks:
    """Each object's first mask, ``obj_id -> (frame, (H, W) bool)``, from the prompts a session gets.

    ``max_id``: object ids must lie in ``1..max_id`` (the eval scripts read them from indexed PNGs).
    """

    def __init__(self, method: Any, video: FrameSource, max_id: int | None = None) -> None:
        self.method, self.video, self.max_id = method, video, max_id
        self.first: dict[int, tuple[int, np.ndarray]] = {}
        self._points: dict[int, PointsPrompt] = {}  # clicks accumulate on an object's first frame

    def add(self, prompt: Prompt) -> None:
        """Record ``prompt`` if it is its object's first (or on the same frame as it)."""
        who, video = self.method.name, self.video
        check_prompt(self.method.capabilities, prompt, who)
        h, w = video.height, video.width
        if not 0 <= prompt.frame < len(video):
            raise ConfigError(f"prompt on frame {prompt.frame}, video '{video.name}' has {len(video)} frames")
        if self.max_id is not None and not 1 <= prompt.obj_id <= self.max_id:
            raise ConfigError(f"{who}: object id {prompt.obj_id} is outside 1..{self.max_id} (its eval script "
                              "reads ids from an indexed PNG); renumber the objects")
        if isinstance(prompt, MaskPrompt) and prompt.mask.shape != (h, w):
            raise ConfigError(f"mask prompt for object {prompt.obj_id} has shape {prompt.mask.shape}, "
                              f"frames of '{video.name}' are {(h, w)}")
        known = self.first.get(prompt.obj_id)
        if known is not None and known[0] < prompt.frame:
            return  # semi-supervised: an object's first prompt conditions it
        if isinstance(prompt, PointsPrompt):
            before = self._points.get(prompt.obj_id)
            if before is not None and before.frame == prompt.frame:
                prompt = PointsPrompt(prompt.frame, prompt.obj_id, before.points + prompt.points,
                                      before.labels + prompt.labels)
            self._points[prompt.obj_id] = prompt
        mask = prompt.mask.astype(bool) if isinstance(prompt, MaskPrompt) \
            else prompt_to_mask(prompt, video.frame(prompt.frame))
        self.first[prompt.obj_id] = (prompt.frame, mask)

    def starts(self) -> dict[int, dict[int, np.ndarray]]:
        """``frame -> {obj_id: mask}`` of the objects starting on each frame.

        Raises:
            ConfigError: no prompt was given.
        """
        if not self.first:
            raise ConfigError(f"{self.method.name} needs at least one prompt (video '{self.video.name}')")
        starts: dict[int, dict[int, np.ndarray]] = {}
        for oid, (frame, mask) in self.first.items():
            starts.setdefault(frame, {})[oid] = mask
        return starts

    @staticmethod
    def index_mask(new: dict[int, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
        """``(H, W) uint8`` label map of ``new`` (overlapping prompts, never in a dataset PNG: the
        higher id wins)."""
        index = np.zeros(shape, np.uint8)
        for oid in sorted(new):
            index[new[oid]] = oid
        return index

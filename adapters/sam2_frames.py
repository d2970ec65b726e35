"""Bounded-memory plumbing for SAM2's video predictor (used by :mod:`adapters.sam2_vos`).

Upstream ``SAM2VideoPredictor.init_state`` decodes every frame of the video into one
``(T, 3, S, S) float32`` tensor (12 MB per frame at S=1024) and the inference state keeps every
frame's memory features forever. Here:

* :class:`LazyFrames` stands in for ``inference_state["images"]``: the predictor only ever does
  ``images[frame_idx]`` and ``len(images)``, so a sequence that decodes frame ``i`` from the
  streaming :class:`~harness.api.FrameSource` on demand (keeping a few in an LRU cache) is a
  drop-in replacement. Pre-processing is bit-identical to ``sam2.utils.misc``: PIL resize to
  ``S x S`` (bicubic), ``/ 255`` in float64, cast to float32, normalise by ImageNet mean/std.
  ``resize="tensor-bilinear"`` instead resizes the ``/ 255`` float32 tensor with antialiased
  bilinear interpolation (``torchvision.transforms.functional.resize`` on a tensor), as DAM4SAM's
  tracker does.
* :func:`new_inference_state` builds the state dict ``init_state`` would build, minus the frames.
* :func:`prune_memory` drops per-frame outputs that the variant says can no longer be selected.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from typing import Any

import numpy as np

from harness.api import FrameSource

IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)


class LazyFrames:
    """``images[i] -> (3, S, S) float32`` normalised tensor, decoded on demand.

    Sequential access (``i`` = last + 1) is served from ``video.stream`` (decoded ahead on a
    background thread); random access falls back to ``video.frame(i)``. At most ``cache``
    tensors are kept.
    """

    def __init__(self, video: FrameSource, image_size: int, cache: int = 2, resize: str = "pil") -> None:
        import torch

        if resize not in ("pil", "tensor-bilinear"):
            raise ValueError(f"LazyFrames resize must be pil | tensor-bilinear, got {resize!r}")
        self.resize = resize

        self.video = video
        self.image_size = image_size
        self.cache_size = max(1, cache)
        self._cache: OrderedDict[int, Any] = OrderedDict()
        self._mean = torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None, None]
        self._std = torch.tensor(IMG_STD, dtype=torch.float32)[:, None, None]
        self._stream: Iterator[tuple[int, np.ndarray]] | None = None
        self._next = -1
        self.decoded = 0  # frames decoded so far (for tests and the memory benchmark)

    def __len__(self) -> int:
        return len(self.video)

    def _rgb(self, index: int) -> np.ndarray:
        if self._stream is not None and index == self._next:
            i, frame = next(self._stream)
            assert i == index
            self._next += 1
            return frame
        self.close_stream()
        if index + 1 < len(self.video):
            # start streaming after a random access: propagation reads forward from here
            self._stream = iter(self.video.stream(index + 1))
            self._next = index + 1
        return self.video.frame(index)

    def close_stream(self) -> None:
        if self._stream is not None and hasattr(self._stream, "close"):
            self._stream.close()
        self._stream = None
        self._next = -1

    def preprocess(self, rgb: np.ndarray):
        import torch
        from PIL import Image

        s = self.image_size
        if self.resize == "tensor-bilinear":
            img = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0
            img = torch.nn.functional.interpolate(img[None], size=(s, s), mode="bilinear", align_corners=False,
                                                  antialias=True)[0]
            return (img - self._mean) / self._std
        arr = np.array(Image.fromarray(rgb).convert("RGB").resize((s, s))) / 255.0
        img = torch.from_numpy(arr).permute(2, 0, 1).to(torch.float32)
        img -= self._mean
        img /= self._std
        return img

    def __getitem__(self, index: int):
        index = int(index)
        if not 0 <= index < len(self.video):
            raise IndexError(f"frame {index} out of range for '{self.video.name}' ({len(self.video)} frames)")
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        img = self.preprocess(self._rgb(index))
        self.decoded += 1
        self._cache[index] = img
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return img


def new_inference_state(images: LazyFrames, video_height: int, video_width: int, device: Any,
                        offload_state_to_cpu: bool = False) -> dict[str, Any]:
    """The dict ``SAM2VideoPredictor.init_state`` returns, with lazy ``images`` (sam2 1.1.0 keys)."""
    import torch

    device = torch.device(device)
    return {
        "images": images,
        "num_frames": len(images),
        "offload_video_to_cpu": True,  # frames stay on the host until _get_image_feature moves them
        "offload_state_to_cpu": offload_state_to_cpu,
        "video_height": video_height,
        "video_width": video_width,
        "device": device,
        "storage_device": torch.device("cpu") if offload_state_to_cpu else device,
        "point_inputs_per_obj": {},
        "mask_inputs_per_obj": {},
        "cached_features": {},
        "constants": {},
        "obj_id_to_idx": OrderedDict(),
        "obj_idx_to_id": OrderedDict(),
        "obj_ids": [],
        "output_dict_per_obj": {},
        "temp_output_dict_per_obj": {},
        "frames_tracked_per_obj": {},
    }


def prune_memory(state: dict[str, Any], selectable: Callable[[int], Collection[int]],
                 selectable_cond: Callable[[int], Collection[int] | None] | None = None) -> int:
    """Drop the non-conditioning outputs of each object that are not in ``selectable(obj_idx)``
    (the frames its variant may still read, :meth:`adapters.sam2_family.SAM2Hooks.selectable_frames`),
    and its conditioning outputs not in ``selectable_cond(obj_idx)`` where that is not ``None``
    (:meth:`~adapters.sam2_family.SAM2Hooks.selectable_cond_frames`).

    Returns the number of per-object frame entries dropped.
    """
    dropped = 0
    for obj_idx, out in state["output_dict_per_obj"].items():
        keep_cond = selectable_cond(obj_idx) if selectable_cond is not None else None
        if keep_cond is not None:
            cond = out["cond_frame_outputs"]
            for t in [t for t in cond if t not in keep_cond]:
                del cond[t]
                dropped += 1
        keep = selectable(obj_idx)
        non_cond, tracked = out["non_cond_frame_outputs"], state["frames_tracked_per_obj"][obj_idx]
        for t in [t for t in non_cond if t not in keep]:
            del non_cond[t]
            tracked.pop(t, None)
            dropped += 1
    return dropped

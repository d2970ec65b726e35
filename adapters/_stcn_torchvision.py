"""A stand-in ``torchvision`` for importing ``stcnbuf`` (adapters/stcn_vos.py), never left in ``sys.modules``.

``stcnbuf`` uses torchvision for two things only: ``transforms.Compose/ToTensor/Normalize`` (its
``im_transform``; the adapter feeds already transformed frames) and ``models.resnet50(weights=...)``
for the key encoder, of which it keeps ``conv1, bn1, relu, maxpool, layer1..layer3``. This builds
that ResNet-50 trunk with torchvision's parameter names and shapes (bottleneck blocks, stride on the
3x3 convolution, bias-free convolutions), never the ImageNet download: a checkpoint overwrites every
weight, and ``random_init`` weights are seeded. Our own code (no torchvision source).
"""

from __future__ import annotations

import types
from typing import Any


def _bottleneck_class() -> type:
    import torch
    import torch.nn as nn

    class Bottleneck(nn.Module):
        """1x1 -> 3x3 (stride) -> 1x1 (x4 channels) + shortcut, torchvision's names (TorchScript-able)."""

        def __init__(self, cin: int, width: int, stride: int, downsample: nn.Module | None) -> None:
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
            self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
            self.conv3, self.bn3 = nn.Conv2d(width, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            identity = x if self.downsample is None else self.downsample(x)
            return self.relu(out + identity)

    return Bottleneck


def _resnet50(weights: Any = None, **_: Any) -> Any:
    """ResNet-50 up to ``layer3`` (``(B, 3, H, W)`` -> ``(B, 1024, H/16, W/16)``), torchvision's names."""
    import torch.nn as nn

    _Bottleneck = _bottleneck_class()

    def block(cin: int, width: int, stride: int) -> nn.Module:
        down = None
        if stride != 1 or cin != width * 4:
            down = nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False), nn.BatchNorm2d(width * 4))
        return _Bottleneck(cin, width, stride, down)

    def layer(cin: int, width: int, n: int, stride: int) -> nn.Sequential:
        return nn.Sequential(block(cin, width, stride), *[block(width * 4, width, 1) for _ in range(n - 1)])

    net = nn.Module()
    net.conv1, net.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
    net.relu, net.maxpool = nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
    net.layer1, net.layer2, net.layer3 = layer(64, 64, 3, 1), layer(256, 128, 4, 2), layer(512, 256, 6, 2)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


class _Unavailable:
    """ToTensor/Normalize/Compose placeholders: the adapter replaces ``im_transform`` before any call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any) -> Any:
        raise RuntimeError("stcnbuf's im_transform is not used by mosebench (frames are transformed by the adapter)")


def modules() -> dict[str, types.ModuleType]:
    """``torchvision``, ``torchvision.transforms``, ``torchvision.models`` stand-ins."""
    tv = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    transforms.Compose = transforms.ToTensor = transforms.Normalize = _Unavailable
    models = types.ModuleType("torchvision.models")
    models.resnet50 = _resnet50
    models.ResNet50_Weights = types.SimpleNamespace(IMAGENET1K_V1=None)
    tv.transforms, tv.models = transforms, models
    return {"torchvision": tv, "torchvision.transforms": transforms, "torchvision.models": models}

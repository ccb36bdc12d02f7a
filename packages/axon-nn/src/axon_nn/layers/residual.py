"""Residual connections: ``Residual(module)`` (``x + module(x)``) and ResNet's ``BasicBlock``."""

from __future__ import annotations

from typing import Any

from axon_core import ShapeError

from .. import functional as F
from ..containers import Sequential
from ..module import Module
from .conv import Conv2d
from .normalization import BatchNorm2d

__all__ = ["Residual", "ResidualBlock"]


class Residual(Module):
    """``x + module(x)``; ``module`` must keep the shape of its input."""

    def __init__(self, module: Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, input: Any) -> Any:
        out = self.module(input)
        if tuple(out.shape) != tuple(input.shape):
            raise ShapeError(
                f"Residual: {type(self.module).__name__} changed the shape {tuple(input.shape)} -> {tuple(out.shape)}"
            )
        return input + out


class ResidualBlock(Module):
    """ResNet's BasicBlock (He et al. 2016), ``[N, in_channels, H, W] -> [N, out_channels, H/stride, W/stride]``:
    ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` with 3x3 convolutions (bias-free,
    ``conv1`` strided). ``downsample`` (``Sequential(Conv2d 1x1 strided, BatchNorm2d)``) is the
    shortcut when the stride or channel count changes; otherwise the shortcut is the identity.
    Names match torchvision's, so its weights load directly.
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        downsample: Module | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.conv1 = Conv2d(
            in_channels, out_channels, 3, stride=stride, padding=1, bias=False, device=device, dtype=dtype
        )
        self.bn1 = BatchNorm2d(out_channels, device=device, dtype=dtype)
        self.conv2 = Conv2d(out_channels, out_channels, 3, padding=1, bias=False, device=device, dtype=dtype)
        self.bn2 = BatchNorm2d(out_channels, device=device, dtype=dtype)
        if downsample is None and (stride != 1 or in_channels != out_channels):
            downsample = Sequential(
                Conv2d(in_channels, out_channels, 1, stride=stride, bias=False, device=device, dtype=dtype),
                BatchNorm2d(out_channels, device=device, dtype=dtype),
            )
        if downsample is None:
            self.add_module("downsample", None)
        else:
            self.downsample = downsample

    def forward(self, input: Any) -> Any:
        out = F.relu(self.bn1(self.conv1(input)))
        out = self.bn2(self.conv2(out))
        shortcut = input if self.downsample is None else self.downsample(input)
        return F.relu(out + shortcut)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"

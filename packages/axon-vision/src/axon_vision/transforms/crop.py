"""Crops: ``CenterCrop``, ``RandomCrop``, ``RandomResizedCrop`` (torchvision's parameter rules).

Random transforms draw from an ``axon_tensor.Generator`` (axon's default one when None), so a
pipeline is seeded by the generator's seed and resumed by its ``get_state`` / ``set_state``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ImageShapeError
from ._image import apply, check_size, numpy_rng
from .resize import resize

__all__ = ["center_crop", "crop", "CenterCrop", "RandomCrop", "RandomResizedCrop"]


def crop(image: Any, top: int, left: int, height: int, width: int) -> Any:
    """The window ``[top:top+height, left:left+width]`` of ``image [..., C, H, W]`` (must lie inside it)."""

    def run(array: np.ndarray) -> np.ndarray:
        h, w = array.shape[-2:]
        if top < 0 or left < 0 or height <= 0 or width <= 0 or top + height > h or left + width > w:
            raise ImageShapeError(
                f"crop: window top={top} left={left} {height}x{width} does not fit an image of {h}x{w}"
            )
        return array[..., top : top + height, left : left + width].copy()

    return apply(image, "crop", run)


def center_crop(image: Any, size: Any) -> Any:
    """The central ``size`` window; the offset rounds like torchvision's (``int(round((H - h) / 2))``)."""
    height, width = check_size(size, "center_crop")

    def run(array: np.ndarray) -> np.ndarray:
        h, w = array.shape[-2:]
        if height > h or width > w:
            raise ImageShapeError(f"center_crop: crop {height}x{width} is larger than the image {h}x{w}")
        top, left = int(round((h - height) / 2.0)), int(round((w - width) / 2.0))
        return array[..., top : top + height, left : left + width].copy()

    return apply(image, "center_crop", run)


class CenterCrop:
    """Crop the centre ``size`` window (an int or ``(h, w)``)."""

    def __init__(self, size: Any) -> None:
        self.size = check_size(size, "CenterCrop")

    def __call__(self, image: Any) -> Any:
        return center_crop(image, self.size)

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


class RandomCrop:
    """Crop a ``size`` window at a uniformly drawn offset, after zero-padding each side by ``padding``.

    A batch ``[N, C, H, W]`` shares one window (one draw per call).
    """

    def __init__(self, size: Any, padding: int = 0, fill: float = 0.0, generator: Any = None) -> None:
        self.size = check_size(size, "RandomCrop")
        if padding < 0:
            raise ValueError(f"RandomCrop: padding must be >= 0, got {padding}")
        self.padding, self.fill, self.generator = padding, fill, generator

    def __call__(self, image: Any) -> Any:
        rng = numpy_rng(self.generator)
        height, width = self.size

        def run(array: np.ndarray) -> np.ndarray:
            if self.padding:
                pad = [(0, 0)] * (array.ndim - 2) + [(self.padding, self.padding)] * 2
                array = np.pad(array, pad, constant_values=self.fill)
            h, w = array.shape[-2:]
            if height > h or width > w:
                raise ImageShapeError(f"RandomCrop: crop {height}x{width} is larger than the image {h}x{w}")
            top = int(rng.integers(0, h - height + 1))
            left = int(rng.integers(0, w - width + 1))
            return array[..., top : top + height, left : left + width].copy()

        return apply(image, "RandomCrop", run)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomResizedCrop:
    """Crop a random area fraction in ``scale`` with aspect ratio in ``ratio`` and resize it to ``size``.

    The window is drawn like torchvision's ``RandomResizedCrop.get_params``: up to ten tries of an area
    uniform in ``scale`` and a log-uniform ratio, then a centre crop clamped to ``ratio``.
    """

    def __init__(
        self,
        size: Any,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        mode: str = "bilinear",
        antialias: bool = True,
        generator: Any = None,
    ) -> None:
        self.size = check_size(size, "RandomResizedCrop")
        if not (0 < scale[0] <= scale[1] <= 1) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(
                f"RandomResizedCrop: need 0 < scale[0] <= scale[1] <= 1 and 0 < ratio, got {scale}, {ratio}"
            )
        self.scale, self.ratio, self.mode, self.antialias, self.generator = scale, ratio, mode, antialias, generator

    def get_params(self, height: int, width: int) -> tuple[int, int, int, int]:
        """``(top, left, h, w)`` of the window for an image of ``height x width``."""
        rng = numpy_rng(self.generator)
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(*log_ratio))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            h, w = height, int(round(height * self.ratio[1]))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, image: Any) -> Any:
        height, width = tuple(image.shape)[-2:]
        top, left, h, w = self.get_params(height, width)
        return resize(crop(image, top, left, h, w), self.size, self.mode, self.antialias)

    def __repr__(self) -> str:
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio}, mode={self.mode!r})"

"""``erase`` / ``RandomErasing``: blank a random rectangle (Zhong et al. 2017, torchvision's parameter rule)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..errors import ImageShapeError
from ._image import apply, numpy_rng

__all__ = ["erase", "RandomErasing"]


def erase(image: Any, top: int, left: int, height: int, width: int, value: Any) -> Any:
    """A copy of ``image [..., C, H, W]`` with ``[top:top+height, left:left+width]`` set to ``value``.

    ``value`` is a number, one number per channel, or an array broadcastable to ``[C, height, width]``.
    """

    def run(array: np.ndarray) -> np.ndarray:
        h, w = array.shape[-2:]
        if top < 0 or left < 0 or height <= 0 or width <= 0 or top + height > h or left + width > w:
            raise ImageShapeError(f"erase: window top={top} left={left} {height}x{width} does not fit {h}x{w}")
        fill = np.asarray(value, dtype=np.float64)
        if fill.ndim == 1:
            fill = fill[:, None, None]
        out = array.copy()
        out[..., top : top + height, left : left + width] = fill.astype(array.dtype)
        return out

    return apply(image, "erase", run)


class RandomErasing:
    """With probability ``p``, erase a rectangle of area fraction in ``scale`` and aspect ratio in ``ratio``.

    ``value``: a number, one per channel, or ``"random"`` for standard-normal noise. The window is
    drawn like torchvision's ``RandomErasing.get_params``: up to ten tries of an area uniform in
    ``scale`` and a log-uniform ratio, keeping the first that fits strictly inside; if none fits the
    image is returned unchanged. A batch shares one draw.
    """

    def __init__(
        self,
        p: float = 0.5,
        scale: tuple[float, float] = (0.02, 0.33),
        ratio: tuple[float, float] = (0.3, 3.3),
        value: float | Sequence[float] | str = 0.0,
        generator: Any = None,
    ) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomErasing: p must be in [0, 1], got {p}")
        if not (0 <= scale[0] <= scale[1] <= 1) or not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"RandomErasing: need 0 <= scale[0] <= scale[1] <= 1 and 0 < ratio, got {scale}, {ratio}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: value must be a number, a sequence or 'random', got {value!r}")
        self.p, self.scale, self.ratio, self.value, self.generator = p, scale, ratio, value, generator

    def get_params(self, channels: int, height: int, width: int) -> tuple[int, int, int, int, np.ndarray] | None:
        """``(top, left, h, w, value)`` of the window, or None when ten tries found none that fits."""
        rng = numpy_rng(self.generator)
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(*log_ratio))
            h = int(round(math.sqrt(target * aspect)))
            w = int(round(math.sqrt(target / aspect)))
            if not (h < height and w < width):
                continue
            if self.value == "random":
                fill = rng.standard_normal((channels, h, w)).astype(np.float32)
            else:
                fill = np.atleast_1d(np.asarray(self.value, dtype=np.float64))
                if fill.size not in (1, channels):
                    raise ImageShapeError(f"RandomErasing: {fill.size} fill values for {channels} channels")
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return top, left, h, w, fill
        return None

    def __call__(self, image: Any) -> Any:
        rng = numpy_rng(self.generator)
        if rng.random() >= self.p:
            return image
        shape = tuple(image.shape)
        if len(shape) not in (3, 4):
            raise ImageShapeError(f"RandomErasing: expected [C, H, W] or [N, C, H, W], got shape {shape}")
        params = self.get_params(*shape[-3:])
        if params is None:
            return image
        return erase(image, *params)

    def __repr__(self) -> str:
        return f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value!r})"

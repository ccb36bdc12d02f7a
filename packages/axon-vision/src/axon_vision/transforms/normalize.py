"""``normalize`` / ``Normalize``: per-channel ``(x - mean) / std`` on ``[..., C, H, W]`` images and batches.

axon-data's ``Normalize`` takes the channel as the first axis of a Tensor; vision batches are
``[N, C, H, W]``, so this one takes the channel axis as ``-3`` and works on arrays too.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ImageDtypeError, ImageShapeError
from ._image import apply

__all__ = ["normalize", "Normalize"]


def normalize(image: Any, mean: Sequence[float], std: Sequence[float]) -> Any:
    """``(image - mean[c]) / std[c]`` for each channel ``c`` of a floating ``[..., C, H, W]`` image."""
    mean_arr = np.atleast_1d(np.asarray(mean, dtype=np.float64))
    std_arr = np.atleast_1d(np.asarray(std, dtype=np.float64))
    if np.any(std_arr == 0):
        raise ValueError(f"normalize: std has a zero entry: {std_arr.tolist()}")

    def run(array: np.ndarray) -> np.ndarray:
        if not np.issubdtype(array.dtype, np.floating):
            raise ImageDtypeError(f"normalize: needs a floating-point image, got {array.dtype} (convert with ToTensor)")
        channels = array.shape[-3]
        for name, values in (("mean", mean_arr), ("std", std_arr)):
            if values.size not in (1, channels):
                raise ImageShapeError(f"normalize: {name} has {values.size} values for {channels} channels")
        shape = (-1, 1, 1)
        m = mean_arr.reshape(shape).astype(array.dtype)
        s = std_arr.reshape(shape).astype(array.dtype)
        return (array - m) / s

    return apply(image, "normalize", run)


class Normalize:
    """Normalise each channel with ``mean`` and ``std`` (one value per channel, or one for all)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean, self.std = list(np.atleast_1d(mean)), list(np.atleast_1d(std))
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std has a zero entry: {self.std}")

    def __call__(self, image: Any) -> Any:
        return normalize(image, self.mean, self.std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"

"""``RandomHorizontalFlip``: mirror the width axis with probability ``p``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._image import apply, numpy_rng

__all__ = ["hflip", "RandomHorizontalFlip"]


def hflip(image: Any) -> Any:
    """``image [..., C, H, W]`` mirrored left to right."""
    return apply(image, "hflip", lambda array: np.ascontiguousarray(array[..., ::-1]))


class RandomHorizontalFlip:
    """Flip with probability ``p`` (one draw per call, from ``generator``)."""

    def __init__(self, p: float = 0.5, generator: Any = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p, self.generator = p, generator

    def __call__(self, image: Any) -> Any:
        return hflip(image) if numpy_rng(self.generator).random() < self.p else image

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"

"""Conversions shared by the transforms: every transform works on NumPy ``[..., C, H, W]`` arrays and
hands an axon Tensor back as a Tensor."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from axon_tensor import Tensor, tensor

from ..errors import ImageShapeError


def as_array(image: Any, op: str) -> np.ndarray:
    """``image`` (NumPy array or axon Tensor) as an array of shape ``[C, H, W]`` or ``[N, C, H, W]``."""
    array = image.numpy() if isinstance(image, Tensor) else np.asarray(image)
    if array.ndim not in (3, 4):
        raise ImageShapeError(f"{op}: expected an image [C, H, W] or a batch [N, C, H, W], got shape {array.shape}")
    return array


def like_input(result: np.ndarray, image: Any) -> Any:
    """``result`` as the same kind of object as ``image`` (a Tensor stays a Tensor)."""
    return tensor(np.ascontiguousarray(result)) if isinstance(image, Tensor) else result


def apply(image: Any, op: str, fn: Callable[[np.ndarray], np.ndarray]) -> Any:
    """Run ``fn`` on ``image`` as an array and give the result back in ``image``'s kind."""
    return like_input(fn(as_array(image, op)), image)


def check_size(size: Any, op: str) -> tuple[int, int]:
    """``size`` (an int or ``(h, w)``) as a positive ``(h, w)`` pair."""
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, (int, np.integer)) and s > 0 for s in pair):
        raise ValueError(f"{op}: size must be a positive int or a pair of positive ints, got {size!r}")
    return int(pair[0]), int(pair[1])


def numpy_rng(generator: Any) -> np.random.Generator:
    """The NumPy generator behind an ``axon_tensor.Generator`` (axon's default generator when None)."""
    from axon_tensor import default_generator

    return (generator if generator is not None else default_generator).numpy_generator

"""``to_tensor`` / ``ToTensor``: a PIL image or an ``[H, W(, C)]`` array to a float32 ``[C, H, W]`` Tensor."""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_tensor import Tensor, tensor

from ..errors import ImageShapeError

__all__ = ["to_tensor", "ToTensor"]


def to_tensor(picture: Any) -> Tensor:
    """A PIL image or NumPy ``[H, W]`` / ``[H, W, C]`` array as a ``[C, H, W]`` Tensor.

    uint8 values are scaled to float32 in [0, 1] (``/ 255``); other dtypes keep their values, and
    PIL's mode "1" becomes 0/1 — torchvision's ``ToTensor`` rules.
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None
    if Image is not None and isinstance(picture, Image.Image):
        array = np.asarray(picture)
        if picture.mode == "1":
            array = array.astype(np.uint8)
            return tensor(np.ascontiguousarray(array[None].astype(np.float32)))
    elif isinstance(picture, np.ndarray):
        array = picture
    else:
        raise TypeError(f"to_tensor: expected a PIL image or a NumPy array, got {type(picture).__name__}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ImageShapeError(f"to_tensor: expected [H, W] or [H, W, C], got shape {array.shape}")
    chw = np.ascontiguousarray(array.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        return tensor(chw.astype(np.float32) / np.float32(255.0))
    return tensor(chw)


class ToTensor:
    """Convert a PIL image or ``[H, W(, C)]`` array to a ``[C, H, W]`` Tensor: see :func:`to_tensor`."""

    def __call__(self, picture: Any) -> Tensor:
        return to_tensor(picture)

    def __repr__(self) -> str:
        return "ToTensor()"

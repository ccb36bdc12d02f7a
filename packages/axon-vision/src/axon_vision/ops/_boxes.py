"""Shared input handling for the box ops: boxes are ``[K, 4]`` ``(x1, y1, x2, y2)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_autograd import Variable
from axon_tensor import Tensor, tensor

from ..errors import BoxFormatError


def as_boxes(boxes: Any, op: str, last: int = 4) -> Any:
    """``boxes`` as a Tensor or Variable of shape ``[..., last]`` (NumPy arrays and lists become Tensors)."""
    if not isinstance(boxes, (Tensor, Variable)):
        array = np.asarray(boxes)
        # float64 stays float64 (Python lists of floats too); everything else computes in float32.
        boxes = tensor(array.astype(np.float64 if array.dtype == np.float64 else np.float32))
    if boxes.ndim < 1 or boxes.shape[-1] != last:
        raise BoxFormatError(f"{op}: boxes must be [..., {last}] (x1, y1, x2, y2), got shape {tuple(boxes.shape)}")
    return boxes


def host(values: Any) -> np.ndarray:
    """A Tensor, Variable or array as a NumPy array (no gradient)."""
    if isinstance(values, Variable):
        values = values.detach()
    return values.numpy() if isinstance(values, Tensor) else np.asarray(values)


def reduce(loss: Any, reduction: str, op: str) -> Any:
    """torchvision's reductions: ``none``, ``sum``, ``mean`` (the mean of nothing is 0)."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean() if int(np.prod(loss.shape)) > 0 else loss.sum() * 0.0
    raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")

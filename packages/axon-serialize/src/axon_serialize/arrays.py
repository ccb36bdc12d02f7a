"""Converting between axon tensors and host NumPy arrays for writing and reading files."""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_core import ALL_DTYPES, DType, as_dtype
from axon_tensor import Tensor, tensor

__all__ = ["host_array", "is_array_like", "to_tensor", "DTYPE_BY_NAME"]

DTYPE_BY_NAME: dict[str, DType] = {d.name: d for d in ALL_DTYPES}


def is_array_like(value: Any) -> bool:
    """Tensors, autograd Variables/Parameters (anything with a Tensor ``.data``) and NumPy arrays."""
    return isinstance(value, (Tensor, np.ndarray)) or isinstance(getattr(value, "data", None), Tensor)


def host_array(value: Any, name: str) -> np.ndarray:
    """A C-contiguous host array with the values of ``value`` (a Tensor, Variable or ndarray)."""
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, Tensor):
        array = value.numpy()
    elif isinstance(getattr(value, "data", None), Tensor):
        array = value.data.numpy()
    else:
        raise TypeError(f"{name!r}: expected a tensor or array, got {type(value).__name__}")
    as_dtype(array.dtype)
    # Not np.ascontiguousarray: it turns 0-d arrays into 1-d ones.
    return array if array.flags.c_contiguous else array.copy(order="C")


def to_tensor(array: np.ndarray, device: Any = None) -> Tensor:
    """A tensor (on ``device``, default the default device) holding a copy of ``array``."""
    return tensor(array, dtype=as_dtype(array.dtype), device=device)

"""Converting between axon tensors and host NumPy arrays for writing and reading files."""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_core import ALL_DTYPES, DType, as_dtype
from axon_tensor import Tensor, tensor

from .errors import SerializationError, short_repr

__all__ = ["host_array", "is_array_like", "to_tensor", "checked_shape", "DTYPE_BY_NAME", "MAX_DIMS", "MAX_EXTENT"]

DTYPE_BY_NAME: dict[str, DType] = {d.name: d for d in ALL_DTYPES}
MAX_DIMS = 64  # NumPy's limit (NPY_MAXDIMS)
MAX_EXTENT = 2**48  # bytes an array may span, counting each empty dimension as 1


def checked_shape(shape: Any, itemsize: int, where: str) -> tuple[int, ...]:
    """``shape`` from a file as a tuple, if it is a list of at most 64 non-negative ints that NumPy
    can describe: even an empty tensor's other dimensions must span at most 2**48 bytes (an
    empty ``[0, 2**63]`` holds nothing but has no NumPy shape). Raises SerializationError."""
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise SerializationError(f"{where}: bad shape {short_repr(shape)} (expected a list of non-negative ints)")
    if len(shape) > MAX_DIMS:
        raise SerializationError(f"{where}: bad shape: {len(shape)} dimensions, more than {MAX_DIMS}")
    extent = itemsize
    for s in shape:
        extent *= max(s, 1)  # Python ints: no overflow, and nothing is allocated here
    if extent > MAX_EXTENT:
        raise SerializationError(f"{where}: shape {shape} spans {extent} bytes, more than {MAX_EXTENT}")
    return tuple(shape)


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

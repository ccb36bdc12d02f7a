"""Small conversions shared by the transforms (Tensor / Variable / NumPy)."""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_autograd import Variable, tensor_of
from axon_tensor import tensor


def as_variable(x: Any) -> Variable:
    """``x`` as a Variable (a Tensor or a NumPy array is wrapped, without gradient)."""
    if isinstance(x, Variable):
        return x
    if isinstance(x, np.ndarray):
        x = tensor(x)
    return Variable(x)


def numpy_of(x: Any) -> np.ndarray:
    """The values of a Variable, Tensor or array as a NumPy array (no gradient)."""
    if isinstance(x, np.ndarray):
        return x
    return tensor_of(x).numpy()


def constant_like(values: np.ndarray, like: Any) -> Any:
    """``values`` as a Tensor with ``like``'s dtype and device."""
    data = tensor_of(like)
    return tensor(np.asarray(values), dtype=data.dtype, device=data.device)

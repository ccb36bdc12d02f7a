"""Helpers the operator families share: constants on the node's device, integer inputs, axes."""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_autograd import Variable
from axon_tensor import tensor

from .._node import Node
from ..errors import OnnxRuntimeError

__all__ = ["const", "ints", "axis", "axes_or_all", "fail"]


def const(node: Node, array: Any, dtype: Any = None) -> Variable:
    """A constant Variable on the node's device holding ``array`` (NumPy dtype kept unless given)."""
    data = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
    return Variable(tensor(data, device=node.device))


def ints(value: Any) -> list[int]:
    """An integer input (a 0-d or 1-d tensor such as Reshape's shape) as Python ints."""
    return [int(v) for v in np.asarray(value.detach().numpy()).reshape(-1)]


def axis(node: Node, value: int, ndim: int) -> int:
    """``value`` in ``[-ndim, ndim)`` made non-negative; out of range is a typed error."""
    if not -ndim <= value < max(ndim, 1):
        raise fail(node, f"axis {value} is out of range for a tensor of rank {ndim}")
    return value % ndim if ndim else 0


def axes_or_all(node: Node, axes: list[int] | None, ndim: int) -> tuple[int, ...]:
    """Reduction axes made non-negative; None means every axis."""
    if axes is None:
        return tuple(range(ndim))
    return tuple(sorted({axis(node, a, ndim) for a in axes}))


def fail(node: Node, message: str) -> OnnxRuntimeError:
    """A typed error naming the node."""
    return OnnxRuntimeError(f"{node.where()}: {message}")

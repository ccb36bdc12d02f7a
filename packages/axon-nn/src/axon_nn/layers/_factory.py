"""Making empty parameters and buffers on a module's device and dtype."""

from __future__ import annotations

import math
from typing import Any

import axon_tensor
from axon_core import get_default_dtype

from ..deferred import deferring
from ..parameter import Parameter


def new_parameter(*shape: int, device: Any = None, dtype: Any = None) -> Parameter:
    """An uninitialised Parameter; layers fill it in ``reset_parameters``.

    Under :func:`axon_nn.deferred_init` it has the shape and dtype but no storage of its own.
    """
    if deferring():
        return Parameter(axon_tensor.zeros((), dtype=dtype, device=device).expand(*shape))
    return Parameter(axon_tensor.empty(*shape, dtype=dtype, device=device))


def add_bias(module: Any, enabled: bool, *shape: int, device: Any = None, dtype: Any = None) -> None:
    """``module.bias``: an uninitialised Parameter of ``shape`` when ``enabled``, else registered as None."""
    if enabled:
        module.bias = new_parameter(*shape, device=device, dtype=dtype)
    else:
        module.register_parameter("bias", None)


def reset_fan_in_bias(bias: Any, fan_in: int) -> None:
    """PyTorch's default bias of linear and conv layers: ``U(±1/sqrt(fan_in))`` (0 when ``fan_in`` is 0)."""
    if bias is not None:
        from .. import init

        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


def filled(shape: tuple[int, ...], value: float, device: Any = None, dtype: Any = None) -> axon_tensor.Tensor:
    return axon_tensor.full(shape, float(value), dtype=get_default_dtype() if dtype is None else dtype, device=device)

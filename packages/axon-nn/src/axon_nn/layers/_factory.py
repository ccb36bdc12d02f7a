"""Making empty parameters and buffers on a module's device and dtype."""

from __future__ import annotations

from typing import Any

import axon_tensor
from axon_core import get_default_dtype

from ..parameter import Parameter


def new_parameter(*shape: int, device: Any = None, dtype: Any = None) -> Parameter:
    """An uninitialised Parameter; layers fill it in ``reset_parameters``."""
    return Parameter(axon_tensor.empty(*shape, dtype=dtype, device=device))


def filled(shape: tuple[int, ...], value: float, device: Any = None, dtype: Any = None) -> axon_tensor.Tensor:
    return axon_tensor.full(shape, float(value), dtype=get_default_dtype() if dtype is None else dtype, device=device)

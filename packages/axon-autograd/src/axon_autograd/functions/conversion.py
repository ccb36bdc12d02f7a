"""Dtype/device casts and copies: to, clone, contiguous (and float/double/half/... shorthands)."""

from __future__ import annotations

from typing import Any

from axon_core import Device, as_dtype
from axon_tensor import Tensor

from ..function import Function
from ..variable import Variable, variable_method

__all__ = ["To", "Clone", "Contiguous", "to"]


class To(Function):
    """``x.to(...)``; the gradient goes back in the input's dtype and device."""

    autocast_policy = None

    @staticmethod
    def forward(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return x.to(*args, **kwargs)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        x = inputs[0]
        ctx.source = (x.dtype, x.device)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        dtype, device = ctx.source
        return To.apply(g, device=device, dtype=dtype)


def _keep_nothing(ctx: Any, inputs: tuple, output: Tensor) -> None:
    """The gradient passes through unchanged: nothing to keep."""


class Clone(Function):
    setup_context = staticmethod(_keep_nothing)

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return g


class Contiguous(Function):
    setup_context = staticmethod(_keep_nothing)

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return x.contiguous()

    @staticmethod
    def backward(ctx: Any, g: Variable) -> Variable:
        return g


def to(input: Any, *args: Any, **kwargs: Any) -> Any:
    """``input.to(device | dtype | other, copy=False)``; the same Variable when nothing changes."""
    if not isinstance(input, Variable):
        return input.to(*args, **kwargs)
    args = tuple(a.data if isinstance(a, Variable) else a for a in args)
    if not kwargs.get("copy") and _is_noop(input.data, args, kwargs):
        return input
    return To.apply(input, *args, **kwargs)


def _is_noop(t: Tensor, args: tuple, kwargs: dict) -> bool:
    dtype, device = kwargs.get("dtype"), kwargs.get("device")
    for a in args:
        if a.__class__ is Tensor:
            dtype, device = a.dtype, a.device
        elif isinstance(a, Device) or (isinstance(a, str) and not _names_dtype(a)):
            device = a
        else:
            dtype = a
    if dtype is not None and as_dtype(dtype) is not t.dtype:
        return False
    return device is None or Device(device) is t.device


def _names_dtype(name: str) -> bool:
    try:
        as_dtype(name)
    except TypeError:
        return False
    return True


variable_method("to", always=True)(to)
variable_method("clone", always=True)(lambda input: Clone.apply(input))
variable_method("contiguous", always=True)(lambda input: Contiguous.apply(input))
variable_method("type_as", always=True)(lambda input, other: to(input, dtype=other.dtype))


def _cast_method(dtype_name: str) -> Any:
    return lambda input: to(input, dtype=dtype_name)


for _name, _dtype in (
    ("float", "float32"),
    ("double", "float64"),
    ("half", "float16"),
    ("bfloat16", "bfloat16"),
    ("long", "int64"),
    ("int", "int32"),
    ("bool", "bool"),
):
    variable_method(_name, always=True)(_cast_method(_dtype))
variable_method("cpu", always=True)(lambda input: to(input, device="cpu"))

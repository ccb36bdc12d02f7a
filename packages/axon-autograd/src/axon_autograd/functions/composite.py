"""Ops that are compositions of other differentiable ops; their gradient is the composition's."""

from __future__ import annotations

from typing import Any

import axon_tensor

from ..variable import Variable, variable_method
from .indexing import IndexSelect
from .reduction import ValuesIndices

__all__: list[str] = []


def _scaled(x: Any, factor: Any) -> Any:
    return x if factor == 1 else x * factor


@variable_method("addcmul")
def addcmul(input: Variable, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Variable:
    return input + _scaled(tensor1 * tensor2, value)


@variable_method("addcdiv")
def addcdiv(input: Variable, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Variable:
    return input + _scaled(tensor1 / tensor2, value)


def _add_product(input: Variable, product: Variable, beta: Any, alpha: Any) -> Variable:
    # beta == 0 ignores input entirely (NaN/inf in it do not propagate), as PyTorch.
    return _scaled(product, alpha) if beta == 0 else _scaled(input, beta) + _scaled(product, alpha)


@variable_method("addmm")
def addmm(input: Variable, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Variable:
    return _add_product(input, mat1.mm(mat2), beta, alpha)


@variable_method("addmv")
def addmv(input: Variable, mat: Any, vec: Any, *, beta: Any = 1, alpha: Any = 1) -> Variable:
    return _add_product(input, mat.matmul(vec), beta, alpha)


@variable_method("baddbmm")
def baddbmm(input: Variable, batch1: Any, batch2: Any, *, beta: Any = 1, alpha: Any = 1) -> Variable:
    return _add_product(input, batch1.bmm(batch2), beta, alpha)


@variable_method("outer", "ger")
def outer(input: Variable, vec2: Any) -> Variable:
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


variable_method("mv")(lambda input, vec: input.matmul(vec))
variable_method("vdot")(lambda input, other: input.dot(other))


@variable_method("lerp")
def lerp(input: Variable, end: Any, weight: Any) -> Variable:
    return input + weight * (end - input)


@variable_method("hypot")
def hypot(input: Variable, other: Any) -> Variable:
    return (input * input + other * other).sqrt()


@variable_method("var_mean")
def var_mean(input: Variable, dim: Any = None, *, correction: Any = 1, keepdim: bool = False) -> tuple:
    return input.var(dim, correction=correction, keepdim=keepdim), input.mean(dim, keepdim=keepdim)


@variable_method("std_mean")
def std_mean(input: Variable, dim: Any = None, *, correction: Any = 1, keepdim: bool = False) -> tuple:
    return input.std(dim, correction=correction, keepdim=keepdim), input.mean(dim, keepdim=keepdim)


@variable_method("aminmax")
def aminmax(input: Variable, *, dim: Any = None, keepdim: bool = False) -> Any:
    low = input.amin(dim if dim is not None else (), keepdim)
    high = input.amax(dim if dim is not None else (), keepdim)
    return ValuesIndices(low, high)


@variable_method("repeat_interleave")
def repeat_interleave(input: Variable, repeats: Any, dim: int | None = None) -> Variable:
    if dim is None:
        input, dim = input.reshape(-1), 0
    size = input.shape[dim]
    repeats = repeats.data if isinstance(repeats, Variable) else repeats
    index = axon_tensor.arange(size, device=input.device).repeat_interleave(repeats)
    return IndexSelect.apply(input, dim, index)

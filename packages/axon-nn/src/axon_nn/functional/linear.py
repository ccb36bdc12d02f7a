"""``linear``: ``y = x Wᵀ + b``."""

from __future__ import annotations

import math
from typing import Any

from axon_autograd import Function, is_autocast_enabled
from axon_core import DTypeError, ShapeError

from ._twice import graph_backward
from ._util import out_like, saved

__all__ = ["linear"]


def _rows(a: Any) -> Any:
    """``a [*, n]`` as ``[rows, n]`` (a view when the layout allows, else one copy)."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def _composite(ctx: Any, x: Any, weight: Any, bias: Any) -> Any:
    """The same product as Variable ops: what double backward differentiates."""
    y = x @ weight.transpose(0, 1)
    return y if bias is None else y + bias


class LinearFunction(Function):
    """``x [*, in]``, ``weight [out, in]``, ``bias [out]`` or None -> ``[*, out]``.

    The leading dims are folded into one so each product is a single 2-d BLAS call; NumPy
    would otherwise loop over them with one small GEMM each.
    """

    fresh_gradients = True  # every gradient is a new product or sum

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight, bias)
        ctx.has_bias = bias is not None
        y = _rows(x.array) @ weight.array.T
        if bias is not None:
            y += bias.array
        return out_like(y.reshape(*x.shape[:-1], weight.shape[0]), x)

    @staticmethod
    @graph_backward(_composite)
    def backward(ctx, grad):
        x, weight, _ = saved(ctx)
        g2 = _rows(grad.array)
        needs = ctx.needs_input_grad
        grad_x = out_like((g2 @ weight.array).reshape(x.shape), x) if needs[0] else None
        grad_w = out_like(g2.T @ _rows(x.array), weight) if needs[1] else None
        grad_b = out_like(g2.sum(axis=0), weight) if ctx.has_bias and needs[2] else None
        return grad_x, grad_w, grad_b


def linear(input: Any, weight: Any, bias: Any = None) -> Any:
    """``input [*, in] @ weight[out, in]ᵀ + bias[out]`` -> ``[*, out]``."""
    if len(input.shape) == 0 or len(weight.shape) != 2 or input.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"linear: input {tuple(input.shape)} does not match weight {tuple(weight.shape)} (expected [*, "
            f"{weight.shape[-1] if len(weight.shape) else '?'}])"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ShapeError(f"linear: bias {tuple(bias.shape)} does not match weight {tuple(weight.shape)}")
    # PyTorch refuses mixed dtypes here rather than promoting (autocast mixes them on purpose).
    for name, other in (("weight", weight), ("bias", bias)):
        if other is not None and other.dtype != input.dtype and not is_autocast_enabled():
            raise DTypeError(f"linear: input is {input.dtype} but {name} is {other.dtype}; cast one of them")
    return LinearFunction.apply(input, weight, bias)

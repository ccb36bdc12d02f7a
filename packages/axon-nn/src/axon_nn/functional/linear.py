"""``linear``: ``y = x Wᵀ + b``."""

from __future__ import annotations

import math
from typing import Any

from axon_autograd import Function, is_autocast_enabled
from axon_core import DTypeError, ShapeError

from ._twice import graph_backward
from ._util import out_like, saved

__all__ = ["linear", "bilinear"]


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


def bilinear(input1: Any, input2: Any, weight: Any, bias: Any = None) -> Any:
    """``y_o = Σ_ij x1_i W_oij x2_j + b_o``: ``[*, in1]`` x ``[*, in2]`` with ``weight [out, in1, in2]``
    -> ``[*, out]``. Composed of matmul and sum, so both inputs, the weight and the bias get gradients."""
    if len(weight.shape) != 3:
        raise ShapeError(f"bilinear: weight must be [out, in1, in2], got {tuple(weight.shape)}")
    out, in1, in2 = tuple(weight.shape)
    s1, s2 = tuple(input1.shape), tuple(input2.shape)
    if not s1 or not s2 or s1[-1] != in1 or s2[-1] != in2 or s1[:-1] != s2[:-1]:
        raise ShapeError(
            f"bilinear: inputs [*, {in1}] and [*, {in2}] with the same leading dims expected for weight "
            f"{tuple(weight.shape)}, got {s1} and {s2}"
        )
    if bias is not None and tuple(bias.shape) != (out,):
        raise ShapeError(f"bilinear: bias must be [{out}], got {tuple(bias.shape)}")
    if input1.dtype != weight.dtype or input2.dtype != weight.dtype:
        raise DTypeError(f"bilinear: inputs {input1.dtype}, {input2.dtype} and weight {weight.dtype} must match")
    lead = s1[:-1]
    x1, x2 = input1.reshape(-1, in1), input2.reshape(-1, in2)
    # [M, in1] @ [in1, out * in2] -> [M, out, in2], then contract in2 against x2.
    mixed = (x1 @ weight.permute(1, 0, 2).reshape(in1, out * in2)).reshape(-1, out, in2)
    y = (mixed * x2.reshape(-1, 1, in2)).sum(2)
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, out)

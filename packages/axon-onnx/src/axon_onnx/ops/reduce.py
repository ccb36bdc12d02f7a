"""Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSumExp/SumSquare/LogSum, ArgMax/ArgMin, CumSum.

ReduceSum takes its axes as an input from opset 13, the others from opset 18 (an attribute
before); both forms are registered. An empty reduction yields the operation's identity (0 for
sums, 1 for products, -inf/+inf or the integer limits for max/min), as onnx's reference does.
"""

from __future__ import annotations

import math

import numpy as np

from axon_autograd import cat

from ..registry import register
from ._util import axes_or_all, axis, const, fail, ints

_REDUCE_ATTRS = ("keepdims", "noop_with_empty_axes")


def _identity(name: str, dtype: np.dtype) -> float | int | bool:
    if dtype.kind == "b":
        return name in ("min", "prod")
    if name in ("max", "log_sum_exp", "log_sum"):
        return -math.inf if dtype.kind == "f" else np.iinfo(dtype).min
    if name == "min":
        return math.inf if dtype.kind == "f" else np.iinfo(dtype).max
    return 1 if name == "prod" else 0


def _compute(name: str, x, dims: tuple[int, ...], keep: bool):
    if name == "sum":
        return x.sum(dim=dims, keepdim=keep)
    if name == "mean":
        return x.mean(dim=dims, keepdim=keep)
    if name == "max":
        return x.amax(dim=dims, keepdim=keep)
    if name == "min":
        return x.amin(dim=dims, keepdim=keep)
    if name == "sum_square":
        return (x * x).sum(dim=dims, keepdim=keep)
    if name == "l1":
        return x.abs().sum(dim=dims, keepdim=keep)
    if name == "l2":
        return (x * x).sum(dim=dims, keepdim=keep).sqrt()
    if name == "log_sum":
        return x.sum(dim=dims, keepdim=keep).log()
    if name == "log_sum_exp":
        return x.logsumexp(dim=dims, keepdim=keep)
    out = x  # prod: PyTorch reduces one dim at a time, highest first so the others stay put
    for d in sorted(dims, reverse=True):
        out = out.prod(dim=d, keepdim=keep)
    return out


def _reduce(name: str, node, x, axes: list[int] | None):
    keep = bool(node.get("keepdims", 1))
    if axes is not None and len(axes) == 0:
        axes = None
    if axes is None and node.get("noop_with_empty_axes", 0):
        return x
    dims = axes_or_all(node, axes, x.ndim)
    if x.ndim == 0:
        return x
    if any(x.shape[d] == 0 for d in dims):
        shape = [1 if d in dims else s for d, s in enumerate(x.shape) if keep or d not in dims]
        return const(node, np.full(shape, _identity(name, x.dtype.np), dtype=x.dtype.np))
    out = _compute(name, x, dims, keep)
    if name in ("mean", "l2", "log_sum", "log_sum_exp") and not x.dtype.is_floating_point:
        raise fail(node, f"Reduce over {x.dtype} input needs a floating dtype here")
    return out if out.dtype == x.dtype else out.to(x.dtype)


_OPS = {
    "ReduceSum": "sum",
    "ReduceMean": "mean",
    "ReduceMax": "max",
    "ReduceMin": "min",
    "ReduceProd": "prod",
    "ReduceL1": "l1",
    "ReduceL2": "l2",
    "ReduceSumSquare": "sum_square",
    "ReduceLogSum": "log_sum",
    "ReduceLogSumExp": "log_sum_exp",
}


def _with_axes_input(name: str):
    def run(node, x, axes=None):
        return _reduce(name, node, x, None if axes is None else ints(axes))

    return run


def _with_axes_attribute(name: str):
    def run(node, x):
        return _reduce(name, node, x, node.get("axes"))

    return run


for _op, _name in _OPS.items():
    if _op == "ReduceSum":
        register(_op, since=13, attrs=_REDUCE_ATTRS)(_with_axes_input(_name))
    else:
        register(_op, since=13, attrs=("axes", "keepdims"))(_with_axes_attribute(_name))
        register(_op, since=18, attrs=_REDUCE_ATTRS)(_with_axes_input(_name))


def _arg(kind: str):
    def run(node, x):
        dim = axis(node, node.get("axis", 0), x.ndim)
        keep = bool(node.get("keepdims", 1))
        if node.get("select_last_index", 0):
            # The last extreme of x is the first one of x reversed along the axis.
            flipped = x.flip(dim)
            idx = getattr(flipped, kind)(dim=dim, keepdim=keep)
            return (x.shape[dim] - 1) - idx
        return getattr(x, kind)(dim=dim, keepdim=keep)

    return run


register("ArgMax", attrs=("axis", "keepdims", "select_last_index"))(_arg("argmax"))
register("ArgMin", attrs=("axis", "keepdims", "select_last_index"))(_arg("argmin"))


@register("CumSum", attrs=("exclusive", "reverse"))
def cumsum(node, x, axis_input):
    dim = axis(node, ints(axis_input)[0], x.ndim)
    if node.get("reverse", 0):
        x = x.flip(dim)
    out = x.cumsum(dim)
    if node.get("exclusive", 0):
        out = out - x
    if node.get("reverse", 0):
        out = out.flip(dim)
    return out if out.dtype == x.dtype else out.to(x.dtype)


@register("CumProd", since=26, attrs=("exclusive", "reverse"))
def cumprod(node, x, axis_input):
    dim = axis(node, ints(axis_input)[0], x.ndim)
    if node.get("reverse", 0):
        x = x.flip(dim)
    out = x.cumprod(dim)
    if node.get("exclusive", 0):
        # Shift by one along the axis with a leading 1: the product of the elements before each.
        ones = x.narrow(dim, 0, 1) * 0 + 1
        out = cat([ones, out.narrow(dim, 0, x.shape[dim] - 1)], dim) if x.shape[dim] else out
    if node.get("reverse", 0):
        out = out.flip(dim)
    return out if out.dtype == x.dtype else out.to(x.dtype)

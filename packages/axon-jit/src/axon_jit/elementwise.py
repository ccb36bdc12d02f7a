"""What fuses: the elementwise ops and last-axis reductions a generated kernel can compute.

One row per op, keyed by the name the observer reports: how many tensor-or-scalar operands it
takes, the keyword arguments it may carry (with the only values that keep it elementwise), and
the formula, a Python expression over its operands ``{0}``, ``{1}`` in the group's dtype ``T``.
Each formula is the one the eager op computes (``axon_tensor/ops``, ``axon_core`` host kernels),
step for step where the steps are IEEE operations, so those fuse bit-exactly; ``exp``, ``log``,
``tanh``, ``erf`` and ``pow`` call LLVM's libm, not NumPy's SIMD loops, and differ by a few ulp
(README: measured bounds). The helpers (``_sigmoid``, ``_gelu_tanh``, ...) are defined in the
generated module's prelude (:data:`PRELUDE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .graph import Const, Input, Item, Node

__all__ = ["ELEMENTWISE", "PRELUDE", "REDUCTIONS", "Elementwise", "bind"]


@dataclass(frozen=True)
class Elementwise:
    arity: int
    formula: str
    kwargs: tuple[tuple[str, Any], ...] = ()  # keyword -> the one value that keeps this formula


ELEMENTWISE: dict[str, Elementwise] = {
    "add": Elementwise(2, "{0} + {1}", (("alpha", 1),)),
    "radd": Elementwise(2, "{1} + {0}"),
    "sub": Elementwise(2, "{0} - {1}", (("alpha", 1),)),
    "rsub": Elementwise(2, "{1} - {0}", (("alpha", 1),)),
    "mul": Elementwise(2, "{0} * {1}"),
    "rmul": Elementwise(2, "{1} * {0}"),
    "div": Elementwise(2, "{0} / {1}", (("rounding_mode", None),)),
    "truediv": Elementwise(2, "{0} / {1}"),
    "rtruediv": Elementwise(2, "{1} / {0}"),
    "rdiv": Elementwise(2, "{1} / {0}"),
    "neg": Elementwise(1, "-{0}"),
    "abs": Elementwise(1, "abs({0})"),
    "square": Elementwise(1, "{0} * {0}"),
    "sqrt": Elementwise(1, "np.sqrt({0})"),
    "rsqrt": Elementwise(1, "T(1) / np.sqrt({0})"),
    "reciprocal": Elementwise(1, "T(1) / {0}"),
    "exp": Elementwise(1, "np.exp({0})"),
    "log": Elementwise(1, "np.log({0})"),
    "tanh": Elementwise(1, "np.tanh({0})"),
    "erf": Elementwise(1, "T(math.erf(float({0})))"),
    "sigmoid": Elementwise(1, "_sigmoid({0})"),
    "relu": Elementwise(1, "_relu({0})"),
    "silu": Elementwise(1, "_silu({0})"),
    "maximum": Elementwise(2, "_maximum({0}, {1})"),
    "minimum": Elementwise(2, "_minimum({0}, {1})"),
    "pow": Elementwise(2, "{0} ** {1}"),
}

#: name -> (accumulator start, per-element update of ``acc`` by ``v``, the row value from ``acc``);
#: a start of None means a sum: the row is buffered and summed by ``_pairwise_sum``, NumPy's own
#: pairwise summation (blocks of 8 partial sums, halves above 128 elements) in ``T``, so sums and
#: means over the last dim equal NumPy's bit for bit.
REDUCTIONS: dict[str, tuple[str | None, str, str]] = {
    "sum": (None, "", "acc"),
    "mean": (None, "", "acc / T(C)"),  # NumPy's mean: the sum in T, divided by the count in T
    "amax": ("T(-np.inf)", "acc = v if (v > acc or v != v) else acc", "acc"),
    "amin": ("T(np.inf)", "acc = v if (v < acc or v != v) else acc", "acc"),
}

PRELUDE = """
import math

import numpy as np
from numba import njit, prange

from axon_core.backend.numerics import GELU_TANH_COEFF, INV_SQRT_2, SATURATION, SQRT_2_OVER_PI

T = np.{dtype}


@njit(cache=True)
def _block_sum(a, lo, n):
    # numpy/_core/src/umath/loops_utils.h.src, pairwise_sum's leaves (n <= 128), step for step
    if n < 8:
        res = T(-0.0)
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _pairwise_sum(a, lo, n):
    # NumPy's recursion (halves, rounded down to a multiple of 8, above 128 elements) walked with
    # an explicit stack: Numba's on-disk cache crashes on reloading a self-recursive function
    if n <= 128:
        return _block_sum(a, lo, n)
    starts = np.empty(128, np.int64)
    sizes = np.empty(128, np.int64)
    steps = np.zeros(128, np.int64)
    partial = np.empty(128, T)
    top, done = 0, 0
    starts[0], sizes[0] = lo, n
    while top >= 0:
        start, size = starts[top], sizes[top]
        if size <= 128:
            partial[done] = _block_sum(a, start, size)
            done += 1
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if steps[top] == 0:
            steps[top] = 1
            top += 1
            starts[top], sizes[top], steps[top] = start, half, 0
        elif steps[top] == 1:
            steps[top] = 2
            top += 1
            starts[top], sizes[top], steps[top] = start + half, size - half, 0
        else:
            done -= 1
            partial[done - 1] = partial[done - 1] + partial[done]
            top -= 1
    return partial[0]


@njit(cache=True)
def _sigmoid(x):
    # axon_tensor's sigmoid: split by sign so exp cannot overflow
    z = np.exp(-abs(x))
    return T(1) / (T(1) + z) if x >= T(0) else z / (T(1) + z)


@njit(cache=True)
def _relu(x):
    # the host kernel's: NaN and -0.0 pass through
    return T(0) if x < T(0) else x


@njit(cache=True)
def _maximum(a, b):
    return a if (a >= b or a != a) else b


@njit(cache=True)
def _minimum(a, b):
    return a if (a <= b or a != a) else b


@njit(cache=True)
def _sigmoid64(z, e):
    r = 1.0 / (1.0 + e)
    return r if z >= 0.0 else e * r


@njit(cache=True)
def _low(x):
    return -SATURATION if x < -SATURATION else x


@njit(cache=True)
def _gelu_tanh(x):
    # the CPU backend's host kernel, in float64, rounded once
    w = _low(float(x))
    z = 2.0 * SQRT_2_OVER_PI * (w + GELU_TANH_COEFF * w * w * w)
    return T(w * _sigmoid64(z, math.exp(-abs(z))))


@njit(cache=True)
def _gelu_erf(x):
    w = _low(float(x))
    return T(0.5 * w * math.erfc(-w * INV_SQRT_2))


@njit(cache=True)
def _silu(x):
    # the host kernel: e = exp(-|x|) in T, the rest in float64
    e = float(np.exp(-abs(x)))
    w = _low(float(x))
    return T(w * _sigmoid64(w, e))
"""


def _is_operand(value: Any) -> bool:
    return isinstance(value, (Input, Const, Item, Node)) or (type(value) in (int, float))


def bind(node: Node) -> tuple[str, list[Any]] | str:
    """``(formula, operands)`` for a node that fuses elementwise, or why it does not (a string).

    Reductions are bound by :func:`reduction_of`; this covers the elementwise table and gelu.
    """
    if node.op == "gelu":
        approximate = node.kwargs.get("approximate", node.args[1] if len(node.args) > 1 else "none")
        if len(node.args) > 2 or set(node.kwargs) - {"approximate"} or approximate not in ("none", "tanh"):
            return "gelu: arguments other than approximate='none'/'tanh'"
        return ("_gelu_tanh({0})" if approximate == "tanh" else "_gelu_erf({0})"), [node.args[0]]
    entry = ELEMENTWISE.get(node.op)
    if entry is None:
        return f"{node.op}: not an elementwise op the JIT fuses"
    allowed = dict(entry.kwargs)
    for key, value in node.kwargs.items():
        if key not in allowed or value != allowed[key] or type(value) is not type(allowed[key]):
            return f"{node.op}: keyword {key}={value!r} is not fused"
    if len(node.args) != entry.arity or not all(_is_operand(a) for a in node.args):
        return f"{node.op}: called with operands the JIT does not fuse (tensors and Python int/float only)"
    if node.op == "pow" and type(node.args[1]) not in (int, float):
        return "pow: only a Python scalar exponent is fused"
    return entry.formula, list(node.args)


def reduction_of(node: Node) -> str | None:
    """The reduction's name when ``node`` reduces its one tensor over the last dim, else None."""
    if node.op not in REDUCTIONS or not node.args or not isinstance(node.args[0], (Input, Const, Item, Node)):
        return None
    names = ("dim", "keepdim")
    given = dict(zip(names, node.args[1:]))
    if len(node.args) > 3 or set(node.kwargs) - set(names) or set(given) & set(node.kwargs):
        return None
    given.update(node.kwargs)
    dim = given.get("dim")
    if isinstance(dim, (tuple, list)) and len(dim) == 1:
        dim = dim[0]
    ndim = len(node.shape) + (0 if given.get("keepdim", False) else 1)
    if type(dim) is not int or dim not in (-1, ndim - 1) or ndim == 0:
        return None
    return node.op

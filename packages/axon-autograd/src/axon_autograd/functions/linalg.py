"""Matrix products: matmul (``@``), mm, bmm, dot, einsum. Run in low precision under autocast."""

from __future__ import annotations

import string
from typing import Any

import axon_tensor
from axon_tensor import Tensor

from ..function import Function
from ..variable import Variable, variable_method
from ._util import constant, reduce_grad

__all__ = ["Matmul", "Dot", "Einsum", "einsum"]


class Matmul(Function):
    """``a @ b`` with NumPy/PyTorch semantics (1-D operands, broadcast batch dims). ``name``
    picks the Tensor method (matmul, mm, bmm) so its shape checks apply."""

    autocast_policy = "lower"

    @staticmethod
    def forward(a: Tensor, b: Tensor, name: str = "matmul") -> Tensor:
        return a.matmul(b) if name == "matmul" else getattr(a, name)(b)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Tensor) -> None:
        a, b = inputs[:2]
        ctx.save_for_backward(a, b)
        ctx.meta = ((a.array.shape, a.dtype), (b.array.shape, b.dtype))

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        a, b = ctx.saved_tensors
        a_vec, b_vec = a.ndim == 1, b.ndim == 1
        a2 = a.unsqueeze(0) if a_vec else a
        b2 = b.unsqueeze(-1) if b_vec else b
        if a_vec and b_vec:
            g2 = g.reshape((1, 1))
        elif a_vec:
            g2 = g.unsqueeze(-2)
        elif b_vec:
            g2 = g.unsqueeze(-1)
        else:
            g2 = g
        ma, mb = ctx.meta
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g2.matmul(b2.transpose(-1, -2))
            ga = reduce_grad(ga, (a2.shape, ma[1]))
            ga = ga.reshape(ma[0]) if a_vec else ga
        if ctx.needs_input_grad[1]:
            gb = a2.transpose(-1, -2).matmul(g2)
            gb = reduce_grad(gb, (b2.shape, mb[1]))
            gb = gb.reshape(mb[0]) if b_vec else gb
        return ga, gb


class Dot(Function):
    autocast_policy = "lower"

    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor) -> Tensor:
        ctx.save_for_backward(a, b)
        return a.dot(b)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None, g * a if ctx.needs_input_grad[1] else None)


class Einsum(Function):
    """``einsum(equation, *operands)`` with explicit output (``->``) or the implicit one.

    Each operand's gradient is itself an einsum of the output gradient with the other operands
    (so it is differentiable again). An ellipsis is spelled out as fresh labels first; labels
    summed away within one operand alone are broadcast back, labels an operand broadcasts (size
    1 there) are summed back to 1, and a label repeated within one operand (a diagonal) gets
    its gradient written onto that diagonal through identity matrices.
    """

    autocast_policy = "lower"

    @staticmethod
    def forward(ctx: Any, equation: str, *operands: Tensor) -> Tensor:
        ctx.equation = equation.replace(" ", "")
        ctx.save_for_backward(*operands)
        return axon_tensor.einsum(equation, *operands)

    @staticmethod
    def backward(ctx: Any, g: Variable) -> tuple:
        operands = ctx.saved_tensors
        inputs, output = _parse(ctx.equation, len(operands))
        fresh = [c for c in string.ascii_letters if c not in ctx.equation]
        inputs, output = _spell_ellipsis(ctx.equation, inputs, output, [o.ndim for o in operands], fresh)
        sizes: dict[str, int] = {}
        for spec, o in zip(inputs, operands):
            for c, n in zip(spec, o.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        grads: list[Any] = [None]
        for i, spec in enumerate(inputs):
            if not ctx.needs_input_grad[i + 1]:
                grads.append(None)
                continue
            own = dict(zip(spec, operands[i].shape))
            unique = "".join(dict.fromkeys(spec))
            others = [s for j, s in enumerate(inputs) if j != i]
            available = set(output).union(*others) if others else set(output)
            kept = "".join(c for c in unique if c in available)
            eq = ",".join([output] + others) + "->" + kept
            grad = einsum(eq, g, *[o for j, o in enumerate(operands) if j != i])
            broadcast = tuple(k for k, c in enumerate(kept) if own[c] == 1 and sizes[c] != 1)
            if broadcast:
                grad = grad.sum(broadcast, keepdim=True)
            full = tuple(own[c] for c in unique)
            if tuple(grad.shape) != full:
                # Labels summed in this operand alone, or broadcast from the others' size 1, come back.
                got = dict(zip(kept, grad.shape))
                grad = grad.reshape(tuple(got.get(c, 1) for c in unique)).expand(full)
            if unique != spec:
                grad = _onto_diagonal(grad, unique, spec, own, fresh[len(fresh) // 2 :])
            grads.append(grad)
        return tuple(grads)


def _spell_ellipsis(
    equation: str, inputs: list[str], output: str, ndims: list[int], fresh: list[str]
) -> tuple[list[str], str]:
    """``inputs`` and ``output`` with each ``...`` replaced by fresh labels, right-aligned as broadcasting is."""
    if not any("..." in spec for spec in inputs):
        return inputs, output
    counts = [ndim - (len(spec) - 3) if "..." in spec else 0 for spec, ndim in zip(inputs, ndims)]
    longest = max(counts)
    labels = "".join(fresh[:longest])
    spelled = [spec.replace("...", labels[longest - n :]) for spec, n in zip(inputs, counts)]
    if "->" in equation:
        return spelled, output.replace("...", labels)
    # Implicit output: the ellipsis dims come first, as NumPy's and PyTorch's einsum put them.
    return spelled, labels + output.replace(".", "")


def _onto_diagonal(grad: Variable, unique: str, spec: str, own: dict[str, int], fresh: list[str]) -> Variable:
    """``grad`` over ``unique`` labels written onto the diagonals of ``spec`` (labels repeated there)."""
    target, deltas = [], []
    seen: set[str] = set()
    for c in spec:
        if c in seen:
            label = fresh.pop(0)
            deltas.append((c + label, own[c]))
            target.append(label)
        else:
            seen.add(c)
            target.append(c)
    eyes = [constant(axon_tensor.eye(n, dtype=grad.dtype, device=grad.device)) for _, n in deltas]
    eq = ",".join([unique] + [d for d, _ in deltas]) + "->" + "".join(target)
    return einsum(eq, grad, *eyes)


def _parse(equation: str, count: int) -> tuple[list[str], str]:
    if "->" in equation:
        lhs, output = equation.split("->")
    else:
        lhs = equation
        letters = lhs.replace(",", "").replace(".", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs = lhs.split(",")
    if len(inputs) != count:
        raise ValueError(f"einsum: equation {equation!r} names {len(inputs)} operands, got {count}")
    return inputs, output


def einsum(equation: str, *operands: Any) -> Variable:
    """``einsum`` over Variables (``operands`` may also be one list)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return Einsum.apply(equation, *operands)


def _matmul_method(name: str) -> Any:
    return lambda input, other: Matmul.apply(input, other, name)


for _name in ("matmul", "mm", "bmm"):
    variable_method(_name)(_matmul_method(_name))
if hasattr(Tensor, "matmul") or hasattr(Tensor, "__matmul__"):
    Variable.__matmul__ = lambda self, other: Matmul.apply(self, other)  # type: ignore[attr-defined]
    Variable.__rmatmul__ = lambda self, other: Matmul.apply(other, self)  # type: ignore[attr-defined]
variable_method("dot")(lambda input, other: Dot.apply(input, other))

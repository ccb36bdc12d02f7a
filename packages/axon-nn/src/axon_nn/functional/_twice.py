"""Backward rules that are fast once and differentiable again.

An nn op keeps its fused forward and its raw-array backward (the training path); beside them it
states itself as Variable ops (its *composite*, in the same file). :func:`graph_backward` turns
the raw backward into one that, under ``create_graph=True``, gives the gradients of the
composite instead, recorded as a graph: that is the op's double (and higher) backward.
Ops linear in their input (pooling, gathers) use :func:`linear_backward`: the gradient is
their adjoint applied to the incoming gradient, and the adjoint's own gradient is the op again.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from axon_autograd import Function, enable_grad, grad, no_grad, once_differentiable
from axon_autograd.grad_mode import grad_state
from axon_autograd.variable import Variable

__all__ = ["graph_backward", "linear_backward", "wants_graph"]


class _Alias(Function):
    """A view of ``x`` with a node of its own: the composite's gradients stop at it, so they are
    partial derivatives even when two inputs share a graph."""

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        return x.reshape(x.shape)

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g


def wants_graph(ctx: Any, grads: tuple) -> bool:
    """Whether a backward must record a graph: ``create_graph=True`` and something to record."""
    return grad_state.enabled and (
        any(ctx.needs_input_grad) or any(isinstance(g, Variable) and g._requires_grad for g in grads)
    )


def graph_backward(composite: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a raw-array ``backward(ctx, *grads)``.

    Without a graph wanted it runs as :func:`once_differentiable` (Tensors in and out). Under
    ``create_graph=True`` the gradients are those of ``composite(ctx, *saved)`` (Variables,
    the same op's value as Variable ops) with respect to ``ctx.saved_tensors``, which must be
    forward's first tensor arguments in order (None for an absent one), computed with
    ``create_graph=True`` so that they record a graph.
    """

    def decorate(backward: Callable[..., Any]) -> Callable[..., Any]:
        fast = once_differentiable(backward)

        @functools.wraps(backward)
        def wrapper(ctx: Any, *grads: Any) -> Any:
            if not wants_graph(ctx, grads):
                return fast(ctx, *grads)
            needs = ctx.needs_input_grad
            saved = ctx.saved_tensors
            with enable_grad():
                inputs = [
                    _Alias.apply(v) if v is not None and needs[i] and v.requires_grad else v
                    for i, v in enumerate(saved)
                ]
                out = composite(ctx, *inputs)
                outs = out if isinstance(out, tuple) else (out,)
                wanted = [i for i, v in enumerate(inputs) if v is not None and needs[i] and v.requires_grad]
                pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
                found: tuple = ()
                if wanted and pairs:
                    found = grad(
                        [o for o, _ in pairs],
                        [inputs[i] for i in wanted],
                        [g for _, g in pairs],
                        create_graph=True,
                        allow_unused=True,
                    )
            result: list = [None] * len(needs)
            for i, g in zip(wanted, found):
                result[i] = g
            return tuple(result)

        return wrapper

    return decorate


class _LinearBackward(Function):
    """``adjoint(grad)`` for an op linear in its input; differentiating it applies the op again."""

    @staticmethod
    def forward(ctx: Any, grad: Any, adjoint: Callable[[Any], Any], again: Callable[[Any], Any]) -> Any:
        ctx.again = again
        return adjoint(grad)

    @staticmethod
    def backward(ctx: Any, u: Any) -> Any:
        return ctx.again(u), None, None


def linear_backward(
    reapply: Callable[[Any], Callable[[Any], Any]],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate the raw-array ``backward(ctx, grad, *rest)`` of an op that is linear in its first
    input (its other inputs get no gradient).

    Without a graph wanted it runs as :func:`once_differentiable`. Under ``create_graph=True``
    the input gradient is a node whose backward is ``reapply(ctx)(u)``: the op applied to ``u``
    with the same constants (window indices, divisors), recorded in turn. The second derivative
    with respect to the input is zero, as PyTorch's.
    """

    def decorate(backward: Callable[..., Any]) -> Callable[..., Any]:
        fast = once_differentiable(backward)

        @functools.wraps(backward)
        def wrapper(ctx: Any, *grads: Any) -> Any:
            if not wants_graph(ctx, grads):
                return fast(ctx, *grads)
            rest = tuple(g.data if isinstance(g, Variable) else g for g in grads[1:])

            def adjoint(g: Any) -> Any:
                with no_grad():
                    return backward(ctx, g, *rest)[0]

            first = _LinearBackward.apply(grads[0], adjoint, reapply(ctx))
            return (first,) + (None,) * (len(ctx.needs_input_grad) - 1)

        return wrapper

    return decorate

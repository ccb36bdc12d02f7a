"""Backward rules that are fast once and differentiable again.

An nn op keeps its fused forward and its raw-array backward (the training path); beside them it
states itself as Variable ops (its *composite*, in the same file). :func:`graph_backward` turns
the raw backward into one that, under ``create_graph=True``, gives the gradients of the
composite instead, recorded as a graph: that is the op's double (and higher) backward.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from axon_autograd import Function, enable_grad, grad, once_differentiable
from axon_autograd.grad_mode import grad_state
from axon_autograd.variable import Variable

__all__ = ["graph_backward", "wants_graph"]


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

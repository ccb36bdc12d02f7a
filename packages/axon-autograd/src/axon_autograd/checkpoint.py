"""Gradient checkpointing: keep only a segment's inputs, recompute its activations in backward."""

from __future__ import annotations

from typing import Any, Callable

from axon_tensor import Tensor, default_generator, float32, zeros

from .engine import backward as run_backward_into_leaves
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .variable import Variable, make_variable

__all__ = ["checkpoint"]


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx: Any, run_fn: Callable[..., Any], preserve_rng_state: bool, anchor: Any, *args: Any) -> Any:
        ctx.run_fn = run_fn
        ctx.rng_state = default_generator.get_state() if preserve_rng_state else None
        ctx.is_tensor = tuple(a.__class__ is Tensor for a in args)
        ctx.constants = tuple(None if t else a for t, a in zip(ctx.is_tensor, args))
        ctx.save_for_backward(*(a for a in args if a.__class__ is Tensor))
        with no_grad():
            outputs = run_fn(*(make_variable(a, False, None) if t else a for t, a in zip(ctx.is_tensor, args)))
        ctx.single = isinstance(outputs, Variable)
        outputs = (outputs,) if ctx.single else tuple(outputs)
        return outputs[0].data if ctx.single else tuple(o.data if isinstance(o, Variable) else o for o in outputs)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> tuple:
        saved = iter(ctx.saved_tensors)
        inputs = []
        for is_tensor, constant in zip(ctx.is_tensor, ctx.constants):
            if is_tensor:
                original = next(saved)
                inputs.append(make_variable(original.data, original.requires_grad, None))
            else:
                inputs.append(constant)
        state = None
        if ctx.rng_state is not None:
            state = default_generator.get_state()
            default_generator.set_state(ctx.rng_state)
        try:
            with enable_grad():
                outputs = ctx.run_fn(*inputs)
        finally:
            if state is not None:
                default_generator.set_state(state)
        outputs = (outputs,) if isinstance(outputs, Variable) else tuple(outputs)
        pairs = [
            (o, g) for o, g in zip(outputs, grads) if isinstance(o, Variable) and o.requires_grad and g is not None
        ]
        if pairs:
            run_backward_into_leaves([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, None) + tuple(v._grad if isinstance(v, Variable) else None for v in inputs)


def checkpoint(fn: Callable[..., Any], *inputs: Any, preserve_rng_state: bool = True) -> Any:
    """``fn(*inputs)`` without keeping its intermediate activations: backward runs ``fn``
    again (with the same random stream when ``preserve_rng_state``) and backpropagates through
    that recomputation. Gradients reach ``inputs`` and every leaf ``fn`` uses (parameters)."""
    anchor = None
    if is_grad_enabled() and not any(isinstance(a, Variable) and a.requires_grad for a in inputs):
        # Parameters inside ``fn`` may need gradients even when no input does: a dummy leaf
        # makes sure the checkpoint node is recorded.
        anchor = Variable(zeros((), dtype=float32), requires_grad=True)
    return _Checkpoint.apply(fn, preserve_rng_state, anchor, *inputs)

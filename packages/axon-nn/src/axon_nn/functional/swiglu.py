"""``swiglu``: ``silu(gate) * up``, the gated unit of LLaMA/Mixtral feed-forward blocks, on the backend's fused op.

Twice differentiable: under ``create_graph=True`` the gradients are those of ``silu(gate) * up`` as
Variable ops (:func:`~._twice.graph_backward`), what PyTorch differentiates for the same formula.
"""

from __future__ import annotations

from typing import Any

from axon_autograd import Function
from axon_core import ShapeError

from ._twice import graph_backward
from ._util import out_like, saved

__all__ = ["swiglu"]


def _composite(ctx: Any, gate: Any, up: Any) -> Any:
    return gate.silu() * up


class SwiGLUFunction(Function):
    """``gate [*, hidden]``, ``up [*, hidden]`` -> ``[*, hidden]``."""

    @staticmethod
    def forward(ctx, gate, up):
        ctx.save_for_backward(gate, up)
        return out_like(gate.backend.swiglu(gate.array, up.array), gate)

    @staticmethod
    @graph_backward(_composite)
    def backward(ctx, grad):
        gate, up = saved(ctx)
        d_gate, d_up = gate.backend.swiglu_backward(grad.array, gate.array, up.array)
        return out_like(d_gate, grad), out_like(d_up, grad)


def swiglu(gate: Any, up: Any) -> Any:
    """``silu(gate) * up`` elementwise; ``gate`` and ``up`` share one shape ``[*, hidden]``."""
    if tuple(gate.shape) != tuple(up.shape):
        raise ShapeError(f"swiglu: gate {tuple(gate.shape)} and up {tuple(up.shape)} must have the same shape")
    return SwiGLUFunction.apply(gate, up)

"""``SwiGLUFeedForward``: the gated feed-forward block of LLaMA/Mixtral, ``w2(silu(w1 x) * w3 x)``."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..module import Module
from .linear import Linear

__all__ = ["SwiGLUFeedForward"]


class SwiGLUFeedForward(Module):
    """``[*, d_model] -> [*, d_model]``; ``w1`` (gate) and ``w3`` (up) ``[d_hidden, d_model]``,
    ``w2`` (down) ``[d_model, d_hidden]``, no biases by default (Mixtral's expert layout)."""

    def __init__(self, d_model: int, d_hidden: int, bias: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.d_model, self.d_hidden = d_model, d_hidden
        self.w1 = Linear(d_model, d_hidden, bias=bias, device=device, dtype=dtype)
        self.w3 = Linear(d_model, d_hidden, bias=bias, device=device, dtype=dtype)
        self.w2 = Linear(d_hidden, d_model, bias=bias, device=device, dtype=dtype)

    def forward(self, input: Any) -> Any:
        return self.w2(F.swiglu(self.w1(input), self.w3(input)))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, d_hidden={self.d_hidden}"

"""The feed-forward blocks: LLaMA's gated MLP (``down(act(gate(x)) * up(x))``) and the plain two-layer MLP."""

from __future__ import annotations

from typing import Any

from axon_nn import Linear, Module
from axon_nn import functional as F

from ..errors import LLMError

__all__ = ["ACTIVATIONS", "GatedMLP", "activation"]

ACTIVATIONS = {
    "silu": F.silu,
    "swish": F.silu,
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


def activation(name: str) -> Any:
    """HF's ``hidden_act`` name -> the function."""
    if name not in ACTIVATIONS:
        raise LLMError(f"hidden_act {name!r} is not supported (supported: {sorted(ACTIVATIONS)})")
    return ACTIVATIONS[name]


class GatedMLP(Module):
    """``down_proj(act(gate_proj(x)) * up_proj(x))``: ``[*, hidden] -> [*, hidden]`` (HF LLaMA's names)."""

    def __init__(self, hidden_size: int, intermediate_size: int, hidden_act: str = "silu", bias: bool = False) -> None:
        super().__init__()
        self.act = activation(hidden_act)
        self.gate_proj = Linear(hidden_size, intermediate_size, bias=bias)
        self.up_proj = Linear(hidden_size, intermediate_size, bias=bias)
        self.down_proj = Linear(intermediate_size, hidden_size, bias=bias)

    def forward(self, x: Any) -> Any:
        if self.act is F.silu:  # one fused op (forward and backward) instead of silu then a product
            return self.down_proj(F.swiglu(self.gate_proj(x), self.up_proj(x)))
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))

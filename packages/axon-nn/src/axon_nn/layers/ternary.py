"""``TernaryLinear`` (BitNet b1.58) and its packed inference form ``PackedTernaryLinear``."""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from .. import init
from ..module import Module
from ._factory import add_bias, new_parameter, reset_fan_in_bias

__all__ = ["TernaryLinear", "PackedTernaryLinear"]


class TernaryLinear(Module):
    """BitNet b1.58 linear layer: ``[*, in_features] -> [*, out_features]``.

    ``weight [out, in]`` holds the full-precision latent weights; the forward uses the ternary
    ``W_q · γ`` (absmean ``γ``) and, with ``activation_bits`` (8 as in the paper; None turns
    it off), per-token absmax-quantised inputs; gradients reach ``weight`` and the input through
    straight-through estimators. The paper's BitLinear normalises its input first (SubLN):
    put an ``RMSNorm`` before this layer for that. :meth:`pack` gives the inference layer.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = False,
        activation_bits: int | None = 8,
        eps: float = 1e-5,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features, self.activation_bits, self.eps = (
            in_features,
            out_features,
            activation_bits,
            eps,
        )
        self.weight = new_parameter(out_features, in_features, device=device, dtype=dtype)
        add_bias(self, bias, out_features, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        reset_fan_in_bias(self.bias, self.in_features)

    def forward(self, input: Any) -> Any:
        return F.ternary_linear(input, self.weight, self.bias, self.activation_bits, self.eps)

    def pack(self) -> "PackedTernaryLinear":
        """The inference layer: 2-bit packed ``W_q``, ``γ`` and the bias, detached from training."""
        codes, gamma = F.ternary_quantize(self.weight, self.eps)
        bias = None if self.bias is None else self.bias.data.clone()
        return PackedTernaryLinear(F.pack_ternary(codes), gamma, self.in_features, bias, self.activation_bits, self.eps)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
            f"activation_bits={self.activation_bits}"
        )


class PackedTernaryLinear(Module):
    """Inference-only ternary linear layer: buffers ``packed`` (uint8 ``[out, ceil(in / 4)]``),
    ``scale`` (0-d ``γ``) and ``bias``; the forward adds and subtracts input columns (see
    :func:`axon_nn.functional.packed_ternary_linear`) and returns a Tensor without gradient."""

    def __init__(
        self,
        packed: Any,
        scale: Any,
        in_features: int,
        bias: Any = None,
        activation_bits: int | None = 8,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, packed.shape[0]
        self.activation_bits, self.eps = activation_bits, eps
        self.register_buffer("packed", packed)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", bias)

    def forward(self, input: Any) -> Any:
        return F.packed_ternary_linear(
            input, self.packed, self.scale, self.in_features, self.bias, self.activation_bits, self.eps
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, activation_bits={self.activation_bits}"
        )

"""Functional ops of axon-llm: ``quantized_linear``."""

from __future__ import annotations

import math
from typing import Any

import axon_tensor
from axon_autograd import Function, Variable
from axon_core import DeviceError, ShapeError
from axon_quant import QuantTensor, quant_matmul

__all__ = ["quantized_linear"]


class QuantizedLinearFunction(Function):
    """``x [*, in] @ dequantize(weight [out, in])ᵀ`` with the weight kept in its block format.

    The forward runs axon-quant's fused kernel (the weight is never dequantized); the weight is
    frozen (no gradient, as in QLoRA), and the input gradient ``grad @ W`` uses the dequantized
    weight as a constant, written with Variable ops so it is differentiable again.
    """

    @staticmethod
    def forward(ctx, x, weight: QuantTensor):
        rows = x.numpy().reshape(math.prod(x.shape[:-1]), x.shape[-1])
        y = quant_matmul(rows.astype("float32", copy=False), weight)
        ctx.weight = weight
        return axon_tensor.from_numpy(y.reshape(*x.shape[:-1], weight.shape[0])).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        dense = Variable(axon_tensor.from_numpy(ctx.weight.dequantize()).to(grad.dtype), requires_grad=False)
        return grad @ dense, None


def quantized_linear(input: Any, weight: QuantTensor, bias: Any = None) -> Any:
    """``input [*, in] @ dequantize(weight)ᵀ + bias[out]`` -> ``[*, out]``, on the CPU.

    ``weight`` is a 2-d :class:`axon_quant.QuantTensor` ``[out, in]``; ``input`` a float Tensor or
    Variable; the product is computed in float32 by axon-quant's fused dequantize-matmul kernel.
    """
    if not isinstance(weight, QuantTensor) or len(weight.shape) != 2:
        raise ShapeError(f"quantized_linear: weight must be a 2-d QuantTensor [out, in], got {weight!r:.80}")
    if len(input.shape) == 0 or input.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"quantized_linear: input {tuple(input.shape)} does not match weight {list(weight.shape)} "
            f"(expected [*, {weight.shape[1]}])"
        )
    if input.device.type != "cpu":
        raise DeviceError(f"quantized_linear: axon-quant's kernels run on the CPU; input is on {input.device}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ShapeError(f"quantized_linear: bias {tuple(bias.shape)} does not match weight {list(weight.shape)}")
    out = QuantizedLinearFunction.apply(input, weight)
    return out if bias is None else out + bias

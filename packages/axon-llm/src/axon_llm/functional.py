"""Functional ops of axon-llm: ``quantized_linear``."""

from __future__ import annotations

import math
from typing import Any

import axon_tensor
from axon_autograd import Function, Variable
from axon_core import DeviceError, ShapeError
from axon_quant import QuantTensor, quant_matmul
from axon_tensor.tensor import wrap

__all__ = ["quantized_linear"]


class QuantizedLinearFunction(Function):
    """``x [*, in] @ dequantize(weight [out, in])ᵀ`` with the weight kept in its block format.

    The forward runs axon-quant's fused kernel (the weight is never dequantized); the weight is
    frozen (no gradient, as in QLoRA), and the input gradient ``grad @ W`` uses the dequantized
    weight as a constant, written with Variable ops so it is differentiable again.
    """

    @staticmethod
    def forward(ctx, x, weight: QuantTensor):
        xp = x.backend.xp
        rows = xp.ascontiguousarray(x.array.reshape(math.prod(x.shape[:-1]), x.shape[-1]), dtype=xp.float32)
        y = quant_matmul(rows, weight, device=None if x.device.type == "cpu" else x.device)
        ctx.weight = weight
        return wrap(y.reshape(*x.shape[:-1], weight.shape[0]), x.device).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        # The dequantized weight exists only here, for the input gradient; the forward never builds it.
        weight = ctx.weight
        host = QuantTensor(grad.backend.to_numpy(weight.raw), weight.ggml_type, weight.shape)
        dense = axon_tensor.from_numpy(host.dequantize()).to(grad.device).to(grad.dtype)
        return grad @ Variable(dense, requires_grad=False), None


def quantized_linear(input: Any, weight: QuantTensor, bias: Any = None) -> Any:
    """``input [*, in] @ dequantize(weight)ᵀ + bias[out]`` -> ``[*, out]``.

    ``weight`` is a 2-d :class:`axon_quant.QuantTensor` ``[out, in]`` whose block bytes live on
    ``input``'s device (a NumPy array on the CPU, the device's array on ``cuda``/``cuda-sim``);
    ``input`` a float Tensor or Variable. The product is computed in float32 by axon-quant's fused
    dequantize-matmul kernel: Numba on the CPU, its CUDA kernel family elsewhere.
    """
    if not isinstance(weight, QuantTensor) or len(weight.shape) != 2:
        raise ShapeError(f"quantized_linear: weight must be a 2-d QuantTensor [out, in], got {weight!r:.80}")
    if len(input.shape) == 0 or input.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"quantized_linear: input {tuple(input.shape)} does not match weight {list(weight.shape)} "
            f"(expected [*, {weight.shape[1]}])"
        )
    if not isinstance(weight.raw, input.backend.xp.ndarray):
        raise DeviceError(
            f"quantized_linear: input is on {input.device} but the weight's bytes are a {type(weight.raw).__name__}"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ShapeError(f"quantized_linear: bias {tuple(bias.shape)} does not match weight {list(weight.shape)}")
    out = QuantizedLinearFunction.apply(input, weight)
    return out if bias is None else out + bias

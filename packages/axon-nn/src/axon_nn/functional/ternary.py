"""BitNet b1.58 ternary linear algebra: absmean weight quantisation to {-1, 0, +1}, 8-bit absmax
activation quantisation, straight-through estimators, 2-bit packing and an add/subtract-only
inference product.

Weights: ``γ = mean(|W|)``, ``W_q = clip(round(W / (γ + ε)), -1, 1)``, used as ``W_q · γ``.
Activations (optional, ``bits``, 8 in the paper): per token (last dim)
``s = (2^(bits-1) - 1) / max(|x|, ε)``, ``x_q = clip(round(x · s), -2^(bits-1), 2^(bits-1) - 1)``,
used as ``x_q / s``. In training both pass the gradient straight through (identity to the
full-precision latent values); that identity is differentiable again (:func:`~._twice.linear_backward`),
as PyTorch's ``x + (q(x) - x).detach()``: the second derivative is 0 and the gradient's
gradient with respect to the incoming gradient is the identity. Packing: code ``w + 1`` in
{0, 1, 2}, four weights per byte, weight ``j`` in bits ``2·(j % 4)`` of byte ``j // 4``.
"""

from __future__ import annotations

from typing import Any

from axon_autograd import Function
from axon_core import DTypeError, ShapeError
from axon_tensor import Tensor
from axon_tensor.tensor import wrap

from ._twice import linear_backward
from ._util import out_like, tensor_of, xp_of
from .linear import linear

__all__ = [
    "absmean_scale",
    "ternary_quantize",
    "quantize_activations",
    "ternary_weight_ste",
    "activation_quant_ste",
    "ternary_linear",
    "pack_ternary",
    "unpack_ternary",
    "packed_ternary_linear",
]

_ROW_CHUNK_ELEMENTS = 1 << 24


def absmean_scale(xp: Any, weight: Any) -> Any:
    """``γ = mean(|W|)`` as a 0-d array (0 for an empty weight)."""
    return xp.abs(weight).mean() if weight.size else xp.zeros((), dtype=weight.dtype)


def ternary_quantize(weight: Any, eps: float = 1e-5) -> tuple[Tensor, Tensor]:
    """``(W_q int8 [out, in] in {-1, 0, 1}, γ 0-d)`` of ``weight [out, in]``."""
    w = tensor_of(weight)
    xp, data = xp_of(w), w.array
    gamma = absmean_scale(xp, data)
    codes = xp.clip(xp.round(data / (gamma + eps)), -1, 1).astype(xp.int8)
    return wrap(codes, w.device), wrap(xp.asarray(gamma, dtype=data.dtype), w.device)


def quantize_activations(x: Any, bits: int, eps: float = 1e-5) -> tuple[Any, Any]:
    """Per-token absmax quantisation of ``x [..., in]`` to raw arrays: ``(x_q integers as int32, s [..., 1])``."""
    x = tensor_of(x)
    xp, data = xp_of(x), x.array
    if not 2 <= bits <= 16:
        raise ValueError(f"quantize_activations: bits must be in [2, 16], got {bits}")
    top = 2 ** (bits - 1)
    peak = (
        xp.abs(data).max(axis=-1, keepdims=True)
        if data.shape[-1]
        else xp.zeros(data.shape[:-1] + (1,), dtype=data.dtype)
    )
    scale = (top - 1) / xp.maximum(peak, eps)
    return xp.clip(xp.round(data * scale), -top, top - 1).astype(xp.int32), scale.astype(data.dtype, copy=False)


class TernaryWeightSTE(Function):
    """``W -> W_q · γ``; backward: the identity (straight-through estimator)."""

    @staticmethod
    def forward(ctx, weight, eps):
        codes, gamma = ternary_quantize(weight, eps)
        return out_like(codes.array.astype(weight.array.dtype) * gamma.array, weight)

    @staticmethod
    @linear_backward(lambda ctx: lambda u: u)
    def backward(ctx, grad):
        return grad, None


class ActivationQuantSTE(Function):
    """``x -> x_q / s`` per token; backward: the identity (straight-through estimator)."""

    @staticmethod
    def forward(ctx, x, bits, eps):
        codes, scale = quantize_activations(x, bits, eps)
        return out_like((codes / scale).astype(x.array.dtype, copy=False), x)

    @staticmethod
    @linear_backward(lambda ctx: lambda u: u)
    def backward(ctx, grad):
        return grad, None, None


def ternary_weight_ste(weight: Any, eps: float = 1e-5) -> Any:
    """The ternary weight ``W_q · γ`` of ``weight [out, in]``, gradient passed straight through."""
    return TernaryWeightSTE.apply(weight, float(eps))


def activation_quant_ste(input: Any, bits: int = 8, eps: float = 1e-5) -> Any:
    """``input [..., in]`` fake-quantised per token to ``bits``, gradient passed straight through."""
    if not 2 <= bits <= 16:
        raise ValueError(f"activation_quant_ste: bits must be in [2, 16], got {bits}")
    return ActivationQuantSTE.apply(input, int(bits), float(eps))


def ternary_linear(
    input: Any, weight: Any, bias: Any = None, activation_bits: int | None = 8, eps: float = 1e-5
) -> Any:
    """BitNet b1.58's training forward: ``Q(input) (W_q γ)ᵀ + bias``; ``input [*, in]``, ``weight [out, in]``."""
    if activation_bits is not None:
        input = activation_quant_ste(input, activation_bits, eps)
    return linear(input, ternary_weight_ste(weight, eps), bias)


def pack_ternary(codes: Any) -> Tensor:
    """``codes [out, in]`` in {-1, 0, 1} -> ``uint8 [out, ceil(in / 4)]``, four weights per byte."""
    c = tensor_of(codes)
    xp, data = xp_of(c), c.array
    if data.ndim != 2:
        raise ShapeError(f"pack_ternary: codes must be [out, in], got {tuple(data.shape)}")
    if data.size and (int(data.min()) < -1 or int(data.max()) > 1 or data.dtype.kind not in "iu"):
        raise DTypeError(
            f"pack_ternary: codes must be integers in {{-1, 0, 1}}, got {data.dtype} in [{data.min()}, {data.max()}]"
        )
    rows, cols = data.shape
    padded = xp.ones((rows, -(-cols // 4) * 4), dtype=xp.uint8)  # code 1 = weight 0
    padded[:, :cols] = (data + 1).astype(xp.uint8)
    quads = padded.reshape(rows, -1, 4)
    packed = quads[..., 0] | (quads[..., 1] << 2) | (quads[..., 2] << 4) | (quads[..., 3] << 6)
    return wrap(packed.astype(xp.uint8), c.device)


def unpack_ternary(packed: Any, in_features: int) -> Tensor:
    """Inverse of :func:`pack_ternary`: ``uint8 [out, ceil(in / 4)]`` -> ``int8 [out, in_features]``."""
    p = tensor_of(packed)
    xp, data = xp_of(p), p.array
    if data.ndim != 2 or data.dtype != xp.uint8 or data.shape[1] != -(-in_features // 4):
        raise ShapeError(
            f"unpack_ternary: packed must be uint8 [out, ceil({in_features} / 4)], got {data.dtype} {tuple(data.shape)}"
        )
    shifts = xp.arange(0, 8, 2, dtype=xp.uint8)
    codes = (data[..., None] >> shifts) & 3
    return wrap(codes.reshape(data.shape[0], -1)[:, :in_features].astype(xp.int8) - 1, p.device)


def _signed_column_sums(xp: Any, x: Any, codes: Any) -> Any:
    """``Σ_{w=+1} x[:, j] − Σ_{w=-1} x[:, j]`` per output row: gathers and sums, no products with weights."""
    rows, cols = codes.shape
    batch = x.shape[0]
    extended = xp.concatenate([x, xp.zeros((batch, 1), dtype=x.dtype)], axis=1)  # column ``cols`` is the zero pad
    out = xp.zeros((batch, rows), dtype=x.dtype)
    for sign in (1, -1):
        selected = codes == sign
        width = int(selected.sum(axis=1).max()) if rows else 0
        if width == 0:
            continue
        # Each row's selected columns, left-aligned and padded with the zero column.
        order = xp.argsort(~selected, axis=1, kind="stable")[:, :width]
        index = xp.where(xp.take_along_axis(selected, order, axis=1), order, cols)
        step = max(1, _ROW_CHUNK_ELEMENTS // max(batch * width, 1))
        for start in range(0, rows, step):
            summed = extended[:, index[start : start + step]].sum(axis=-1)
            if sign == 1:
                out[:, start : start + step] += summed
            else:
                out[:, start : start + step] -= summed
    return out


def packed_ternary_linear(
    input: Any,
    packed: Any,
    scale: Any,
    in_features: int,
    bias: Any = None,
    activation_bits: int | None = 8,
    eps: float = 1e-5,
) -> Tensor:
    """Inference with packed ternary weights: ``input [*, in]`` -> ``[*, out]`` (no gradient).

    With ``activation_bits`` the input is quantised per token to integers and the signed column
    sums are exact integers (int64), then scaled once by ``γ / s``; without, the float input
    columns are summed and scaled by ``γ``. No multiplication by a weight happens.
    """
    x = tensor_of(input)
    xp, data = xp_of(x), x.array
    if data.ndim == 0 or data.shape[-1] != in_features:
        raise ShapeError(f"packed_ternary_linear: input {tuple(data.shape)} must be [*, in_features={in_features}]")
    codes = unpack_ternary(packed, in_features).array
    flat = data.reshape(-1, in_features)
    gamma = tensor_of(scale).array
    if activation_bits is not None:
        quantized, token_scale = quantize_activations(wrap(flat, x.device), activation_bits, eps)
        y = _signed_column_sums(xp, quantized.astype(xp.int64), codes).astype(data.dtype) * (gamma / token_scale)
    else:
        y = _signed_column_sums(xp, flat, codes) * gamma
    if bias is not None:
        y = y + tensor_of(bias).array
    return wrap(y.astype(data.dtype, copy=False).reshape(data.shape[:-1] + (codes.shape[0],)), x.device)

"""Rotary position embeddings (RoPE, Su et al. 2021): rotate pairs of features by position angles.

Two pairings are in use:

- split halves (GPT-NeoX, HF LLaMA): feature ``i`` pairs with ``i + r/2`` over the first ``r``
  (``rotary_dim``) features; ``x·cos + rotate_half(x)·sin`` with ``rotate_half(x) = [-x2, x1]``;
- interleaved (GPT-J, Meta's LLaMA): features ``2i`` and ``2i + 1`` pair up.

Features past ``rotary_dim`` pass through unchanged (partial rotary, as in Phi / GPT-NeoX).

The rotation is linear in ``x``, so its gradient is differentiable again
(:func:`~._twice.linear_backward`), as PyTorch's autograd differentiates the same formula twice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_autograd import Function
from axon_core import DTypeError, ShapeError

from ._twice import linear_backward
from ._util import out_like, tensor_of, xp_of

__all__ = ["apply_rotary_emb", "rotary_cos_sin"]


def _rotate(xp: Any, x: Any, cos: Any, sin: Any, interleaved: bool) -> Any:
    """Rotate the first ``2 * cos.shape[-1]`` features of ``x`` by the angles whose cos/sin are given."""
    half = cos.shape[-1]
    rot = x[..., : 2 * half]
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
        rotated = xp.stack([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1).reshape(rot.shape)
    else:
        x1, x2 = rot[..., :half], rot[..., half:]
        rotated = xp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    rotated = rotated.astype(x.dtype, copy=False)
    if 2 * half == x.shape[-1]:
        return rotated
    return xp.concatenate(
        [rotated, xp.broadcast_to(x[..., 2 * half :], rotated.shape[:-1] + (x.shape[-1] - 2 * half,))], axis=-1
    )


class RotaryFunction(Function):
    """``x [*, D]`` rotated by ``cos``/``sin`` ``[*, rotary_dim/2]`` (constants, broadcast against x).

    A rotation is orthogonal, so the backward is the same rotation by the opposite angle.
    """

    @staticmethod
    def forward(ctx, x, cos, sin, interleaved):
        ctx.cos, ctx.sin, ctx.interleaved = cos, sin, interleaved
        return out_like(_rotate(xp_of(x), x.array, cos, sin, interleaved), x)

    @staticmethod
    @linear_backward(lambda ctx: lambda u: RotaryFunction.apply(u, ctx.cos, ctx.sin, ctx.interleaved))
    def backward(ctx, grad):
        return out_like(_rotate(xp_of(grad), grad.array, ctx.cos, -ctx.sin, ctx.interleaved), grad), None, None, None


def rotary_cos_sin(
    positions: Any, rotary_dim: int, base: float = 10000.0, dtype: Any = None, device: Any = None
) -> tuple[Any, Any]:
    """``cos``/``sin`` ``[len(positions), rotary_dim/2]`` of the angles ``p · base^(-2i/rotary_dim)``.

    ``positions`` are integers (a sequence or array). Computed in float64, returned as Tensors
    of ``dtype`` (the default float dtype when None) on ``device``.
    """
    from axon_core import get_default_dtype
    from axon_tensor import tensor

    if rotary_dim <= 0 or rotary_dim % 2:
        raise ValueError(f"rotary_cos_sin: rotary_dim must be a positive even number, got {rotary_dim}")
    inv_freq = 1.0 / (float(base) ** (np.arange(0, rotary_dim, 2, dtype=np.float64) / rotary_dim))
    angles = np.outer(np.asarray(positions, dtype=np.float64).reshape(-1), inv_freq)
    dtype = get_default_dtype() if dtype is None else dtype
    return tensor(np.cos(angles), dtype=dtype, device=device), tensor(np.sin(angles), dtype=dtype, device=device)


def apply_rotary_emb(x: Any, cos: Any, sin: Any, interleaved: bool = False) -> Any:
    """Rotate the first ``rotary_dim = 2 * cos.shape[-1]`` features of ``x [*, S, D]``.

    ``cos``/``sin`` ``[S, rotary_dim/2]`` (or any shape broadcasting against
    ``x[..., :rotary_dim/2]``, e.g. ``[S, 1, rotary_dim/2]`` for ``x [B, S, H, D]``), as from
    :func:`rotary_cos_sin`. ``interleaved`` picks GPT-J's pairing over split halves. The
    remaining ``D - rotary_dim`` features pass through. Differentiable in ``x``.
    """
    cos_t, sin_t = tensor_of(cos), tensor_of(sin)
    if tuple(cos_t.shape) != tuple(sin_t.shape):
        raise ShapeError(f"apply_rotary_emb: cos {tuple(cos_t.shape)} and sin {tuple(sin_t.shape)} must have one shape")
    if not x.dtype.is_floating_point:
        raise DTypeError(f"apply_rotary_emb: expected a floating-point input, got {x.dtype}")
    shape = tuple(x.shape)
    half = cos_t.shape[-1] if cos_t.ndim else 0
    if len(shape) == 0 or half == 0 or 2 * half > shape[-1]:
        raise ShapeError(
            f"apply_rotary_emb: cos/sin of shape {tuple(cos_t.shape)} need x [*, D] with D >= {2 * half} > 0, got "
            f"x {shape}"
        )
    try:
        fits = np.broadcast_shapes(tuple(cos_t.shape), shape[:-1] + (half,)) == shape[:-1] + (half,)
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(
            f"apply_rotary_emb: cos/sin of shape {tuple(cos_t.shape)} do not broadcast to x {shape} (rotating "
            f"{2 * half} features)"
        )
    if cos_t.device is not tensor_of(x).device:
        from axon_core import DeviceError

        raise DeviceError(f"apply_rotary_emb: x is on {tensor_of(x).device} but cos/sin on {cos_t.device}")
    dtype = x.dtype.np
    return RotaryFunction.apply(
        x, cos_t.array.astype(dtype, copy=False), sin_t.array.astype(dtype, copy=False), bool(interleaved)
    )

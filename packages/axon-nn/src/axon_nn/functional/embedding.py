"""``embedding``: rows of a table picked by integer indices."""

from __future__ import annotations

from typing import Any

from axon_autograd import Function, once_differentiable
from axon_core import DTypeError, ShapeError

from ._util import out_like, saved, scatter_add, tensor_of, xp_of

__all__ = ["embedding"]


class EmbeddingFunction(Function):
    """``indices [*]`` (integers), ``weight [num, dim]`` -> ``[*, dim]``."""

    @staticmethod
    def forward(ctx, indices, weight, padding_idx):
        ctx.save_for_backward(indices)
        ctx.weight_shape = weight.shape
        ctx.padding_idx = padding_idx
        return out_like(xp_of(weight).take(weight._data, indices._data, axis=0), weight)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        (indices,) = saved(ctx)
        xp = xp_of(grad)
        num, dim = ctx.weight_shape
        rows = indices._data.reshape(-1, 1).astype(xp.int64, copy=False)
        flat = rows * dim + xp.arange(dim)
        grad_w = scatter_add(xp, num * dim, flat, grad._data.reshape(-1, dim)).reshape(num, dim)
        if ctx.padding_idx is not None:
            grad_w[ctx.padding_idx] = 0
        return None, out_like(grad_w, grad), None


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> Any:
    """Look up ``weight[num, dim]`` rows at ``input [*]`` -> ``[*, dim]``.

    ``padding_idx`` rows get no gradient. Indices out of ``[0, num)`` raise IndexError.
    """
    if len(weight.shape) != 2:
        raise ShapeError(f"embedding: weight must be [num_embeddings, dim], got {tuple(weight.shape)}")
    if not input.dtype.is_integer:
        raise DTypeError(f"embedding: indices must be integers, got {input.dtype}")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise IndexError(f"embedding: padding_idx {padding_idx} out of range for {num} embeddings")
        padding_idx %= num
    data = tensor_of(input)._data
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num):
        raise IndexError(f"embedding: indices must lie in [0, {num}), got values in [{int(data.min())}, {int(data.max())}]")
    return EmbeddingFunction.apply(input, weight, padding_idx)

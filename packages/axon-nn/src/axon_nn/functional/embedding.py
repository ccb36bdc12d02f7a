"""``embedding``: rows of a table picked by integer indices; ``one_hot``: the indices as rows of an identity."""

from __future__ import annotations

from typing import Any

from axon_autograd import Function, once_differentiable
from axon_core import DeviceError, DTypeError, ShapeError

from ._twice import wants_graph
from ._util import out_like, saved

__all__ = ["embedding", "one_hot"]


class EmbeddingFunction(Function):
    """``indices [*]`` (integers), ``weight [num, dim]`` -> ``[*, dim]`` through the backend's
    embedding gather and scatter-add (our CUDA kernels on cuda and cuda-sim). Under
    ``create_graph`` the weight gradient is :class:`EmbeddingBackward`, differentiable again."""

    @staticmethod
    def forward(ctx, indices, weight, padding_idx):
        ctx.save_for_backward(indices)
        ctx.num_embeddings = weight.shape[0]
        ctx.padding_idx = padding_idx
        return out_like(weight.backend.embedding(weight.array, indices.array), weight)

    @staticmethod
    def backward(ctx, grad):
        if not wants_graph(ctx, (grad,)):
            return _embedding_backward(ctx, grad)
        (indices,) = ctx.saved_tensors
        return None, EmbeddingBackward.apply(grad, indices, ctx.num_embeddings, ctx.padding_idx), None


@once_differentiable
def _embedding_backward(ctx, grad):
    (indices,) = saved(ctx)
    grad_w = grad.backend.embedding_backward(grad.array, indices.array, ctx.num_embeddings, ctx.padding_idx)
    return None, out_like(grad_w, grad), None


class EmbeddingBackward(Function):
    """The weight gradient of :class:`EmbeddingFunction`: ``grad [*, dim]`` scatter-added into
    ``[num, dim]`` rows (none into ``padding_idx``). Its own gradient gathers those rows again."""

    @staticmethod
    def forward(ctx, grad, indices, num_embeddings, padding_idx):
        ctx.save_for_backward(indices)
        ctx.padding_idx = padding_idx
        return out_like(grad.backend.embedding_backward(grad.array, indices.array, num_embeddings, padding_idx), grad)

    @staticmethod
    def backward(ctx, u):
        (indices,) = ctx.saved_tensors
        rows = EmbeddingFunction.apply(indices, u, ctx.padding_idx)
        if ctx.padding_idx is not None:
            kept = (indices.data.array != ctx.padding_idx)[..., None].astype(u.data.array.dtype)
            rows = rows * out_like(kept, u.data)
        return rows, None, None, None


def embedding(input: Any, weight: Any, padding_idx: int | None = None) -> Any:
    """Look up ``weight[num, dim]`` rows at ``input [*]`` -> ``[*, dim]``.

    ``padding_idx`` rows get no gradient. Indices out of ``[0, num)`` raise IndexError (the
    backend checks them).
    """
    if len(weight.shape) != 2:
        raise ShapeError(f"embedding: weight must be [num_embeddings, dim], got {tuple(weight.shape)}")
    if not input.dtype.is_integer:
        raise DTypeError(f"embedding: indices must be integers, got {input.dtype}")
    if input.device is not weight.device:
        raise DeviceError(f"embedding: indices are on {input.device} but weight is on {weight.device}")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise IndexError(f"embedding: padding_idx {padding_idx} out of range for {num} embeddings")
        padding_idx %= num
    return EmbeddingFunction.apply(input, weight, padding_idx)


def one_hot(tensor: Any, num_classes: int = -1) -> Any:
    """``tensor [*]`` (int64 class indices) -> ``[*, num_classes]`` int64 with a 1 at each index;
    ``num_classes=-1`` takes ``max + 1``. Negative or too-large indices are a ValueError, as in PyTorch."""
    from axon_autograd import tensor_of
    from axon_tensor.tensor import wrap

    indices = tensor_of(tensor)
    if indices.dtype.name != "int64":
        raise DTypeError(f"one_hot: expected an int64 tensor of class indices, got {indices.dtype}")
    data = indices.array
    xp = indices.backend.xp
    if num_classes == -1:
        if data.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(data.max()) + 1
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        low, high = int(data.min()), int(data.max())
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got [{low}, {high}]")
    out = (data[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return wrap(out, indices.device)

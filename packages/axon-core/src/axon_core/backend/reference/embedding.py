"""Embedding lookup and its scatter-add backward.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CUDA backend
overrides it in ``backend/cuda/embedding.py`` with the kernels of ``kernels/embedding.py``.
"""

from __future__ import annotations

from typing import Any

from ..checks import check_embedding, padding_row
from ..numerics import upcast

__all__ = ["EmbeddingReference"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class EmbeddingReference:
    """Reference embedding ops of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def embedding(self, weight: Array, indices: Array) -> Array:
        """Rows of ``weight [V, D]`` picked by integer ``indices [...]``: ``[..., D]``."""
        check_embedding(self.xp, "embedding", weight.shape[0] if weight.ndim == 2 else -1, indices, weight=weight)
        return self.xp.take(weight, indices, axis=0)

    def embedding_backward(
        self, grad: Array, indices: Array, num_embeddings: int, padding_idx: int | None = None
    ) -> Array:
        """``d weight [V, D]``: rows of ``grad [..., D]`` summed into the rows ``indices [...]`` name.

        The row ``padding_idx`` (negative counts from the end) gets no gradient. The result has
        ``grad``'s dtype (float16/bfloat16 accumulate in float32).
        """
        check_embedding(self.xp, "embedding_backward", num_embeddings, indices, grad=grad)
        xp = self.xp
        dim = grad.shape[-1]
        flat_grad = upcast(xp, grad).reshape(-1, dim)
        flat_index = indices.reshape(-1)
        out = xp.zeros((num_embeddings, dim), dtype=flat_grad.dtype)
        xp.add.at(out, flat_index, flat_grad)
        if padding_idx is not None:
            out[padding_row("embedding_backward", padding_idx, num_embeddings)] = 0
        return out.astype(grad.dtype, copy=False)

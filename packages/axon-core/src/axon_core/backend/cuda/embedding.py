"""CUDA overrides of the embedding family: the kernels of ``kernels/embedding.py``.

The reference implementation is ``reference/embedding.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import REGISTRY, kernel_suffix
from ..checks import check_embedding, padding_row

__all__ = ["EmbeddingKernels"]


class EmbeddingKernels:
    """Embedding ops of :class:`~axon_core.backend.cuda.CudaBackend` (a mixin over :class:`.runtime.CudaRuntime`)."""

    def embedding(self, weight: Any, indices: Any) -> Any:
        check_embedding(self.xp, "embedding", weight.shape[0] if weight.ndim == 2 else -1, indices, weight=weight)
        if kernel_suffix(weight.dtype) is None or indices.size == 0:
            return super().embedding(weight, indices)
        xp = self.xp
        dim = weight.shape[1]
        out = xp.empty(tuple(indices.shape) + (dim,), dtype=weight.dtype)
        grid, block = self._elementwise_grid(indices.size * dim)
        args = (
            self._contiguous(weight),
            self._contiguous(indices, xp.int64),
            out,
            np.int64(indices.size),
            np.int32(dim),
        )
        self.launch(REGISTRY["embedding"], f"embedding_fwd_{kernel_suffix(weight.dtype)}", grid, block, args)
        return out

    def embedding_backward(self, grad: Any, indices: Any, num_embeddings: int, padding_idx: int | None = None) -> Any:
        check_embedding(self.xp, "embedding_backward", num_embeddings, indices, grad=grad)
        if kernel_suffix(grad.dtype) is None or indices.size == 0:
            return super().embedding_backward(grad, indices, num_embeddings, padding_idx)
        xp = self.xp
        dim = grad.shape[-1]
        padding = -1 if padding_idx is None else padding_row("embedding_backward", padding_idx, num_embeddings)
        d_weight = xp.zeros((num_embeddings, dim), dtype=xp.float32)
        grid, block = self._elementwise_grid(indices.size * dim)
        args = (
            self._contiguous(grad),
            self._contiguous(indices, xp.int64),
            d_weight,
            np.int64(indices.size),
            np.int32(dim),
            np.int64(padding),
        )
        self.launch(REGISTRY["embedding"], f"embedding_bwd_{kernel_suffix(grad.dtype)}", grid, block, args)
        return d_weight.astype(grad.dtype, copy=False)

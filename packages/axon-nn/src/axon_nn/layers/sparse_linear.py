"""``SparseLinear``: a Linear layer whose weight is a CSR matrix with a fixed sparsity pattern."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import axon_tensor
from axon_core import ShapeError
from axon_tensor import SparseCSRTensor, Tensor
from axon_tensor.random import Generator, default_generator

from .. import functional as F
from .. import init
from ..module import Module
from ._factory import add_bias, new_parameter

__all__ = ["SparseLinear"]


class SparseLinear(Module):
    """``y = x Wᵀ + b``: ``[*, in_features] -> [*, out_features]`` with ``W [out, in]`` stored as CSR.

    The pattern comes from ``mask`` (``[out, in]``, nonzero = stored) or, without one, from
    ``round(density · out · in)`` positions drawn uniformly (``generator`` or the default
    generator). Buffers ``crow_indices [out + 1]`` and ``col_indices [nnz]`` hold the pattern;
    the Parameter ``values [nnz]`` holds the weights, so only stored entries are trained.
    Values and bias start as in ``Linear``: ``U(±1/sqrt(in_features))``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        density: float = 0.1,
        mask: Any = None,
        bias: bool = True,
        generator: Generator | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        if mask is None:
            if not 0.0 <= density <= 1.0:
                raise ValueError(f"SparseLinear: density must be in [0, 1], got {density}")
            total = in_features * out_features
            rng = (generator or default_generator).numpy_generator
            chosen = np.sort(rng.choice(total, size=round(density * total), replace=False))
            dense_mask = np.zeros(total, dtype=bool)
            dense_mask[chosen] = True
            dense_mask = dense_mask.reshape(out_features, in_features)
        else:
            dense_mask = np.asarray(mask.numpy() if isinstance(mask, Tensor) else mask) != 0
            if dense_mask.shape != (out_features, in_features):
                raise ShapeError(
                    f"SparseLinear: mask {dense_mask.shape} must be [out_features, in_features] = "
                    f"{(out_features, in_features)}"
                )
        rows, cols = np.nonzero(dense_mask)
        crow = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=out_features))])
        self.register_buffer("crow_indices", axon_tensor.tensor(crow.astype(np.int64), device=device))
        self.register_buffer("col_indices", axon_tensor.tensor(cols.astype(np.int64), device=device))
        self.values = new_parameter(int(cols.size), device=device, dtype=dtype)
        add_bias(self, bias, out_features, device=device, dtype=dtype)
        self.reset_parameters()

    @classmethod
    def from_dense(cls, weight: Any, bias: Any = None) -> "SparseLinear":
        """A layer storing the nonzero entries of ``weight [out, in]`` (and ``bias [out]``)."""
        dense = weight.numpy() if hasattr(weight, "numpy") else np.asarray(weight)
        layer = cls(dense.shape[1], dense.shape[0], mask=dense != 0, bias=bias is not None, dtype=dense.dtype)
        layer.values.data.array[...] = dense[dense != 0]
        if bias is not None:
            layer.bias.data.array[...] = bias.numpy() if hasattr(bias, "numpy") else np.asarray(bias)
        return layer

    @property
    def nnz(self) -> int:
        return int(self.values.shape[0])

    @property
    def weight(self) -> SparseCSRTensor:
        """The CSR weight ``[out, in]`` (its values are this layer's Parameter data)."""
        return SparseCSRTensor(
            self.crow_indices, self.col_indices, self.values.data, (self.out_features, self.in_features)
        )

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        init.uniform_(self.values, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Any) -> Any:
        return F.sparse_linear(input, self.weight, self.values, self.bias)

    def extra_repr(self) -> str:
        density = self.nnz / max(self.in_features * self.out_features, 1)
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, nnz={self.nnz}, "
            f"density={density:.3g}, bias={self.bias is not None}"
        )

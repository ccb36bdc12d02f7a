"""``local_response_norm``: each value divided by ``(k + alpha * mean of x² over size channels)^beta``.

The channel window is centred as in PyTorch (``size // 2`` before, ``(size - 1) // 2`` after,
zeros beyond the edges, the mean always over ``size``), built from shifted slices of the
zero-padded squares so the gradient comes from those ops.
"""

from __future__ import annotations

from typing import Any

import axon_tensor
from axon_autograd.functions import cat
from axon_core import ShapeError

from ._util import tensor_of

__all__ = ["local_response_norm"]


def local_response_norm(input: Any, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Any:
    """``[N, C, *] -> [N, C, *]``: ``x / (k + alpha / size * Σ_window x²)^beta`` over channels."""
    shape = tuple(input.shape)
    if len(shape) < 3:
        raise ShapeError(f"local_response_norm: expected a 3-d or higher input [N, C, *], got shape {shape}")
    if not isinstance(size, int) or size <= 0:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    if 0 in shape:
        return input
    x = tensor_of(input)
    squares = input * input
    before, after = size // 2, (size - 1) // 2
    parts = [squares]
    if before:
        parts.insert(0, axon_tensor.zeros((shape[0], before, *shape[2:]), dtype=x.dtype, device=x.device))
    if after:
        parts.append(axon_tensor.zeros((shape[0], after, *shape[2:]), dtype=x.dtype, device=x.device))
    padded = cat(parts, 1) if len(parts) > 1 else squares
    total = padded.narrow(1, 0, shape[1])
    for offset in range(1, size):
        total = total + padded.narrow(1, offset, shape[1])
    return input / (total * (alpha / size) + k).pow(beta)

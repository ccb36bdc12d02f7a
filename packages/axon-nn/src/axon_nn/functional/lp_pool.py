"""Power-average pooling: ``(Σ_window x^p)^(1/p)``, as PyTorch's ``lp_pool{1,2,3}d``.

PyTorch computes it as ``(sign(a) relu(|a|) * window_size)^(1/p)`` with ``a`` the average pool of
``x^p``; the same composition here gives the same values and gradients.
"""

from __future__ import annotations

import math
from typing import Any

from ._util import ntuple
from .pooling import avg_pool1d, avg_pool2d
from .pooling3d import avg_pool3d

__all__ = ["lp_pool1d", "lp_pool2d", "lp_pool3d"]


def _lp_pool(pool: Any, spatial: int, input: Any, norm_type: float, kernel_size: Any, stride: Any, ceil_mode: bool):
    kernel = ntuple(kernel_size, spatial, "kernel_size")
    if stride is None:
        pooled = pool(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    else:
        pooled = pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (pooled.sign() * pooled.abs().relu() * float(math.prod(kernel))).pow(1.0 / norm_type)


def lp_pool1d(input: Any, norm_type: float, kernel_size: int, stride: Any = None, ceil_mode: bool = False) -> Any:
    """``[N, C, L]`` (or ``[C, L]``) -> ``[N, C, Lo]``."""
    return _lp_pool(avg_pool1d, 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Any, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> Any:
    """``[N, C, H, W]`` (or ``[C, H, W]``) -> ``[N, C, Ho, Wo]``."""
    return _lp_pool(avg_pool2d, 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Any, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False) -> Any:
    """``[N, C, D, H, W]`` (or ``[C, D, H, W]``) -> ``[N, C, Do, Ho, Wo]``."""
    return _lp_pool(avg_pool3d, 3, input, norm_type, kernel_size, stride, ceil_mode)

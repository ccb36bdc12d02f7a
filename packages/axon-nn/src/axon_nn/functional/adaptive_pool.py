"""Adaptive pooling over 1 and 3 spatial dims, on top of the 2-d kernels of :mod:`.pooling`.

1-d pooling is 2-d pooling of a ``[*, 1, L]`` plane. 3-d average and maximum pooling are separable
over PyTorch's adaptive windows (each output box is a product of per-dim windows), so the 3-d mean
is two 2-d adaptive means (over ``(H, W)``, then over ``D``); the 3-d maximum gathers the per-box
argmax directly, as the 2-d kernel does.
"""

from __future__ import annotations

from typing import Any

from axon_core import ShapeError

from ._util import out_like, tensor_of, xp_of
from .pooling import TakeFlatFunction, _adaptive_windows, adaptive_avg_pool2d, adaptive_max_pool2d

__all__ = ["adaptive_avg_pool1d", "adaptive_max_pool1d", "adaptive_avg_pool3d", "adaptive_max_pool3d"]


def _sizes(op: str, input: Any, output_size: Any, spatial: int) -> tuple[int, ...]:
    if len(input.shape) not in (spatial + 1, spatial + 2):
        raise ShapeError(f"{op}: expected a {spatial + 1}-d or {spatial + 2}-d input, got shape {tuple(input.shape)}")
    if output_size is None or isinstance(output_size, int):
        sizes = (output_size,) * spatial
    else:
        sizes = tuple(output_size)
    if len(sizes) != spatial:
        raise ValueError(f"{op}: output_size must be an int or {spatial} values, got {output_size!r}")
    shape = tuple(input.shape[-spatial:])
    resolved = tuple(n if s is None else int(s) for n, s in zip(shape, sizes))
    if any(s <= 0 for s in resolved) or any(n == 0 for n in shape):
        raise ShapeError(f"{op}: cannot pool input of shape {tuple(input.shape)} to {resolved}")
    return resolved


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Any:
    """Means over PyTorch's adaptive windows: ``[N, C, L]`` (or ``[C, L]``) -> ``[N, C, output_size]``."""
    (out,) = _sizes("adaptive_avg_pool1d", input, output_size, 1)
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, out)).squeeze(-2)


def adaptive_max_pool1d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Maxima over adaptive windows: ``[N, C, L]`` -> ``[N, C, output_size]`` (and indices into ``L``)."""
    (out,) = _sizes("adaptive_max_pool1d", input, output_size, 1)
    values, index = adaptive_max_pool2d(input.unsqueeze(-2), (1, out), return_indices=True)
    values, index = values.squeeze(-2), index.squeeze(-2)  # a [1, L] plane: the flat index is the position
    return (values, index) if return_indices else values


def adaptive_avg_pool3d(input: Any, output_size: Any) -> Any:
    """Means over adaptive windows: ``[N, C, D, H, W]`` (or ``[C, D, H, W]``) -> ``[N, C, *output_size]``."""
    out_d, out_h, out_w = _sizes("adaptive_avg_pool3d", input, output_size, 3)
    *lead, d, h, w = tuple(input.shape)
    planes = adaptive_avg_pool2d(input.reshape(-1, d, h, w), (out_h, out_w))  # [rows, D, Ho, Wo]
    depth = adaptive_avg_pool2d(planes.reshape(-1, 1, d, out_h * out_w), (out_d, out_h * out_w))
    return depth.reshape(*lead, out_d, out_h, out_w)


def adaptive_max_pool3d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """Maxima over adaptive windows: ``[N, C, D, H, W]`` -> ``[N, C, *output_size]`` (and flat
    indices into ``D * H * W``)."""
    out_d, out_h, out_w = _sizes("adaptive_max_pool3d", input, output_size, 3)
    x = tensor_of(input)
    xp = xp_of(x)
    d, h, w = tuple(input.shape[-3:])
    volumes = xp.ascontiguousarray(x.array).reshape(-1, d, h, w)
    index = xp.empty((volumes.shape[0], out_d, out_h, out_w), dtype=xp.int64)
    for i, (front, back) in enumerate(_adaptive_windows(d, out_d)):
        for j, (top, bottom) in enumerate(_adaptive_windows(h, out_h)):
            for k, (left, right) in enumerate(_adaptive_windows(w, out_w)):
                bh, bw = bottom - top, right - left
                box = volumes[:, front:back, top:bottom, left:right].reshape(volumes.shape[0], (back - front) * bh * bw)
                # NaN wins, as in PyTorch: argmax of isnan first where a box holds one.
                best = xp.where(xp.isnan(box).any(axis=1), xp.argmax(xp.isnan(box), axis=1), xp.argmax(box, axis=1))
                dz, rest = best // (bh * bw), best % (bh * bw)
                index[:, i, j, k] = ((front + dz) * h + top + rest // bw) * w + left + rest % bw
    index_t = out_like(index.reshape(*input.shape[:-3], out_d, out_h, out_w), x)
    out = TakeFlatFunction.apply(input, index_t, 3)
    return (out, index_t) if return_indices else out

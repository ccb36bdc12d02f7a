"""``interpolate``: resizing ``[N, C, *spatial]`` inputs (1 to 3 spatial dims) with PyTorch's modes.

Every mode is separable: each spatial axis is resized on its own, one after the other. Nearest
modes pick source positions (``index_select``, so any dtype and exact values); linear, cubic and
area modes multiply the axis by an ``[in, out]`` weight matrix. Both are recorded ops, so the
gradient (and the gradient of the gradient) comes from axon-autograd. The source coordinates
follow PyTorch's ``upsample_*`` kernels: ``align_corners`` maps corner pixels onto corner
pixels, otherwise pixel centres are aligned (``(dst + 0.5) * scale - 0.5``), and a given
``scale_factor`` sets the scale unless ``recompute_scale_factor`` asks for ``in / out``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from axon_autograd import tensor_of
from axon_core import DTypeError, ShapeError
from axon_tensor import tensor

__all__ = ["interpolate"]

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
#: Modes tied to one number of spatial dims.
_SPATIAL = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) cubic convolution coefficient


def _cubic_weights(t: np.ndarray) -> np.ndarray:
    """Weights of the 4 taps at offsets -1, 0, 1, 2 for fractional positions ``t`` -> ``[len(t), 4]``."""
    a = _CUBIC_A

    def near(x: np.ndarray) -> np.ndarray:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: np.ndarray) -> np.ndarray:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1)


def _source(out: int, length: int, scale: float | None, align_corners: bool) -> np.ndarray:
    """Real-valued source coordinate of each output position along one axis (linear/cubic)."""
    dst = np.arange(out, dtype=np.float64)
    if align_corners:
        return dst * ((length - 1) / (out - 1)) if out > 1 else np.zeros(out)
    step = length / out if scale is None else 1.0 / scale
    return (dst + 0.5) * step - 0.5


def _weights(mode: str, length: int, out: int, scale: float | None, align_corners: bool) -> np.ndarray:
    """``[length, out]`` matrix taking one axis from ``length`` to ``out`` samples."""
    matrix = np.zeros((length, out))
    columns = np.arange(out)
    if mode == "area":
        for i in range(out):
            lo, hi = (i * length) // out, -(-((i + 1) * length) // out)
            matrix[lo:hi, i] = 1.0 / (hi - lo)
        return matrix
    src = _source(out, length, scale, align_corners)
    if mode == "bicubic":
        base = np.floor(src).astype(np.int64)
        taps = _cubic_weights(src - base)
        for k in range(4):
            np.add.at(matrix, (np.clip(base - 1 + k, 0, length - 1), columns), taps[:, k])
        return matrix
    src = np.maximum(src, 0.0)  # linear modes clamp below, as PyTorch's area_pixel_compute_source_index
    low = np.minimum(np.floor(src).astype(np.int64), length - 1)
    high = np.minimum(low + 1, length - 1)
    frac = src - low
    np.add.at(matrix, (low, columns), 1.0 - frac)
    np.add.at(matrix, (high, columns), frac)
    return matrix


def _nearest(mode: str, length: int, out: int, scale: float | None) -> np.ndarray:
    step = length / out if scale is None else 1.0 / scale
    dst = np.arange(out, dtype=np.float64)
    src = np.floor((dst + 0.5) * step) if mode == "nearest-exact" else np.floor(dst * step)
    return np.minimum(src, length - 1).astype(np.int64)


def _sizes(op: str, shape: tuple[int, ...], size: Any, scale_factor: Any) -> tuple[list[int], list[float | None]]:
    spatial = len(shape) - 2
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        sizes = [int(size)] * spatial if isinstance(size, (int, np.integer)) else [int(s) for s in size]
        if len(sizes) != spatial:
            raise ShapeError(f"{op}: size {size} does not match {spatial} spatial dims of input {shape}")
        if any(s <= 0 for s in sizes):
            raise ValueError(f"{op}: output size must be positive, got {size}")
        return sizes, [None] * spatial
    factors = (
        [float(scale_factor)] * spatial if isinstance(scale_factor, (int, float)) else [float(f) for f in scale_factor]
    )
    if len(factors) != spatial:
        raise ShapeError(f"{op}: scale_factor {scale_factor} does not match {spatial} spatial dims of input {shape}")
    if any(not f > 0 or math.isinf(f) for f in factors):
        raise ValueError(f"{op}: scale_factor must be positive and finite, got {scale_factor}")
    sizes = [int(math.floor(n * f)) for n, f in zip(shape[2:], factors)]
    if any(s <= 0 for s in sizes):
        raise ShapeError(f"{op}: scale_factor {scale_factor} gives an empty output for input {shape}")
    return sizes, factors


def interpolate(
    input: Any,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Any:
    """Resize ``input [N, C, *spatial]`` (1-3 spatial dims) to ``size`` or by ``scale_factor``.

    ``mode``: nearest, nearest-exact, linear (3-d input), bilinear / bicubic (4-d), trilinear (5-d),
    area (adaptive average pooling). ``align_corners`` only for the linear and cubic modes.
    ``antialias`` (PyTorch's low-pass filter when downsampling) is not implemented: True raises.
    """
    op = "interpolate"
    if mode not in _MODES:
        raise ValueError(f"{op}: mode must be one of {_MODES}, got {mode!r}")
    shape = tuple(input.shape)
    if not 3 <= len(shape) <= 5:
        raise ShapeError(f"{op}: expected a 3-d, 4-d or 5-d input [N, C, *spatial], got shape {shape}")
    spatial = len(shape) - 2
    if mode in _SPATIAL and _SPATIAL[mode] != spatial:
        raise ShapeError(f"{op}: mode {mode!r} needs a {_SPATIAL[mode] + 2}-d input, got shape {shape}")
    linear = mode in _SPATIAL
    if align_corners is not None and not linear:
        raise ValueError(f"{op}: align_corners only applies to linear, bilinear, bicubic and trilinear modes")
    if antialias:
        raise ValueError(f"{op}: antialias=True is not supported by axon")
    if (linear or mode == "area") and not input.dtype.is_floating_point:
        raise DTypeError(f"{op}: mode {mode!r} needs a floating-point input, got {input.dtype}")
    if any(n == 0 for n in shape[2:]):
        raise ShapeError(f"{op}: input spatial size must be non-zero, got shape {shape}")
    sizes, factors = _sizes(op, shape, size, scale_factor)
    if recompute_scale_factor:
        factors = [None] * spatial
    device = tensor_of(input).device
    out = input
    for axis, (length, target, factor) in enumerate(zip(shape[2:], sizes, factors)):
        dim = 2 + axis
        if length == target and mode in ("nearest", "nearest-exact", "area") and factor in (None, 1.0):
            continue
        if mode in ("nearest", "nearest-exact"):
            index = tensor(_nearest(mode, length, target, factor), device=device)
            out = out.index_select(dim, index)
            continue
        matrix = _weights(mode, length, target, factor, bool(align_corners))
        weights = tensor(matrix.astype(input.dtype.np if input.dtype.np.kind == "f" else np.float32), device=device)
        out = (out.movedim(dim, -1) @ weights).movedim(-1, dim)
    return out

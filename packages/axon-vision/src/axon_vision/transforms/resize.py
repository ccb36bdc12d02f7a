"""``resize`` and ``Resize``: separable interpolation with PyTorch's index and weight rules.

Each axis is resized by one ``[out, in]`` weight matrix, so the four modes differ only in how that
matrix is built. Without antialiasing the rules are ``torch.nn.functional.interpolate``'s
(``align_corners=False``; bicubic with A = -0.75, border indices clamped). With ``antialias=True``
they are PyTorch's and Pillow's low-pass rule: the filter is widened by the downscale factor and the
weights renormalised at the borders (bicubic then uses A = -0.5, as Pillow does).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._image import apply, check_size

__all__ = ["resize", "Resize"]

_MODES = ("nearest", "bilinear", "bicubic")


def _cubic(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - np.abs(x), 0.0, None)


def _plain_weights(n_in: int, n_out: int, mode: str) -> np.ndarray:
    scale = n_in / n_out
    weights = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    if mode == "nearest":
        weights[rows, np.minimum(np.floor(rows * scale).astype(np.int64), n_in - 1)] = 1.0
        return weights
    src = (rows + 0.5) * scale - 0.5
    if mode == "bilinear":
        src = np.maximum(src, 0.0)
        low = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        high = np.minimum(low + 1, n_in - 1)
        frac = src - low
        np.add.at(weights, (rows, low), 1.0 - frac)
        np.add.at(weights, (rows, high), frac)
        return weights
    low = np.floor(src).astype(np.int64)
    frac = src - low
    for offset in (-1, 0, 1, 2):
        index = np.clip(low + offset, 0, n_in - 1)
        np.add.at(weights, (rows, index), _cubic(frac - offset, -0.75))
    return weights


def _antialias_weights(n_in: int, n_out: int, mode: str) -> np.ndarray:
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    support = (1.0 if mode == "bilinear" else 2.0) * stretch
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        x = (np.arange(lo, hi) - center + 0.5) / stretch
        w = _triangle(x) if mode == "bilinear" else _cubic(x, -0.5)
        total = w.sum()
        weights[i, lo:hi] = w / total if total != 0 else w
    return weights


def axis_weights(n_in: int, n_out: int, mode: str, antialias: bool) -> np.ndarray:
    """The ``[n_out, n_in]`` matrix that resizes one axis (rows sum to 1)."""
    if antialias and mode != "nearest":
        return _antialias_weights(n_in, n_out, mode)
    return _plain_weights(n_in, n_out, mode)


def _target_size(h: int, w: int, size: Any) -> tuple[int, int]:
    if isinstance(size, int):
        # An int resizes the shorter side, keeping the aspect ratio (torchvision's rule).
        if h <= w:
            return size, int(size * w / h)
        return int(size * h / w), size
    return check_size(size, "resize")


def resize(image: Any, size: Any, mode: str = "bilinear", antialias: bool = True) -> Any:
    """Resize ``image [..., C, H, W]`` to ``size`` (``(h, w)``, or an int for the shorter side).

    ``mode``: nearest, bilinear or bicubic; ``antialias`` low-pass filters when shrinking (ignored
    for nearest). Floating-point input keeps its dtype; integer input is computed in float32, rounded
    and clipped to its range.
    """
    if mode not in _MODES:
        raise ValueError(f"resize: mode must be one of {_MODES}, got {mode!r}")
    if isinstance(size, int) and size <= 0:
        raise ValueError(f"resize: size must be positive, got {size}")

    def run(array: np.ndarray) -> np.ndarray:
        h, w = array.shape[-2:]
        out_h, out_w = _target_size(h, w, size)
        dtype = array.dtype if np.issubdtype(array.dtype, np.floating) else np.dtype(np.float32)
        wh = axis_weights(h, out_h, mode, antialias).astype(dtype)
        ww = axis_weights(w, out_w, mode, antialias).astype(dtype)
        result = np.einsum("oh,...hw,pw->...op", wh, array.astype(dtype, copy=False), ww, optimize=True)
        if np.issubdtype(array.dtype, np.integer):
            info = np.iinfo(array.dtype)
            return np.clip(np.rint(result), info.min, info.max).astype(array.dtype)
        return result.astype(dtype, copy=False)

    return apply(image, "resize", run)


class Resize:
    """Resize to ``size`` (``(h, w)`` or the shorter side) with ``mode`` and ``antialias``: see :func:`resize`."""

    def __init__(self, size: Any, mode: str = "bilinear", antialias: bool = True) -> None:
        if mode not in _MODES:
            raise ValueError(f"Resize: mode must be one of {_MODES}, got {mode!r}")
        self.size, self.mode, self.antialias = size, mode, antialias

    def __call__(self, image: Any) -> Any:
        return resize(image, self.size, self.mode, self.antialias)

    def __repr__(self) -> str:
        return f"Resize(size={self.size!r}, mode={self.mode!r}, antialias={self.antialias})"

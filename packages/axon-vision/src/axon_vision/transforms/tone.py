"""Tone and detail ops used by RandAugment, with torchvision's formulas: sharpness, posterize, solarize,
autocontrast, equalize. Images are ``[..., C, H, W]``, uint8 or floating point in [0, 1]."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ImageDtypeError
from ._image import apply
from .color import blend, cast_back, max_value, work_dtype

__all__ = ["adjust_sharpness", "autocontrast", "equalize", "posterize", "solarize"]


def _need_uint8(array: np.ndarray, op: str) -> None:
    if array.dtype != np.uint8:
        raise ImageDtypeError(f"{op}: needs a uint8 image, got {array.dtype}")


def _smoothed(array: np.ndarray) -> np.ndarray:
    """The image with its interior replaced by the 3x3 smoothing filter ``[[1,1,1],[1,5,1],[1,1,1]] / 13``.

    The border rows and columns keep their values and an integer image is rounded back, as in
    torchvision's ``_blurred_degenerate_image`` (Pillow's SMOOTH kernel).
    """
    dtype = work_dtype(array.dtype)
    x = array.astype(dtype)
    h, w = x.shape[-2:]
    inner = 4.0 * x[..., 1 : h - 1, 1 : w - 1]
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            inner = inner + x[..., dy : h - 2 + dy, dx : w - 2 + dx]
    inner = inner / dtype.type(13.0)
    if not np.issubdtype(array.dtype, np.floating):
        inner = np.rint(inner)
    out = array.copy()
    out[..., 1 : h - 1, 1 : w - 1] = inner.astype(array.dtype)
    return out


def adjust_sharpness(image: Any, factor: float) -> Any:
    """Blend with the smoothed image: 0 smooths, 1 is the original, 2 doubles the detail."""
    if factor < 0:
        raise ValueError(f"adjust_sharpness: factor must be non-negative, got {factor}")

    def run(array: np.ndarray) -> np.ndarray:
        if array.shape[-1] <= 2 or array.shape[-2] <= 2:
            return array.copy()
        return blend(array, _smoothed(array), factor)

    return apply(image, "adjust_sharpness", run)


def posterize(image: Any, bits: int) -> Any:
    """Keep the top ``bits`` bits (0..8) of each uint8 value."""
    if not 0 <= bits <= 8:
        raise ValueError(f"posterize: bits must be in [0, 8], got {bits}")

    def run(array: np.ndarray) -> np.ndarray:
        _need_uint8(array, "posterize")
        return array & np.uint8((0xFF << (8 - bits)) & 0xFF)

    return apply(image, "posterize", run)


def solarize(image: Any, threshold: float) -> Any:
    """Invert every value ``>= threshold`` (``white - x``), leave the rest."""

    def run(array: np.ndarray) -> np.ndarray:
        bound = max_value(array.dtype)
        if threshold > bound:
            raise ValueError(f"solarize: threshold {threshold} is above the image's white level {bound}")
        inverted = (bound - array.astype(work_dtype(array.dtype))).astype(array.dtype)
        return np.where(array >= threshold, inverted, array)

    return apply(image, "solarize", run)


def autocontrast(image: Any) -> Any:
    """Stretch each channel of each image linearly so its minimum is 0 and its maximum is white."""

    def run(array: np.ndarray) -> np.ndarray:
        bound = max_value(array.dtype)
        dtype = work_dtype(array.dtype)
        low = array.min(axis=(-2, -1), keepdims=True).astype(dtype)
        high = array.max(axis=(-2, -1), keepdims=True).astype(dtype)
        flat = high == low
        # bound * (1 / range), not bound / range: torch evaluates ``number / tensor`` as a reciprocal
        # times the number, and the last bit decides whether the maximum truncates to 254 or 255.
        scale = np.where(flat, 1.0, bound * np.reciprocal(np.where(flat, 1.0, high - low))).astype(dtype)
        low = np.where(flat, 0.0, low).astype(dtype)
        return cast_back((array.astype(dtype) - low) * scale, array.dtype)

    return apply(image, "autocontrast", run)


def _equalize_channel(channel: np.ndarray) -> np.ndarray:
    hist = np.bincount(channel.reshape(-1), minlength=256)
    nonzero = hist[hist != 0]
    step = int(nonzero[:-1].sum()) // 255
    if step == 0:
        return channel
    lut = (np.cumsum(hist) + step // 2) // step
    lut = np.clip(np.concatenate([[0], lut[:-1]]), 0, 255).astype(np.uint8)
    return lut[channel]


def equalize(image: Any) -> Any:
    """Histogram-equalise each channel of each uint8 image (Pillow's ``ImageOps.equalize`` lookup table)."""

    def run(array: np.ndarray) -> np.ndarray:
        _need_uint8(array, "equalize")
        flat = array.reshape(-1, *array.shape[-2:])
        return np.stack([_equalize_channel(c) for c in flat]).reshape(array.shape)

    return apply(image, "equalize", run)

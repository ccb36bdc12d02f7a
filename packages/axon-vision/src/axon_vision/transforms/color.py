"""Colour adjustments with torchvision's formulas: brightness, contrast, saturation, hue, grayscale.

Images are ``[..., C, H, W]`` with ``C`` 1 or 3 (RGB), floating point in ``[0, 1]`` or uint8 in
``[0, 255]``. As in torchvision, a blend ``f * a + (1 - f) * b`` is computed in floating point
(float32 for uint8), clipped to the range and cast back; the cast to uint8 truncates, as
``Tensor.to(torch.uint8)`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ImageDtypeError, ImageShapeError
from ._image import apply

__all__ = [
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "blend",
    "hsv_to_rgb",
    "rgb_to_grayscale",
    "rgb_to_hsv",
]


def max_value(dtype: np.dtype) -> float:
    """The white level of an image dtype: 255 for uint8, 1 for floating point."""
    if np.issubdtype(dtype, np.floating):
        return 1.0
    if dtype == np.uint8:
        return 255.0
    raise ImageDtypeError(f"colour ops take uint8 or floating-point images, got {dtype}")


def work_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype arithmetic runs in: the image's own if floating, float32 otherwise (torchvision's choice)."""
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float32)


def cast_back(result: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``result`` clipped to ``dtype``'s range and cast (truncating for uint8)."""
    return np.clip(result, 0.0, max_value(dtype)).astype(dtype)


def blend(image: np.ndarray, other: np.ndarray | float, ratio: float) -> np.ndarray:
    """``ratio * image + (1 - ratio) * other``, clipped to the image's range, in its dtype."""
    dtype = work_dtype(image.dtype)
    mixed = ratio * image.astype(dtype) + (1.0 - ratio) * np.asarray(other, dtype=dtype)
    return cast_back(mixed, image.dtype)


def _channels(array: np.ndarray, op: str, allowed: tuple[int, ...] = (1, 3)) -> int:
    channels = array.shape[-3]
    if channels not in allowed:
        raise ImageShapeError(f"{op}: needs {' or '.join(map(str, allowed))} channels, got shape {array.shape}")
    return channels


def _grayscale(array: np.ndarray) -> np.ndarray:
    if array.shape[-3] == 1:
        return array
    r, g, b = (array[..., i, :, :].astype(work_dtype(array.dtype)) for i in range(3))
    # ITU-R 601-2 luma, torchvision's (and Pillow's "L") weights.
    luma = 0.2989 * r + 0.587 * g + 0.114 * b
    return luma.astype(array.dtype)[..., None, :, :]


def rgb_to_grayscale(image: Any, num_output_channels: int = 1) -> Any:
    """``[..., 3, H, W]`` RGB to ``[..., num_output_channels, H, W]`` luma ``0.2989 R + 0.587 G + 0.114 B``."""
    if num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")

    def run(array: np.ndarray) -> np.ndarray:
        _channels(array, "rgb_to_grayscale")
        gray = _grayscale(array)
        return np.repeat(gray, num_output_channels, axis=-3) if num_output_channels == 3 else gray

    return apply(image, "rgb_to_grayscale", run)


def _check_factor(factor: float, op: str) -> float:
    if factor < 0:
        raise ValueError(f"{op}: factor must be non-negative, got {factor}")
    return float(factor)


def adjust_brightness(image: Any, factor: float) -> Any:
    """Scale intensities by ``factor`` (0 gives black, 1 the original)."""
    factor = _check_factor(factor, "adjust_brightness")

    def run(array: np.ndarray) -> np.ndarray:
        _channels(array, "adjust_brightness")
        return blend(array, 0.0, factor)

    return apply(image, "adjust_brightness", run)


def adjust_contrast(image: Any, factor: float) -> Any:
    """Blend with the mean luma of each image (0 gives flat grey, 1 the original)."""
    factor = _check_factor(factor, "adjust_contrast")

    def run(array: np.ndarray) -> np.ndarray:
        _channels(array, "adjust_contrast")
        mean = _grayscale(array).astype(work_dtype(array.dtype)).mean(axis=(-3, -2, -1), keepdims=True)
        return blend(array, mean, factor)

    return apply(image, "adjust_contrast", run)


def adjust_saturation(image: Any, factor: float) -> Any:
    """Blend with the luma image (0 gives grayscale, 1 the original); one channel is returned as it is."""
    factor = _check_factor(factor, "adjust_saturation")

    def run(array: np.ndarray) -> np.ndarray:
        if _channels(array, "adjust_saturation") == 1:
            return array.copy()
        return blend(array, _grayscale(array), factor)

    return apply(image, "adjust_saturation", run)


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """Floating ``[..., 3, H, W]`` RGB in [0, 1] to HSV, hue in [0, 1) (torchvision's ``_rgb2hsv``)."""
    r, g, b = rgb[..., 0, :, :], rgb[..., 1, :, :], rgb[..., 2, :, :]
    maxc, minc = rgb.max(axis=-3), rgb.min(axis=-3)
    flat = maxc == minc
    chroma = maxc - minc
    saturation = chroma / np.where(flat, 1.0, maxc)
    divisor = np.where(flat, 1.0, chroma)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    hue = (
        (maxc == r) * (bc - gc)
        + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
        + ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    )
    hue = np.fmod(hue / 6.0 + 1.0, 1.0)
    return np.stack((hue, saturation, maxc), axis=-3).astype(rgb.dtype, copy=False)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Floating ``[..., 3, H, W]`` HSV (hue in [0, 1)) to RGB in [0, 1] (torchvision's ``_hsv2rgb``)."""
    h, s, v = hsv[..., 0, :, :], hsv[..., 1, :, :], hsv[..., 2, :, :]
    sector = np.floor(h * 6.0)
    frac = h * 6.0 - sector
    sector = sector.astype(np.int64) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * frac), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - frac)), 0.0, 1.0)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    channels = [np.select([sector == k for k in range(6)], [row[c] for row in table]) for c in range(3)]
    return np.stack(channels, axis=-3).astype(hsv.dtype, copy=False)


def adjust_hue(image: Any, factor: float) -> Any:
    """Rotate the hue by ``factor`` turns, ``factor`` in [-0.5, 0.5]; one channel is returned as it is.

    uint8 images go to float32 by ``/ 255`` and back by ``* (256 - 1e-3)`` truncated, as torchvision's
    ``convert_image_dtype`` does.
    """
    if not -0.5 <= factor <= 0.5:
        raise ValueError(f"adjust_hue: factor must be in [-0.5, 0.5], got {factor}")

    def run(array: np.ndarray) -> np.ndarray:
        if _channels(array, "adjust_hue") == 1:
            return array.copy()
        max_value(array.dtype)  # raises for dtypes other than uint8 and floating point
        integer = array.dtype == np.uint8
        rgb = array.astype(np.float32) / 255.0 if integer else array
        hsv = rgb_to_hsv(rgb)
        hsv[..., 0, :, :] = np.mod(hsv[..., 0, :, :] + factor, 1.0)
        out = hsv_to_rgb(hsv)
        if integer:
            return (out * (256.0 - 1e-3)).astype(array.dtype)
        return out

    return apply(image, "adjust_hue", run)

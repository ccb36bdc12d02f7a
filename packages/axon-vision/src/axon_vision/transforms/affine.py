"""``affine`` and ``rotate``: inverse-mapped warps, torchvision's tensor path.

The inverse matrix is torchvision's ``_get_inverse_affine_matrix`` (rotation, shear, translation
and scale about a centre); each output pixel centre is mapped back into the input and sampled as
``grid_sample(align_corners=False)`` does: the nearest pixel (half-way cases round to even) or
bilinear, with zero padding outside.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ._image import apply

__all__ = ["affine", "inverse_affine_matrix", "rotate"]


def inverse_affine_matrix(
    center: Sequence[float], angle: float, translate: Sequence[float], scale: float, shear: Sequence[float]
) -> list[float]:
    """The 2x3 output-to-input matrix (row-major) of ``C T R S Sh C⁻¹``; angles in degrees, clockwise.

    ``center`` is relative to the image centre, in pixels.
    """
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [v / scale for v in (d, -b, 0.0, -c, a, 0.0)]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    return m


def _source_coords(shape: tuple[int, ...], matrix: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Input pixel coordinates ``(x, y)`` ``[H, W]`` each output pixel centre maps back to."""
    h, w = shape[-2:]
    # Output pixel centres relative to the image centre, as torchvision's _gen_affine_grid lays them.
    xs = np.arange(w) - w * 0.5 + 0.5
    ys = (np.arange(h) - h * 0.5 + 0.5)[:, None]
    src_x = matrix[0] * xs + matrix[1] * ys + matrix[2] + w * 0.5 - 0.5
    src_y = matrix[3] * xs + matrix[4] * ys + matrix[5] + h * 0.5 - 0.5
    return src_x, src_y


def _taps(x: np.ndarray, y: np.ndarray, h: int, w: int, mode: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(row index, column index, weight)`` per tap; taps outside the image get weight 0 (zero padding)."""
    if mode == "nearest":
        corners = [(np.rint(y).astype(np.int64), np.rint(x).astype(np.int64), np.ones_like(x))]
    else:
        x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        fx, fy = x - x0, y - y0
        corners = [
            (y0, x0, (1 - fy) * (1 - fx)),
            (y0, x0 + 1, (1 - fy) * fx),
            (y0 + 1, x0, fy * (1 - fx)),
            (y0 + 1, x0 + 1, fy * fx),
        ]
    taps = []
    for iy, ix, weight in corners:
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        taps.append((np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1), np.where(inside, weight, 0.0)))
    return taps


def _warp(array: np.ndarray, matrix: Sequence[float], mode: str, fill: float | None) -> np.ndarray:
    h, w = array.shape[-2:]
    taps = _taps(*_source_coords(array.shape, matrix), h, w, mode)
    if mode == "nearest":
        iy, ix, inside = taps[0]
        return np.where(inside > 0, array[..., iy, ix], np.asarray(fill or 0.0).astype(array.dtype))
    integer = not np.issubdtype(array.dtype, np.floating)
    dtype = np.float32 if integer else array.dtype
    source = array.astype(dtype, copy=False)
    out = sum(weight.astype(dtype) * source[..., iy, ix] for iy, ix, weight in taps)
    if fill is not None:
        # torchvision's fill rule: sample a ones mask the same way and blend the fill in by it.
        mask = sum(weight for _, _, weight in taps).astype(dtype)
        out = out * mask + (1.0 - mask) * np.asarray(fill, dtype=dtype)
    if integer:
        info = np.iinfo(array.dtype)
        return np.clip(np.rint(out), info.min, info.max).astype(array.dtype)
    return out.astype(dtype, copy=False)


def affine(
    image: Any,
    angle: float = 0.0,
    translate: Sequence[float] = (0.0, 0.0),
    scale: float = 1.0,
    shear: Sequence[float] = (0.0, 0.0),
    center: Sequence[float] | None = None,
    interpolation: str = "nearest",
    fill: float | None = None,
) -> Any:
    """Warp ``image [..., C, H, W]``: rotate by ``angle`` degrees clockwise (torchvision's ``affine``
    convention), shear by ``shear`` degrees (x, y), scale, then translate by ``translate`` pixels;
    about ``center`` (pixels from the top-left corner; the image centre when None).

    ``interpolation``: "nearest" or "bilinear" (``grid_sample`` with zero padding; integer images are
    computed in float32 and rounded). ``fill`` None pads with zeros; a number is blended in by the
    sampled in-image mask, torchvision's rule (for nearest both mean: outside pixels take the fill).
    """
    if scale <= 0:
        raise ValueError(f"affine: scale must be positive, got {scale}")
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"affine: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")

    def run(array: np.ndarray) -> np.ndarray:
        h, w = array.shape[-2:]
        center_f = [0.0, 0.0] if center is None else [center[0] - w * 0.5, center[1] - h * 0.5]
        matrix = inverse_affine_matrix(center_f, angle, translate, scale, shear)
        return _warp(array, matrix, interpolation, fill)

    return apply(image, "affine", run)


def rotate(image: Any, angle: float, interpolation: str = "nearest", fill: float | None = None) -> Any:
    """Rotate ``image`` by ``angle`` degrees counter-clockwise about its centre (same size, corners filled)."""
    return affine(image, angle=-angle, interpolation=interpolation, fill=fill)

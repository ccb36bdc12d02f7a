"""``affine`` and ``rotate``: inverse-mapped warps with nearest sampling, torchvision's tensor path.

The inverse matrix is torchvision's ``_get_inverse_affine_matrix`` (rotation, shear, translation
and scale about a centre); each output pixel centre is mapped back into the input and takes the
nearest input pixel (``grid_sample(mode="nearest", align_corners=False)``: half-way cases round to
even), or ``fill`` when it lands outside.
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


def _warp(array: np.ndarray, matrix: Sequence[float], fill: float) -> np.ndarray:
    h, w = array.shape[-2:]
    # Output pixel centres relative to the image centre, as torchvision's _gen_affine_grid lays them.
    xs = np.arange(w) - w * 0.5 + 0.5
    ys = (np.arange(h) - h * 0.5 + 0.5)[:, None]
    src_x = matrix[0] * xs + matrix[1] * ys + matrix[2] + w * 0.5 - 0.5
    src_y = matrix[3] * xs + matrix[4] * ys + matrix[5] + h * 0.5 - 0.5
    ix, iy = np.rint(src_x).astype(np.int64), np.rint(src_y).astype(np.int64)
    inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    out = array[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)]
    return np.where(inside, out, np.asarray(fill).astype(array.dtype))


def affine(
    image: Any,
    angle: float = 0.0,
    translate: Sequence[float] = (0.0, 0.0),
    scale: float = 1.0,
    shear: Sequence[float] = (0.0, 0.0),
    center: Sequence[float] | None = None,
    fill: float = 0.0,
) -> Any:
    """Warp ``image [..., C, H, W]``: rotate by ``angle`` degrees clockwise (torchvision's ``affine``
    convention), shear by ``shear`` degrees (x, y), scale, then translate by ``translate`` pixels;
    about ``center`` (pixels from the top-left corner; the image centre when None)."""
    if scale <= 0:
        raise ValueError(f"affine: scale must be positive, got {scale}")

    def run(array: np.ndarray) -> np.ndarray:
        h, w = array.shape[-2:]
        center_f = [0.0, 0.0] if center is None else [center[0] - w * 0.5, center[1] - h * 0.5]
        matrix = inverse_affine_matrix(center_f, angle, translate, scale, shear)
        return _warp(array, matrix, fill)

    return apply(image, "affine", run)


def rotate(image: Any, angle: float, fill: float = 0.0) -> Any:
    """Rotate ``image`` by ``angle`` degrees counter-clockwise about its centre (same size, corners filled)."""
    return affine(image, angle=-angle, fill=fill)

"""``roi_align`` (He et al. 2017, Mask R-CNN): bilinear pooling of each region into a fixed grid.

The sampling is torchvision's CPU kernel, point for point: each of ``output_size`` bins averages a
``sampling_ratio x sampling_ratio`` grid of bilinear samples (``ceil(roi size / bins)`` per side
when ``sampling_ratio <= 0``); a sample more than one pixel outside the map contributes 0, one within
it is clamped to the border; ``aligned=True`` shifts the box by -0.5 pixel (pixel centres at
integer + 0.5) and lets it be smaller than one pixel.

Bilinear weights factor into a row part and a column part, so each region is two small constant
matrices ``[bins_h, H]`` and ``[bins_w, W]`` applied to its image by matmul: the gradient with respect
to ``input`` flows through axon's autograd (boxes get none, as in torchvision).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from axon_autograd import cat
from axon_tensor import tensor

from ..errors import BoxFormatError
from ._boxes import host

__all__ = ["roi_align"]


def _axis_weights(coords: np.ndarray, size: int) -> np.ndarray:
    """``[samples] -> [samples, size]``: each sample's bilinear weights over one axis (torchvision's rule)."""
    weights = np.zeros((coords.size, size))
    valid = (coords >= -1.0) & (coords <= size)
    c = np.maximum(coords, 0.0)
    low = np.floor(c).astype(np.int64)
    at_end = low >= size - 1
    low = np.where(at_end, size - 1, low)
    high = np.where(at_end, size - 1, low + 1)
    c = np.where(at_end, low.astype(np.float64), c)
    frac = c - low
    rows = np.arange(coords.size)
    np.add.at(weights, (rows, low), np.where(valid, 1.0 - frac, 0.0))
    np.add.at(weights, (rows, high), np.where(valid, frac, 0.0))
    return weights


def _region_weights(
    box: np.ndarray, bins: tuple[int, int], shape: tuple[int, int], scale: float, ratio: int, aligned: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The ``[bins_h, H]`` and ``[bins_w, W]`` matrices of one box; their outer product over a map is the pooling."""
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (float(v) * scale - offset for v in box)
    width, height = x2 - x1, y2 - y1
    if not aligned:
        width, height = max(width, 1.0), max(height, 1.0)
    factors = []
    for start, extent, n_bins, size in ((y1, height, bins[0], shape[0]), (x1, width, bins[1], shape[1])):
        bin_size = extent / n_bins
        grid = ratio if ratio > 0 else int(math.ceil(extent / n_bins))
        if grid <= 0:
            factors.append((np.zeros((n_bins, size)), 0))
            continue
        coords = start + np.arange(n_bins)[:, None] * bin_size + (np.arange(grid)[None, :] + 0.5) * bin_size / grid
        per_sample = _axis_weights(coords.reshape(-1), size).reshape(n_bins, grid, size)
        factors.append((per_sample.sum(axis=1), grid))
    (rows, grid_h), (cols, grid_w) = factors
    count = max(grid_h * grid_w, 1)
    return rows / count, cols


def _as_rois(boxes: Any) -> np.ndarray:
    if isinstance(boxes, (list, tuple)):
        parts = []
        for index, b in enumerate(boxes):
            b = host(b).astype(np.float64).reshape(-1, 4) if np.size(host(b)) else np.zeros((0, 4))
            parts.append(np.concatenate([np.full((len(b), 1), float(index)), b], axis=1))
        return np.concatenate(parts) if parts else np.zeros((0, 5))
    rois = host(boxes).astype(np.float64)
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise BoxFormatError(
            f"roi_align: boxes must be [K, 5] (batch index, x1, y1, x2, y2) or a list of [K_i, 4], got {rois.shape}"
        )
    return rois


def roi_align(
    input: Any,
    boxes: Any,
    output_size: int | Sequence[int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> Any:
    """``input [N, C, H, W]``, ``boxes`` ``[K, 5]`` or a list of ``[K_i, 4]`` per image -> ``[K, C, bins_h, bins_w]``.

    ``spatial_scale`` maps box coordinates (input-image pixels) onto the feature map.
    """
    bins = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(bins) != 2 or min(bins) <= 0:
        raise ValueError(f"roi_align: output_size must be a positive int or pair, got {output_size!r}")
    if input.ndim != 4:
        raise BoxFormatError(f"roi_align: input must be [N, C, H, W], got shape {tuple(input.shape)}")
    n, channels, height, width = input.shape
    rois = _as_rois(boxes)
    batch = rois[:, 0].astype(np.int64)
    if len(rois) and (batch.min() < 0 or batch.max() >= n or np.any(rois[:, 0] != batch)):
        raise BoxFormatError(f"roi_align: batch indices must be integers in [0, {n}), got {np.unique(rois[:, 0])}")
    dtype = input.dtype.np
    pieces, order = [], []
    for b in np.unique(batch):
        members = np.nonzero(batch == b)[0]
        weights = [
            _region_weights(rois[k, 1:], bins, (height, width), spatial_scale, sampling_ratio, aligned) for k in members
        ]
        rows = tensor(np.stack([w[0] for w in weights]).astype(dtype)[:, None])  # [K_b, 1, bins_h, H]
        cols = tensor(np.stack([w[1].T for w in weights]).astype(dtype)[:, None])  # [K_b, 1, W, bins_w]
        image = input[int(b)][None]  # [1, C, H, W]
        pieces.append(_pool(rows, image, cols))
        order.append(members)
    if not pieces:
        return tensor(np.zeros((0, channels, *bins), dtype=dtype))
    out = cat(pieces, 0) if len(pieces) > 1 else pieces[0]
    inverse = np.argsort(np.concatenate(order), kind="stable")
    return out if np.array_equal(inverse, np.arange(len(inverse))) else out[inverse]


def _pool(rows: Any, image: Any, cols: Any) -> Any:
    """``rows [K, 1, bh, H] @ image [1, C, H, W] @ cols [K, 1, W, bw] -> [K, C, bh, bw]`` (grad to ``image``)."""
    return (image.transpose(-1, -2).matmul(rows.transpose(-1, -2))).transpose(-1, -2).matmul(cols)

"""``nms`` and ``batched_nms``: greedy non-maximum suppression (torchvision.ops' semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_tensor import Tensor, tensor

from ..errors import BoxFormatError
from ._boxes import as_boxes, host

__all__ = ["batched_nms", "nms"]


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for position, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[position + 1 :]
        low = np.maximum(boxes[i, :2], boxes[rest, :2])
        high = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        wh = np.clip(high - low, 0, None)
        inter = wh[:, 0] * wh[:, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            # Two empty boxes give 0/0 = NaN, which suppresses nothing, as in torchvision's kernel.
            iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest[iou > threshold]] = True
    return np.asarray(keep, dtype=np.int64)


def _checked(boxes: Any, scores: Any, op: str) -> tuple[np.ndarray, np.ndarray]:
    b = host(as_boxes(boxes, op)).astype(np.float64)
    s = host(scores).astype(np.float64)
    if b.ndim != 2 or s.shape != (b.shape[0],):
        raise BoxFormatError(f"{op}: need boxes [K, 4] and scores [K], got {b.shape} and {s.shape}")
    return b, s


def nms(boxes: Any, scores: Any, iou_threshold: float) -> Tensor:
    """Indices (int64 ``[kept]``, by decreasing score) of the boxes kept after discarding every box whose
    IoU with a higher-scoring kept box is above ``iou_threshold``."""
    b, s = _checked(boxes, scores, "nms")
    return tensor(_nms(b, s, iou_threshold))


def batched_nms(boxes: Any, scores: Any, idxs: Any, iou_threshold: float) -> Tensor:
    """NMS within each category ``idxs[k]`` independently; kept indices by decreasing score.

    Boxes of different categories are shifted apart by ``idx * (max coordinate + 1)`` so that they
    never overlap (torchvision's coordinate trick), then one NMS runs over all of them.
    """
    b, s = _checked(boxes, scores, "batched_nms")
    categories = host(idxs).astype(np.int64)
    if categories.shape != s.shape:
        raise BoxFormatError(f"batched_nms: idxs {categories.shape} must match scores {s.shape}")
    if b.shape[0] == 0:
        return tensor(np.zeros(0, dtype=np.int64))
    shifted = b + (categories * (b.max() + 1.0))[:, None]
    return tensor(_nms(shifted, s, iou_threshold))

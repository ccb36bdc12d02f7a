"""Box-regression losses on matched pairs ``[..., 4]``: GIoU, DIoU and CIoU (torchvision.ops' formulas).

Each takes predicted and target boxes ``(x1, y1, x2, y2)`` of the same shape, returns the loss per
pair ``[...]`` (or reduced), and is differentiable in both (Variables in, Variable out).
"""

from __future__ import annotations

import math
from typing import Any

from axon_autograd import Variable

from ..errors import BoxFormatError
from ._boxes import as_boxes, reduce

__all__ = ["complete_box_iou_loss", "distance_box_iou_loss", "generalized_box_iou_loss"]


def _pair(boxes1: Any, boxes2: Any, op: str) -> tuple[Any, Any]:
    boxes1, boxes2 = as_boxes(boxes1, op), as_boxes(boxes2, op)
    if tuple(boxes1.shape) != tuple(boxes2.shape):
        raise BoxFormatError(f"{op}: boxes1 {tuple(boxes1.shape)} and boxes2 {tuple(boxes2.shape)} must match")
    return boxes1, boxes2


def _corners(boxes: Any) -> tuple[Any, Any, Any, Any]:
    return boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]


def _inter_union(boxes1: Any, boxes2: Any) -> tuple[Any, Any]:
    x1, y1, x2, y2 = _corners(boxes1)
    x1g, y1g, x2g, y2g = _corners(boxes2)
    # relu(w) * relu(h) equals torchvision's masked product, values and gradients alike.
    inter = (x2.minimum(x2g) - x1.maximum(x1g)).clamp(min=0) * (y2.minimum(y2g) - y1.maximum(y1g)).clamp(min=0)
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    return inter, union


def _enclosing(boxes1: Any, boxes2: Any) -> tuple[Any, Any]:
    x1, y1, x2, y2 = _corners(boxes1)
    x1g, y1g, x2g, y2g = _corners(boxes2)
    return x2.maximum(x2g) - x1.minimum(x1g), y2.maximum(y2g) - y1.minimum(y1g)


def generalized_box_iou_loss(boxes1: Any, boxes2: Any, reduction: str = "none", eps: float = 1e-7) -> Any:
    """``1 - GIoU``, ``GIoU = IoU - (C - U) / C``; in [0, 2]."""
    boxes1, boxes2 = _pair(boxes1, boxes2, "generalized_box_iou_loss")
    inter, union = _inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    cw, ch = _enclosing(boxes1, boxes2)
    area_c = cw * ch
    loss = 1 - (iou - (area_c - union) / (area_c + eps))
    return reduce(loss, reduction, "generalized_box_iou_loss")


def _diou(boxes1: Any, boxes2: Any, eps: float) -> tuple[Any, Any]:
    inter, union = _inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    cw, ch = _enclosing(boxes1, boxes2)
    diagonal = cw * cw + ch * ch + eps
    x1, y1, x2, y2 = _corners(boxes1)
    x1g, y1g, x2g, y2g = _corners(boxes2)
    dx = (x1 + x2) / 2 - (x1g + x2g) / 2
    dy = (y1 + y2) / 2 - (y1g + y2g) / 2
    return 1 - iou + (dx * dx + dy * dy) / diagonal, iou


def distance_box_iou_loss(boxes1: Any, boxes2: Any, reduction: str = "none", eps: float = 1e-7) -> Any:
    """``1 - IoU + d² / c²``: centre distance over the enclosing box's diagonal (Zheng et al. 2020)."""
    boxes1, boxes2 = _pair(boxes1, boxes2, "distance_box_iou_loss")
    loss, _ = _diou(boxes1, boxes2, eps)
    return reduce(loss, reduction, "distance_box_iou_loss")


def complete_box_iou_loss(boxes1: Any, boxes2: Any, reduction: str = "none", eps: float = 1e-7) -> Any:
    """DIoU loss plus ``alpha * v``, ``v = 4/π² (atan(w_g/h_g) - atan(w/h))²``; ``alpha`` is held constant
    in the gradient, as torchvision computes it under ``no_grad``."""
    boxes1, boxes2 = _pair(boxes1, boxes2, "complete_box_iou_loss")
    diou, iou = _diou(boxes1, boxes2, eps)
    x1, y1, x2, y2 = _corners(boxes1)
    x1g, y1g, x2g, y2g = _corners(boxes2)
    angle = ((x2g - x1g) / (y2g - y1g)).atan() - ((x2 - x1) / (y2 - y1)).atan()
    v = angle * angle * (4 / math.pi**2)
    alpha = v / (1 - iou + v + eps)
    if isinstance(alpha, Variable):
        alpha = alpha.detach()
    return reduce(diou + alpha * v, reduction, "complete_box_iou_loss")

"""Pairwise box geometry: ``box_area``, ``box_iou``, ``generalized_box_iou`` (torchvision.ops' formulas).

Boxes are ``(x1, y1, x2, y2)`` with ``x1 <= x2``, ``y1 <= y2``, as Tensors or Variables (gradients
flow) or arrays. Results are Tensors / Variables.
"""

from __future__ import annotations

from typing import Any

from ._boxes import as_boxes

__all__ = ["box_area", "box_iou", "generalized_box_iou"]


def box_area(boxes: Any) -> Any:
    """``[K, 4] -> [K]``: ``(x2 - x1) * (y2 - y1)``."""
    boxes = as_boxes(boxes, "box_area")
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _inter_union(boxes1: Any, boxes2: Any) -> tuple[Any, Any]:
    area1, area2 = box_area(boxes1), box_area(boxes2)
    low = boxes1[:, None, :2].maximum(boxes2[None, :, :2])
    high = boxes1[:, None, 2:].minimum(boxes2[None, :, 2:])
    wh = (high - low).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter, area1[:, None] + area2[None, :] - inter


def box_iou(boxes1: Any, boxes2: Any) -> Any:
    """``[N, 4], [M, 4] -> [N, M]``: intersection over union of every pair."""
    boxes1, boxes2 = as_boxes(boxes1, "box_iou"), as_boxes(boxes2, "box_iou")
    inter, union = _inter_union(boxes1, boxes2)
    return inter / union


def generalized_box_iou(boxes1: Any, boxes2: Any) -> Any:
    """``[N, 4], [M, 4] -> [N, M]``: ``IoU - (C - U) / C`` with ``C`` the smallest enclosing box (Rezatofighi 2019)."""
    boxes1, boxes2 = as_boxes(boxes1, "generalized_box_iou"), as_boxes(boxes2, "generalized_box_iou")
    inter, union = _inter_union(boxes1, boxes2)
    low = boxes1[:, None, :2].minimum(boxes2[None, :, :2])
    high = boxes1[:, None, 2:].maximum(boxes2[None, :, 2:])
    wh = (high - low).clamp(min=0)
    enclosing = wh[..., 0] * wh[..., 1]
    return inter / union - (enclosing - union) / enclosing

"""Box ops and detection losses with torchvision.ops' names and formulas.

Smooth-L1 for box regression is ``axon_nn.functional.smooth_l1_loss`` (``beta`` as in torch).
"""

from .boxes import box_area, box_iou, generalized_box_iou
from .focal_loss import sigmoid_focal_loss
from .iou_loss import complete_box_iou_loss, distance_box_iou_loss, generalized_box_iou_loss
from .nms import batched_nms, nms
from .roi_align import roi_align

__all__ = [
    "batched_nms",
    "box_area",
    "box_iou",
    "complete_box_iou_loss",
    "distance_box_iou_loss",
    "generalized_box_iou",
    "generalized_box_iou_loss",
    "nms",
    "roi_align",
    "sigmoid_focal_loss",
]

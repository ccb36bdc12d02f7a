"""``sigmoid_focal_loss`` (Lin et al. 2017, RetinaNet), torchvision.ops' formula."""

from __future__ import annotations

from typing import Any

from axon_nn import functional as F

from ..errors import BoxFormatError
from ._boxes import reduce

__all__ = ["sigmoid_focal_loss"]


def sigmoid_focal_loss(
    inputs: Any, targets: Any, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"
) -> Any:
    """``alpha_t (1 - p_t)^gamma BCE(inputs, targets)`` elementwise; ``inputs`` are logits and ``targets``
    in [0, 1] of the same shape (Tensors or Variables); ``alpha < 0`` turns the class weighting off."""
    if tuple(inputs.shape) != tuple(targets.shape):
        raise BoxFormatError(
            f"sigmoid_focal_loss: inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} differ"
        )
    p = inputs.sigmoid()
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (targets * alpha + (1 - targets) * (1 - alpha)) * loss
    return reduce(loss, reduction, "sigmoid_focal_loss")

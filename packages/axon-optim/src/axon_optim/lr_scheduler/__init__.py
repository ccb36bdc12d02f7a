"""Learning-rate schedulers with PyTorch's semantics (same lrs, step for step)."""

from __future__ import annotations

from .cosine_annealing_lr import CosineAnnealingLR
from .exponential_lr import ExponentialLR
from .linear_warmup import LinearWarmup
from .multi_step_lr import MultiStepLR
from .one_cycle_lr import OneCycleLR
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .scheduler import LRScheduler
from .step_lr import StepLR

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LinearWarmup",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
]

"""axon-optim: optimizers, learning-rate schedulers and gradient clipping.

Optimizers and schedulers follow ``torch.optim``'s semantics and arithmetic, so a PyTorch
training loop ports by changing imports.
"""

from __future__ import annotations

from . import lr_scheduler
from .adam import Adam
from .adamw import AdamW
from .clip import clip_grad_norm_, clip_grad_value_
from .lamb import LAMB
from .lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearWarmup,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__version__ = "0.1.0"

__all__ = [
    "LAMB",
    "SGD",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LinearWarmup",
    "MultiStepLR",
    "OneCycleLR",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "StepLR",
    "clip_grad_norm_",
    "clip_grad_value_",
    "lr_scheduler",
]

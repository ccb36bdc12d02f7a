"""Image transforms on NumPy arrays or axon Tensors laid out ``[C, H, W]`` or ``[N, C, H, W]``."""

from .crop import CenterCrop, RandomCrop, RandomResizedCrop, center_crop, crop
from .flip import RandomHorizontalFlip, hflip
from .resize import Resize, resize

__all__ = [
    "CenterCrop",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "Resize",
    "center_crop",
    "crop",
    "hflip",
    "resize",
]

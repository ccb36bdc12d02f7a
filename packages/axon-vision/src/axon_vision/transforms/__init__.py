"""Image transforms on NumPy arrays or axon Tensors laid out ``[C, H, W]`` or ``[N, C, H, W]``."""

from .affine import affine, rotate
from .color import (
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    hsv_to_rgb,
    rgb_to_grayscale,
    rgb_to_hsv,
)
from .crop import CenterCrop, RandomCrop, RandomResizedCrop, center_crop, crop
from .erasing import RandomErasing, erase
from .flip import RandomHorizontalFlip, hflip
from .jitter import ColorJitter
from .normalize import Normalize, normalize
from .randaugment import RandAugment, apply_op, augmentation_space
from .resize import Resize, resize
from .to_tensor import ToTensor, to_tensor
from .tone import adjust_sharpness, autocontrast, equalize, posterize, solarize

__all__ = [
    "CenterCrop",
    "ColorJitter",
    "Normalize",
    "RandAugment",
    "RandomCrop",
    "RandomErasing",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "Resize",
    "ToTensor",
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "adjust_sharpness",
    "affine",
    "apply_op",
    "augmentation_space",
    "autocontrast",
    "center_crop",
    "crop",
    "equalize",
    "erase",
    "hflip",
    "hsv_to_rgb",
    "normalize",
    "posterize",
    "resize",
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "rotate",
    "solarize",
    "to_tensor",
]

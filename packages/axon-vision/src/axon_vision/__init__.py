"""axon-vision: image transforms (resize with PyTorch's rules and antialiasing, crops, flips)."""

from . import transforms
from .errors import DatasetFormatError, ImageShapeError

__version__ = "0.1.0"

__all__ = ["DatasetFormatError", "ImageShapeError", "transforms"]

"""axon-vision: image transforms, classification models with torchvision's state-dict names, box ops and
detection losses, datasets read from local files."""

from . import datasets, models, ops, transforms
from .errors import BoxFormatError, DatasetFormatError, ImageDtypeError, ImageShapeError

__version__ = "0.1.0"

__all__ = [
    "BoxFormatError",
    "DatasetFormatError",
    "ImageDtypeError",
    "ImageShapeError",
    "datasets",
    "models",
    "ops",
    "transforms",
]

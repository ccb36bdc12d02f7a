"""axon-vision's typed errors (each also a ValueError or TypeError, so generic handlers still catch them)."""

from __future__ import annotations

__all__ = ["BoxFormatError", "DatasetFormatError", "ImageDtypeError", "ImageShapeError"]


class DatasetFormatError(ValueError):
    """A dataset file is missing, truncated or not in the format its reader expects (names the file)."""


class ImageShapeError(ValueError):
    """An image or batch does not have the layout a transform needs (``[C, H, W]`` or ``[N, C, H, W]``)."""


class ImageDtypeError(TypeError):
    """An image has a dtype the operation does not take (e.g. ``equalize`` needs uint8)."""


class BoxFormatError(ValueError):
    """Boxes are not ``[K, 4]`` in ``(x1, y1, x2, y2)`` order, or their companions do not match them."""

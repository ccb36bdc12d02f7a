"""axon-vision's typed errors (each also a ValueError, so generic handlers still catch them)."""

from __future__ import annotations

__all__ = ["DatasetFormatError", "ImageShapeError"]


class DatasetFormatError(ValueError):
    """A dataset file is missing, truncated or not in the format its reader expects (names the file)."""


class ImageShapeError(ValueError):
    """An image or batch does not have the layout a transform needs (``[C, H, W]`` or ``[N, C, H, W]``)."""

"""``ColorJitter``: random brightness, contrast, saturation and hue, in a random order (torchvision's rule)."""

from __future__ import annotations

from typing import Any

from ._image import numpy_rng
from .color import adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation

__all__ = ["ColorJitter"]

_ADJUST = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def _range(value: Any, name: str, center: float, bound: tuple[float, float]) -> tuple[float, float] | None:
    """torchvision's ``_check_input``: a number ``v`` means ``[center - v, center + v]`` clipped to ``bound``."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"ColorJitter: {name} must be non-negative, got {value}")
        low, high = center - value, center + value
        if center == 1.0:
            low = max(low, 0.0)
    else:
        if len(value) != 2:
            raise ValueError(f"ColorJitter: {name} must be a number or a (min, max) pair, got {value!r}")
        low, high = float(value[0]), float(value[1])
    if not bound[0] <= low <= high <= bound[1]:
        raise ValueError(f"ColorJitter: {name} range ({low}, {high}) must lie in {bound} with min <= max")
    # A range that is a single point at the identity is no jitter at all.
    return None if low == high == center else (low, high)


class ColorJitter:
    """Randomly change brightness, contrast, saturation (factors around 1) and hue (turns around 0).

    Each call draws the order of the four adjustments (a permutation) and then one factor per
    enabled adjustment, uniformly in its range, like ``torchvision.transforms.ColorJitter.get_params``.
    A batch ``[N, 3, H, W]`` shares one draw. Draws come from ``generator`` (axon's default when None).
    """

    def __init__(
        self,
        brightness: Any = 0.0,
        contrast: Any = 0.0,
        saturation: Any = 0.0,
        hue: Any = 0.0,
        generator: Any = None,
    ) -> None:
        inf = float("inf")
        self.brightness = _range(brightness, "brightness", 1.0, (0.0, inf))
        self.contrast = _range(contrast, "contrast", 1.0, (0.0, inf))
        self.saturation = _range(saturation, "saturation", 1.0, (0.0, inf))
        self.hue = _range(hue, "hue", 0.0, (-0.5, 0.5))
        self.generator = generator

    def get_params(self) -> tuple[list[int], list[float | None]]:
        """``(order, factors)``: the permutation of the four adjustments and each one's factor (None: off)."""
        rng = numpy_rng(self.generator)
        order = [int(i) for i in rng.permutation(4)]
        ranges = (self.brightness, self.contrast, self.saturation, self.hue)
        factors = [None if r is None else float(rng.uniform(r[0], r[1])) for r in ranges]
        return order, factors

    def __call__(self, image: Any) -> Any:
        order, factors = self.get_params()
        for index in order:
            if factors[index] is not None:
                image = _ADJUST[index](image, factors[index])
        return image

    def __repr__(self) -> str:
        return (
            f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, "
            f"saturation={self.saturation}, hue={self.hue})"
        )

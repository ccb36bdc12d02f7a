"""``RandAugment`` (Cubuk et al. 2019): ``num_ops`` ops drawn uniformly from torchvision's 14, each at
one shared magnitude bin, with torchvision's augmentation space and sign rule."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..errors import ImageDtypeError, ImageShapeError
from ._image import as_array, like_input, numpy_rng
from .affine import affine, rotate
from .color import adjust_brightness, adjust_contrast, adjust_saturation
from .tone import adjust_sharpness, autocontrast, equalize, posterize, solarize

__all__ = ["RandAugment", "augmentation_space", "apply_op"]

_Op = Callable[[np.ndarray, float, str, float | None], np.ndarray]

# name -> (op(image, magnitude, interpolation, fill), signed). Shears and translations act about the top-left corner.
_OPS: dict[str, tuple[_Op, bool]] = {
    "Identity": (lambda x, m, i, f: x, False),
    "ShearX": (
        lambda x, m, i, f: affine(x, shear=(math.degrees(math.atan(m)), 0.0), center=(0, 0), interpolation=i, fill=f),
        True,
    ),
    "ShearY": (
        lambda x, m, i, f: affine(x, shear=(0.0, math.degrees(math.atan(m))), center=(0, 0), interpolation=i, fill=f),
        True,
    ),
    "TranslateX": (lambda x, m, i, f: affine(x, translate=(int(m), 0), interpolation=i, fill=f), True),
    "TranslateY": (lambda x, m, i, f: affine(x, translate=(0, int(m)), interpolation=i, fill=f), True),
    "Rotate": (lambda x, m, i, f: rotate(x, m, interpolation=i, fill=f), True),
    "Brightness": (lambda x, m, i, f: adjust_brightness(x, 1.0 + m), True),
    "Color": (lambda x, m, i, f: adjust_saturation(x, 1.0 + m), True),
    "Contrast": (lambda x, m, i, f: adjust_contrast(x, 1.0 + m), True),
    "Sharpness": (lambda x, m, i, f: adjust_sharpness(x, 1.0 + m), True),
    "Posterize": (lambda x, m, i, f: posterize(x, int(m)), False),
    "Solarize": (lambda x, m, i, f: solarize(x, m), False),
    "AutoContrast": (lambda x, m, i, f: autocontrast(x), False),
    "Equalize": (lambda x, m, i, f: equalize(x), False),
}


def augmentation_space(num_bins: int, height: int, width: int) -> dict[str, np.ndarray]:
    """Each op's magnitudes over ``num_bins`` bins (torchvision's ``RandAugment._augmentation_space``)."""
    n = num_bins
    return {
        "Identity": np.zeros(()),
        "ShearX": np.linspace(0.0, 0.3, n),
        "ShearY": np.linspace(0.0, 0.3, n),
        "TranslateX": np.linspace(0.0, 150.0 / 331.0 * width, n),
        "TranslateY": np.linspace(0.0, 150.0 / 331.0 * height, n),
        "Rotate": np.linspace(0.0, 30.0, n),
        "Brightness": np.linspace(0.0, 0.9, n),
        "Color": np.linspace(0.0, 0.9, n),
        "Contrast": np.linspace(0.0, 0.9, n),
        "Sharpness": np.linspace(0.0, 0.9, n),
        # Round half to even, as torch.round does.
        "Posterize": 8 - np.round(np.arange(n) / ((n - 1) / 4)).astype(np.int64),
        "Solarize": np.linspace(255.0, 0.0, n),
        "AutoContrast": np.zeros(()),
        "Equalize": np.zeros(()),
    }


def apply_op(
    image: np.ndarray, name: str, magnitude: float, interpolation: str = "nearest", fill: float | None = None
) -> np.ndarray:
    """Apply the RandAugment op ``name`` at ``magnitude`` to a uint8 ``[..., C, H, W]`` array."""
    if name not in _OPS:
        raise ValueError(f"apply_op: unknown op {name!r}; known: {sorted(_OPS)}")
    return _OPS[name][0](image, magnitude, interpolation, fill)


class RandAugment:
    """Apply ``num_ops`` ops, each drawn uniformly from the 14, at magnitude bin ``magnitude`` of ``num_bins``.

    A signed op's magnitude is negated with probability 1/2. Input is uint8 ``[C, H, W]`` or
    ``[N, C, H, W]`` (a batch shares the draws); geometric ops sample with ``interpolation``
    ("nearest", torchvision's default, or "bilinear") and ``fill`` as :func:`affine` does. Draws come
    from ``generator`` (axon's default when None).
    """

    def __init__(
        self,
        num_ops: int = 2,
        magnitude: int = 9,
        num_bins: int = 31,
        interpolation: str = "nearest",
        fill: float | None = None,
        generator: Any = None,
    ) -> None:
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"RandAugment: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation = interpolation
        if num_ops < 0 or num_bins < 2 or not 0 <= magnitude < num_bins:
            raise ValueError(
                f"RandAugment: need num_ops >= 0, num_bins >= 2, 0 <= magnitude < num_bins; "
                f"got {num_ops}, {num_bins}, {magnitude}"
            )
        self.num_ops, self.magnitude, self.num_bins, self.fill, self.generator = (
            num_ops,
            magnitude,
            num_bins,
            fill,
            generator,
        )

    def get_params(self, height: int, width: int) -> list[tuple[str, float]]:
        """The ``(op name, signed magnitude)`` pairs one call applies, in order."""
        rng = numpy_rng(self.generator)
        space = augmentation_space(self.num_bins, height, width)
        names = list(space)
        chosen = []
        for _ in range(self.num_ops):
            name = names[int(rng.integers(0, len(names)))]
            magnitudes = space[name]
            magnitude = float(magnitudes[self.magnitude]) if magnitudes.ndim > 0 else 0.0
            if _OPS[name][1] and int(rng.integers(0, 2)):
                magnitude = -magnitude
            chosen.append((name, magnitude))
        return chosen

    def __call__(self, image: Any) -> Any:
        array = as_array(image, "RandAugment")
        if array.dtype != np.uint8:
            raise ImageDtypeError(f"RandAugment: needs a uint8 image, got {array.dtype}")
        if array.shape[-3] not in (1, 3):
            raise ImageShapeError(f"RandAugment: needs 1 or 3 channels, got shape {array.shape}")
        for name, magnitude in self.get_params(*array.shape[-2:]):
            array = apply_op(array, name, magnitude, self.interpolation, self.fill)
        return like_input(array, image)

    def __repr__(self) -> str:
        return f"RandAugment(num_ops={self.num_ops}, magnitude={self.magnitude}, num_bins={self.num_bins})"

"""``QuantTensor``: a tensor stored in a ggml type, as rows of blocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import QuantError
from .ggml_types import GGMLType, ggml_type, row_bytes

__all__ = ["QuantTensor"]


@dataclass(frozen=True)
class QuantTensor:
    """``shape`` values (NumPy order: a weight is ``[out_features, in_features]``) stored as ``raw``,
    uint8 ``[*shape[:-1], row_bytes]`` in ``ggml_type``'s block layout (a view into a GGUF mmap
    or an array of our own)."""

    raw: np.ndarray
    ggml_type: GGMLType
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "ggml_type", ggml_type(self.ggml_type))
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        if not self.shape:
            raise QuantError(f"{self.ggml_type.name}: a QuantTensor needs at least one dimension")
        expected = (*self.shape[:-1], row_bytes(self.ggml_type, self.shape[-1]))
        if self.raw.dtype != np.uint8 or tuple(self.raw.shape) != expected:
            raise QuantError(
                f"{self.ggml_type.name} tensor of shape {list(self.shape)} needs uint8 raw bytes of shape "
                f"{list(expected)}, got {self.raw.dtype} {list(self.raw.shape)}"
            )

    @property
    def nbytes(self) -> int:
        return int(self.raw.nbytes)

    def dequantize(self) -> np.ndarray:
        """The values as float32 ``shape``, as ggml's ``dequantize_row_*`` decodes them."""
        from .quantize import dequantize  # quantize.py imports this module

        return dequantize(self.raw, self.ggml_type)

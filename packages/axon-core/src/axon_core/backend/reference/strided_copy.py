"""Layout: a C-contiguous copy of any strided array.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CUDA backend
overrides it in ``backend/cuda/strided_copy.py`` with the kernels of ``kernels/strided_copy.py``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["StridedCopyReference"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class StridedCopyReference:
    """Reference strided copy ops of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def strided_copy(self, x: Array) -> Array:
        """A C-contiguous copy of ``x`` (any strides, any dtype)."""
        return self.xp.array(x, copy=True, order="C")

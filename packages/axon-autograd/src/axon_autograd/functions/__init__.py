"""Backward rules of every Tensor op, one Function per op, grouped by topic.

Importing this package attaches the ops to :class:`~axon_autograd.Variable` (each only where
``Tensor`` has the op). Module-level functions here are the ones torch has as functions
(``cat``, ``stack``, ``where``, ``einsum``).
"""

from __future__ import annotations

from . import activation, arithmetic, composite, conversion, indexing, linalg, reduction, shape, unary
from .indexing import where
from .linalg import einsum
from .shape import cat, stack

__all__ = [
    "activation",
    "arithmetic",
    "composite",
    "conversion",
    "indexing",
    "linalg",
    "reduction",
    "shape",
    "unary",
    "cat",
    "stack",
    "where",
    "einsum",
]

"""Backward rules of every Tensor op, one Function per op, grouped by topic.

Importing this package attaches the ops to :class:`~axon_autograd.Variable` (each only where
``Tensor`` has the op). Module-level functions here are the ones torch has as functions
(``cat``, ``stack``, ``where``, ``einsum``), and ``sum_to``, the gradient of a broadcast (for
Variables and for backend arrays), shared with axon-nn's backward rules.
"""

from __future__ import annotations

from axon_tensor.ops.axis_alias import accept_axis, with_axis

from ..variable import Variable
from . import activation, arithmetic, composite, conversion, indexing, linalg, reduction, shape, unary
from ._util import sum_to
from .indexing import where
from .linalg import einsum
from .shape import cat, stack

# ``axis=`` for ``dim=`` on Variables too, as on Tensors.
accept_axis(Variable, {})
cat, stack = with_axis(cat), with_axis(stack)

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
    "sum_to",
]

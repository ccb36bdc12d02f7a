"""Sorting and selection: sort, argsort, topk, kthvalue, unique.

Sorting is always stable (ties keep their input order, also when descending), which meets
PyTorch's ``stable=True`` contract and is one valid order for ``stable=False``. NaN sorts as
the largest value, as in PyTorch: last ascending, first descending.
"""

from __future__ import annotations

from typing import Any

from axon_core import DTypeError, ShapeError
from axon_core import int64 as _int64

from ..tensor import Tensor, normalize_dim, tensor_method, wrap
from .reduction import ValuesIndices

__all__ = ["sort", "argsort", "topk", "kthvalue", "unique"]


def _stable_argsort(xp: Any, data: Any, axis: int, descending: bool) -> Any:
    if data.dtype.kind == "c":
        raise DTypeError(f"sort: complex tensors cannot be sorted (dtype {data.dtype})")
    if not descending:
        return xp.argsort(data, axis=axis, kind="stable")
    # Stable descending: sort the reversed array ascending, reverse the order back, and map
    # positions in the reversed array to input positions; ties then keep their input order.
    n = data.shape[axis]
    reversed_order = xp.argsort(xp.flip(data, axis=axis), axis=axis, kind="stable")
    return (n - 1) - xp.flip(reversed_order, axis=axis)


def _sorted(op: str, input: Tensor, dim: int, descending: bool) -> tuple[Any, Any, int]:
    data = input._data
    xp = input._device.backend.xp
    if data.ndim == 0:
        return data.copy(), xp.zeros((), dtype=_int64.np), 0
    axis = normalize_dim(dim, data.ndim, op)
    order = _stable_argsort(xp, data, axis, descending)
    return xp.take_along_axis(data, order, axis=axis), order, axis


@tensor_method()
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:
    """Entries sorted along ``dim``: ``(values, indices)`` with ``values == input.gather(dim, indices)``.

    Always stable (``stable`` is accepted for PyTorch compatibility).
    """
    values, order, _ = _sorted("sort", input, dim, descending)
    device = input._device
    return ValuesIndices(wrap(values, device), wrap(order.astype(_int64.np, copy=False), device))


@tensor_method()
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The ``indices`` of :func:`sort`."""
    return sort(input, dim, descending, stable).indices


def _check_k(op: str, k: int, size: int, low: int) -> None:
    if not low <= k <= size:
        raise IndexError(f"{op}: k={k} is out of range for a dimension of size {size} (expected {low} <= k <= {size})")


@tensor_method()
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices, best first."""
    data = input._data
    size = data.shape[normalize_dim(dim, data.ndim, "topk")] if data.ndim else 1
    _check_k("topk", k, size, 0)
    values, order, axis = _sorted("topk", input, dim, largest)
    if data.ndim:
        window = (slice(None),) * axis + (slice(0, k),)
        values, order = values[window], order[window]
    elif k == 0:
        xp = input._device.backend.xp
        values, order = data.reshape(1)[:0], xp.zeros(0, dtype=_int64.np)
    device = input._device
    return ValuesIndices(wrap(values.copy(), device), wrap(order.astype(_int64.np), device))


@tensor_method()
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> ValuesIndices:
    """The ``k``-th smallest entry (``k`` from 1) along ``dim`` and its index."""
    data = input._data
    size = data.shape[normalize_dim(dim, data.ndim, "kthvalue")] if data.ndim else 1
    _check_k("kthvalue", k, size, 1)
    values, order, axis = _sorted("kthvalue", input, dim, False)
    if data.ndim:
        pick = (slice(None),) * axis + (slice(k - 1, k) if keepdim else k - 1,)
        values, order = values[pick], order[pick]
    device = input._device
    return ValuesIndices(wrap(values.copy(), device), wrap(order.astype(_int64.np), device))


def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> "Tensor | tuple[Tensor, ...]":
    """The distinct values of ``input`` in ascending order (or distinct slices along ``dim``).

    ``return_inverse`` adds, for each input entry, the index of its value in the output
    (input's shape; ``[size of dim]`` with ``dim``); ``return_counts`` adds how often each
    occurs. NaNs are never equal to each other, so each NaN is its own value, as in PyTorch.
    The output is always sorted (``sorted=False`` allows any order, sorted is one).
    """
    data = input._data
    xp = input._device.backend.xp
    device = input._device
    if data.dtype.kind == "c":
        raise DTypeError(f"unique: complex tensors are not supported (dtype {data.dtype})")
    if dim is None:
        values, inverse, counts = xp.unique(data.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False)
        inverse = inverse.reshape(data.shape)
    else:
        if data.ndim == 0:
            raise ShapeError("unique: dim is not allowed for a 0-d tensor")
        axis = normalize_dim(dim, data.ndim, "unique")
        if data.shape[axis] == 0:
            values, inverse, counts = data.copy(), xp.zeros(0, dtype=_int64.np), xp.zeros(0, dtype=_int64.np)
        else:
            values, inverse, counts = xp.unique(
                data, return_inverse=True, return_counts=True, axis=axis, equal_nan=False
            )
            inverse = inverse.reshape(-1)
    out = [wrap(values, device)]
    if return_inverse:
        out.append(wrap(inverse.astype(_int64.np, copy=False), device))
    if return_counts:
        out.append(wrap(counts.astype(_int64.np, copy=False), device))
    return out[0] if len(out) == 1 else tuple(out)


tensor_method("unique")(unique)

"""Turning a list of samples into a batch, with PyTorch's ``default_collate`` rules.

Tensors and NumPy arrays are stacked along a new first dimension ``[batch, *sample_shape]``;
Python ints become int64 tensors (bools bool), floats float64; strings stay as they came;
dicts, named tuples, tuples and lists are collated field by field (tuples come back as lists,
as in PyTorch).
"""

from __future__ import annotations

import collections.abc
from typing import Any, Sequence

import numpy as np

from axon_core import ShapeError, promote_types
from axon_tensor import Tensor, from_numpy, tensor
from axon_tensor.tensor import check_same_device, wrap

__all__ = ["default_collate", "default_convert", "stack_tensors"]

_BAD_NUMPY_KINDS = "SaUO"


def _type_error(found: Any) -> TypeError:
    return TypeError(
        f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {found}"
    )


def stack_tensors(tensors: Sequence[Tensor], op: str = "default_collate") -> Tensor:
    """``[len(tensors), *shape]``: same-shape tensors on one device, dtypes promoted like PyTorch."""
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ShapeError(f"{op}: tensors in a batch must have equal shapes, got {[t.shape for t in tensors]}")
    device = check_same_device(op, *tensors)
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = promote_types(dtype, t.dtype)
    xp = device.backend.xp
    return wrap(xp.stack([t.array for t in tensors]).astype(dtype.np, copy=False), device)


def default_collate(batch: Sequence[Any]) -> Any:
    """Collate ``batch`` (a list of samples) into one batched structure."""
    if len(batch) == 0:
        raise ValueError("default_collate: empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack_tensors(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in _BAD_NUMPY_KINDS:
            raise _type_error(elem.dtype)
        return stack_tensors([from_numpy(np.ascontiguousarray(a)) for a in batch])
    if isinstance(elem, np.generic):
        if elem.dtype.kind in _BAD_NUMPY_KINDS:
            raise _type_error(elem.dtype)
        return tensor(np.array(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype="float64")
    if isinstance(elem, int):
        return tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(fields)  # type: ignore[call-arg]
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(s) != size for s in batch):
            raise ShapeError(
                f"default_collate: every sequence in a batch must have the same length, got {[len(s) for s in batch]}"
            )
        columns = [default_collate(field) for field in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        try:
            return type(elem)(columns)  # type: ignore[call-arg]
        except TypeError:
            return columns
    raise _type_error(type(elem))


def default_convert(data: Any) -> Any:
    """For loaders without batching: NumPy arrays become tensors (sharing memory), recursively."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        if data.dtype.kind in _BAD_NUMPY_KINDS:
            return data
        return from_numpy(np.ascontiguousarray(data))
    if isinstance(data, np.generic):
        return data if data.dtype.kind in _BAD_NUMPY_KINDS else tensor(data)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        fields = {key: default_convert(value) for key, value in data.items()}
        try:
            return type(data)(fields)  # type: ignore[call-arg]
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([default_convert(d) for d in data])  # type: ignore[call-arg]
        except TypeError:
            return [default_convert(d) for d in data]
    return data

"""The :class:`Tensor`: a strided view (shape, strides, offset) over one device's storage.

A Tensor holds an array of its device's backend (a NumPy array on the CPU, a CuPy array on
CUDA). Those arrays already are storage + shape + strides + offset, so views made by axon
(transpose, narrow, slicing, ...) share memory with their base and writes through a view show
in the base. ``_base`` points at the tensor that owns the storage (None for owners).

Ops live in ``axon_tensor/ops/*.py``, one topic per file, and attach themselves here with
:func:`tensor_method`; this file holds only what every op needs.

The seam for code above axon-tensor that calls a backend kernel: ``t.backend`` (the device's
:class:`~axon_core.Backend`), ``t.array`` (the backend array itself, shared, never a copy) and
:func:`wrap` (a Tensor around a backend array the kernel returned). Nothing above this package
reads ``_data`` or ``_device``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from axon_core import Backend, Device, DeviceError, DType, as_dtype
from axon_core.dtypes import _BY_NP

__all__ = ["Tensor", "tensor_method", "wrap"]


class Tensor:
    """An n-dimensional array on a device. Build one with :func:`axon_tensor.tensor`."""

    __slots__ = ("_data", "_device", "_base", "__weakref__")
    # NumPy defers to our reflected operators (np.float32(2) * t returns a Tensor).
    __array_priority__ = 1000

    _data: Any
    _device: Device
    _base: "Tensor | None"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("Tensor(...) is not a constructor; use axon.tensor(data, dtype=..., device=...)")

    # -- what a tensor is ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Sizes of every dimension."""
        return self._data.shape

    def size(self, dim: int | None = None) -> "tuple[int, ...] | int":
        """``shape``, or the size of one dimension (negative dims count from the end)."""
        if dim is None:
            return self._data.shape
        return self._data.shape[normalize_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self) -> DType:
        return _BY_NP[self._data.dtype]

    @property
    def device(self) -> Device:
        return self._device

    @property
    def backend(self) -> Backend:
        """The backend that runs kernels on this tensor's device (``self.device.backend``)."""
        return self._device.backend

    @property
    def array(self) -> Any:
        """The backend array this tensor views: a NumPy ndarray on the CPU, a CuPy array on CUDA.

        Shared, not copied (writes show in the tensor); for handing to ``self.backend``'s kernels
        and to ``self.backend.xp``. Wrap a result with :func:`wrap`.
        """
        return self._data

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        """Number of elements."""
        return int(self._data.size)

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def stride(self, dim: int | None = None) -> "tuple[int, ...] | int":
        """Strides in elements (not bytes), like PyTorch."""
        itemsize = self._data.itemsize
        strides = tuple(s // itemsize for s in self._data.strides)
        if dim is None:
            return strides
        return strides[normalize_dim(dim, self._data.ndim, "stride")]

    def storage_offset(self) -> int:
        """Offset in elements of this view's first element within its storage."""
        if self._base is None:
            return 0
        return (_address(self._data) - _address(self._base._data)) // self._data.itemsize

    @property
    def base(self) -> "Tensor | None":
        """The tensor whose storage this view shares; None when this tensor owns its storage."""
        return self._base

    def is_contiguous(self) -> bool:
        """True when the elements are laid out densely in row-major order."""
        return bool(self._data.flags.c_contiguous)

    def data_ptr(self) -> int:
        """Address of the first element in the device's memory."""
        return _address(self._data)

    @property
    def is_cuda(self) -> bool:
        return self._device.type != "cpu"

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        return self.dtype.is_complex

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # -- conversions ---------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The values as a NumPy array; shares memory for CPU tensors."""
        return self._device.backend.to_numpy(self._data)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self.numpy()
        if dtype is not None:
            array = array.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self) -> "int | float | bool | complex":
        """The single value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item(): tensor has {self._data.size} elements, expected 1")
        return self.numpy().reshape(()).item()

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"bool() of a tensor with {self._data.size} elements is ambiguous")
        return bool(self.item())

    def __int__(self) -> int:
        return int(self.item())  # type: ignore[arg-type]

    def __float__(self) -> float:
        return float(self.item())  # type: ignore[arg-type]

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())  # type: ignore[arg-type]

    def __repr__(self) -> str:
        values = np.array2string(
            np.asarray(self.numpy(), dtype=np.float32) if self.dtype.name == "bfloat16" else self.numpy(),
            separator=", ",
            prefix="tensor(",
            threshold=1000,
            edgeitems=3,
        )
        return f"tensor({values}, dtype={self.dtype}, device='{self._device}')"

    __str__ = __repr__

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self):
        from .creation import tensor

        return (tensor, (self.numpy().copy(), self.dtype.name, str(self._device)))


# What every Tensor has from its class body (attributes, conversions), not ops: a profiler skips these.
INFRASTRUCTURE = frozenset(Tensor.__dict__)


def wrap(data: Any, device: Device, base: "Tensor | None" = None) -> Tensor:
    """A Tensor around a backend array of ``device`` (``device.backend.xp``'s), without copying.

    ``base`` is the tensor whose storage ``data`` views; NumPy scalars from 0-d math become
    0-d arrays so every Tensor holds an array.
    """
    if data.__class__ is not np.ndarray and isinstance(data, np.generic):
        data = np.asarray(data)
    t = _new(Tensor)
    t._data = data
    t._device = device
    t._base = base
    return t


def view_of(data: Any, source: Tensor) -> Tensor:
    """A Tensor for ``data``, a view into ``source``'s storage (keeps ``_base`` at the owner)."""
    return wrap(data, source._device, source if source._base is None else source._base)


_new = object.__new__


def tensor_method(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach a function to :class:`Tensor` as a method under its own name or ``names``."""

    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        for name in names or (fn.__name__,):
            setattr(Tensor, name, fn)
        return fn

    return attach


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """``dim`` as a non-negative index into ``ndim`` dimensions; IndexError names ``op``."""
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(f"{op}: dimension {dim} is out of range for a {ndim}-d tensor")
    return dim + bound if dim < 0 else dim


def check_same_device(op: str, *tensors: Tensor) -> Device:
    """The common device of ``tensors``; a DeviceError naming both devices otherwise."""
    device = tensors[0]._device
    for other in tensors[1:]:
        if other._device is not device:
            raise DeviceError(f"{op}: tensors are on different devices: {device} and {other._device}")
    return device


def as_dtype_or_none(dtype: Any) -> DType | None:
    return None if dtype is None else as_dtype(dtype)


def _address(array: Any) -> int:
    if isinstance(array, np.ndarray):
        return array.__array_interface__["data"][0]
    return int(array.data.ptr)

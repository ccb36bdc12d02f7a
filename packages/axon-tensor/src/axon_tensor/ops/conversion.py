"""Moving tensors between devices and dtypes, and copying them."""

from __future__ import annotations

from typing import Any

from axon_core import Device, DTypeError, as_dtype, default_device

from ..tensor import Tensor, tensor_method, wrap

__all__ = ["to", "contiguous", "clone", "type_as", "type"]


@tensor_method()
def to(input: Tensor, *args: Any, dtype: Any = None, device: Any = None, copy: bool = False) -> Tensor:
    """``t.to(device)``, ``t.to(dtype)``, ``t.to(device, dtype)`` or ``t.to(other_tensor)``.

    Returns ``input`` itself when nothing changes (unless ``copy``).
    """
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, (str, Device)) and not _is_dtype_name(arg):
            device = arg
        else:
            dtype = arg
    target = input._device if device is None else default_device(device)
    chosen = input.dtype if dtype is None else as_dtype(dtype)
    data = input._data
    if target is not input._device:
        host = input._device.backend.to_numpy(data)
        data = target.backend.from_numpy(host)
        if target.backend.host_memory and input._device.backend.host_memory and data is host:
            data = data.copy()
        copy = False
    if chosen.np != data.dtype:
        data = data.astype(chosen.np)
        copy = False
    if data is input._data and not copy:
        return input
    return wrap(data.copy() if copy else data, target)


def _is_dtype_name(arg: Any) -> bool:
    if not isinstance(arg, str):
        return False
    try:
        as_dtype(arg)
    except TypeError:
        return False
    return True


@tensor_method()
def contiguous(input: Tensor) -> Tensor:
    """``input`` when already row-major dense, else a dense copy."""
    if input._data.flags.c_contiguous:
        return input
    return wrap(input._device.backend.xp.ascontiguousarray(input._data), input._device)


@tensor_method()
def clone(input: Tensor) -> Tensor:
    """A copy with its own storage."""
    return wrap(input._data.copy(), input._device)


@tensor_method()
def type_as(input: Tensor, other: Tensor) -> Tensor:
    return to(input, dtype=other.dtype)


@tensor_method()
def cpu(input: Tensor) -> Tensor:
    return to(input, device="cpu")


@tensor_method()
def float(input: Tensor) -> Tensor:
    return to(input, dtype="float32")


@tensor_method()
def double(input: Tensor) -> Tensor:
    return to(input, dtype="float64")


@tensor_method()
def half(input: Tensor) -> Tensor:
    return to(input, dtype="float16")


@tensor_method()
def bfloat16(input: Tensor) -> Tensor:
    return to(input, dtype="bfloat16")


@tensor_method()
def long(input: Tensor) -> Tensor:
    return to(input, dtype="int64")


@tensor_method()
def int(input: Tensor) -> Tensor:
    return to(input, dtype="int32")


@tensor_method()
def bool(input: Tensor) -> Tensor:
    return to(input, dtype="bool")


@tensor_method()
def type(input: Tensor, dtype: Any = None, non_blocking: bool = False) -> Any:
    """``type()`` names the tensor type as PyTorch does (``'torch.FloatTensor'`` style, with ``axon``);
    ``type(dtype)`` (a dtype, its name, or a type string such as ``'torch.LongTensor'``) casts."""
    if dtype is None:
        return f"axon.{_TYPE_NAMES.get(input.dtype.name, input.dtype.name)}"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        name = dtype.rsplit(".", 1)[-1]
        by_type = {v: k for k, v in _TYPE_NAMES.items()}
        if name not in by_type:
            raise DTypeError(f"type: unknown tensor type {dtype!r}")
        dtype = by_type[name]
    return to(input, dtype=as_dtype(dtype))


_TYPE_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "bfloat16": "BFloat16Tensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "int16": "ShortTensor",
    "int32": "IntTensor",
    "int64": "LongTensor",
    "bool": "BoolTensor",
    "complex64": "ComplexFloatTensor",
    "complex128": "ComplexDoubleTensor",
}

"""axon-core: devices, dtypes, the backend protocol and its CPU and CUDA backends."""

from __future__ import annotations

from .atomic import atomic_writer
from .backend import Backend
from .device import Device, default_device, get_default_device, set_default_device
from .dtypes import (
    ALL_DTYPES,
    DType,
    as_dtype,
    bfloat16,
    bool_,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    result_type,
    set_default_dtype,
    uint8,
)
from .errors import AxonError, DeviceError, DeviceUnavailableError, DTypeError, KernelCompileError, ShapeError

__version__ = "0.1.0"

__all__ = [
    "ALL_DTYPES",
    "AxonError",
    "Backend",
    "DType",
    "DTypeError",
    "Device",
    "DeviceError",
    "DeviceUnavailableError",
    "KernelCompileError",
    "ShapeError",
    "as_dtype",
    "atomic_writer",
    "bfloat16",
    "bool_",
    "complex64",
    "complex128",
    "default_device",
    "float16",
    "float32",
    "float64",
    "get_default_device",
    "get_default_dtype",
    "int8",
    "int16",
    "int32",
    "int64",
    "memory_stats",
    "promote_types",
    "result_type",
    "set_default_device",
    "set_default_dtype",
    "uint8",
]


def memory_stats(device: "str | Device") -> dict[str, int]:
    """Bytes ``in_use``, ``cached``, ``peak`` and the ``limit`` (0: none) of ``device``'s memory pool."""
    return Device(device).backend.memory_stats()

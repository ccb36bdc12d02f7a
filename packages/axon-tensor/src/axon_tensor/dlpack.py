"""DLPack: zero-copy exchange with PyTorch, NumPy, CuPy, JAX and anything else that speaks it.

``torch.from_dlpack(axon_tensor)`` and ``axon_tensor.from_dlpack(torch_tensor)`` share memory:
a write through one shows in the other. The producer's device decides where the tensor lands:
a CPU producer gives a ``cpu`` tensor, a CUDA producer a ``cuda:N`` tensor whose array is
imported by that device's backend (CuPy).
"""

from __future__ import annotations

from typing import Any

from axon_core import Device, DeviceError, DTypeError, as_dtype

from .tensor import Tensor, tensor_method, wrap

__all__ = ["from_dlpack"]

# DLDeviceType codes of the DLPack spec that map to an axon device.
_DL_CPU = 1
_DL_CUDA = 2
_DL_CUDA_HOST = 3
_DL_CUDA_MANAGED = 13


@tensor_method("__dlpack__")
def _dlpack(input: Tensor, *, stream: Any = None, **kwargs: Any) -> Any:
    """Export as a DLPack capsule (what ``torch.from_dlpack`` / ``np.from_dlpack`` call).

    ``stream`` and the versioned-protocol keywords (``max_version``, ``dl_device``, ``copy``) are
    passed to the backend array, which owns the memory.
    """
    data = input._data
    try:
        if stream is None:
            return data.__dlpack__(**kwargs)
        return data.__dlpack__(stream=stream, **kwargs)
    except (BufferError, TypeError) as exc:
        raise BufferError(
            f"__dlpack__: cannot export a {input.dtype} tensor of shape {tuple(input.shape)} on {input.device}: {exc}"
        ) from exc


@tensor_method("__dlpack_device__")
def _dlpack_device(input: Tensor) -> tuple[int, int]:
    """``(DLDeviceType, device id)`` of this tensor's memory."""
    return input._data.__dlpack_device__()


def from_dlpack(obj: Any) -> Tensor:
    """A Tensor sharing memory with ``obj``, any object with ``__dlpack__`` and ``__dlpack_device__``.

    No copy is made. A tensor of another device type than cpu/cuda raises DeviceError.
    """
    if isinstance(obj, Tensor):
        return obj
    if not hasattr(obj, "__dlpack__") or not hasattr(obj, "__dlpack_device__"):
        raise TypeError(f"from_dlpack: {type(obj).__name__} does not implement __dlpack__ and __dlpack_device__")
    device_type, device_id = obj.__dlpack_device__()
    device_type = int(device_type)
    if device_type == _DL_CPU or device_type == _DL_CUDA_HOST:
        device = Device("cpu")
    elif device_type in (_DL_CUDA, _DL_CUDA_MANAGED):
        device = Device("cuda", int(device_id))
    else:
        raise DeviceError(f"from_dlpack: DLPack device type {device_type} (id {device_id}) has no axon device")
    try:
        array = device.backend.xp.from_dlpack(obj)
    except (BufferError, TypeError, RuntimeError) as exc:
        dtype = getattr(obj, "dtype", "?")
        raise DTypeError(
            f"from_dlpack: cannot import {type(obj).__name__} of dtype {dtype} on {device}: {exc}"
        ) from exc
    as_dtype(array.dtype)
    return wrap(array, device)

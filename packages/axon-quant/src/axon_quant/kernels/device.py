"""quant_matmul on a GPU backend: axon-core's ``quant_matmul`` CUDA kernel family, launched through
the device's backend (``cuda`` on a GPU, ``cuda-sim`` running the same CUDA C on the CPU).

The weight's block bytes go to the device once (:func:`to_device`); each call then launches one
kernel: ``quant_matvec_F`` for a single activation row, ``quant_matmul_F`` (a tile of activation
rows per block) for more. Arrays are the backend's own (CuPy on ``cuda``, the simulator's NumPy
arrays on ``cuda-sim``); nothing falls back to the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_core import Device

from ..errors import QuantError
from ..tensor import QuantTensor

__all__ = ["DEVICE_FORMATS", "device_quant_matmul", "to_device"]

#: Formats with CUDA kernels (axon_core.kernels.quant_matmul.QUANT_FORMATS).
DEVICE_FORMATS: tuple[str, ...] = (
    "q4_0",
    "q4_1",
    "q5_0",
    "q5_1",
    "q8_0",
    "q2_k",
    "q3_k",
    "q4_k",
    "q5_k",
    "q6_k",
    "q8_k",
    "tq1_0",
    "tq2_0",
)
_INT32_MAX = 2**31 - 1


def _gpu_backend(device: "str | Device") -> Any:
    device = Device(device)
    if device.type == "cpu":
        raise QuantError("device_quant_matmul: device is cpu; call quant_matmul without device= for the CPU kernels")
    return device.backend


def to_device(w: QuantTensor, device: "str | Device") -> QuantTensor:
    """``w`` with its raw bytes copied to ``device`` (``"cuda"``, ``"cuda:1"``, ``"cuda-sim"``)."""
    if not isinstance(w, QuantTensor):
        raise QuantError(f"to_device: w must be a QuantTensor, got {type(w).__name__}")
    return QuantTensor(_gpu_backend(device).from_numpy(np.ascontiguousarray(w.raw)), w.ggml_type, w.shape)


def device_quant_matmul(
    x: Any, w: QuantTensor, out: Any | None = None, *, device: "str | Device", stream: Any = None
) -> Any:
    """``x @ dequantize(w).T`` on ``device``, from ``w``'s block bytes.

    ``x`` float32 ``[n, k]`` (or ``[k]``) and ``w`` (see :func:`to_device`) live on ``device``;
    returns float32 ``[n, m]`` (or ``[m]``) there, written into ``out`` when given. ``w`` is a
    2-d QuantTensor in one of :data:`DEVICE_FORMATS`. The kernel decodes each weight to float32
    and sums products with fused multiply-adds, per lane then across the warp; it is queued on
    ``stream`` (the backend's ``stream()``; None: the default stream). Raises QuantError on an
    argument of the wrong type, dtype, shape or layout.
    """
    from axon_core.kernels import REGISTRY
    from axon_core.kernels.quant_matmul import QM_ROWS, QM_TILE

    backend = _gpu_backend(device)
    array = backend.xp.ndarray
    if not isinstance(w, QuantTensor) or len(w.shape) != 2:
        raise QuantError(
            f"device_quant_matmul: w must be a 2-d QuantTensor, got {type(w).__name__} {list(getattr(w, 'shape', ()))}"
        )
    name = w.ggml_type.name
    m, k = w.shape
    if name not in DEVICE_FORMATS:
        raise QuantError(
            f"device_quant_matmul: no CUDA kernel for {name} (w [{m}, {k}]); formats: {', '.join(DEVICE_FORMATS)}"
        )
    if not isinstance(w.raw, array) or not w.raw.flags.c_contiguous:
        raise QuantError(
            f"device_quant_matmul: {name} w [{m}, {k}] needs contiguous raw bytes on {device} "
            f"(see to_device), got {type(w.raw).__name__}"
        )
    if not isinstance(x, array) or x.dtype != np.float32 or not x.flags.c_contiguous:
        raise QuantError(
            f"device_quant_matmul: x must be a contiguous float32 array on {device}, got "
            f"{type(x).__name__} {getattr(x, 'dtype', '')}"
        )
    if x.ndim not in (1, 2) or x.shape[-1] != k:
        raise QuantError(
            f"device_quant_matmul: x of shape {list(x.shape)} does not match {name} w of shape "
            f"[{m}, {k}]: expected [n, {k}] or [{k}]"
        )
    n = x.shape[0] if x.ndim == 2 else 1
    expected = (n, m) if x.ndim == 2 else (m,)
    if max(n, m, k, w.raw.size) > _INT32_MAX:
        raise QuantError(f"device_quant_matmul: x [{n}, {k}] @ w [{m}, {k}] has a dimension over 2**31 - 1")
    if out is None:
        out = backend.xp.empty(expected, dtype=np.float32)
    elif (
        not isinstance(out, array)
        or out.dtype != np.float32
        or tuple(out.shape) != expected
        or not out.flags.c_contiguous
    ):
        raise QuantError(
            f"device_quant_matmul: out must be a contiguous float32 {list(expected)} array on {device} "
            f"for x {list(x.shape)} @ w.T ({name} [{m}, {k}]), got {type(out).__name__} "
            f"{getattr(out, 'dtype', '')} {list(getattr(out, 'shape', ()))}"
        )
    if n and m:
        rows = (m + QM_ROWS - 1) // QM_ROWS
        kernel, grid = (
            (f"quant_matvec_{name}", (rows, 1))
            if n == 1
            else (f"quant_matmul_{name}", (rows, (n + QM_TILE - 1) // QM_TILE))
        )
        args = (w.raw, x, out, np.int32(m), np.int32(k), np.int32(n))
        backend.launch(REGISTRY["quant_matmul"], kernel, grid, (32, QM_ROWS), args, stream=stream)
    return out

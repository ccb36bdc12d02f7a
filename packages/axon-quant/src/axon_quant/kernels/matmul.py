"""``quant_matmul``: ``x @ dequantize(w).T`` straight from ggml block bytes, on the CPU.

The quantized formats run fused Numba kernels (``_blocks32``, ``_kquants``, ``_ternary``): each
weight block is decoded in registers and used at once, so nothing dequantized is stored. Prompt
batches of ``TILE_FROM`` activation rows or more instead dequantize 1 MiB tiles of weight rows
(``_tiles``) into a reused buffer for BLAS, which then reuses each weight ``n`` times (never the
whole matrix unless it fits one tile). f32, f16 and bf16 run NumPy's BLAS (``_dense``). BLAS
runs on one thread inside these calls (see ``_one_blas_thread``). Activations stay float32:
the kernels multiply the exact weight values by ``x`` in float32 and sum in float32 (llama.cpp
instead rounds ``x`` to 8-bit blocks first; we measured that scheme no faster here, see the
package README).

The decode loop calls this once per weight matrix per token, so a call allocates nothing when
``out`` is given: the prepared activation rows live in per-thread scratch buffers that grow to
the largest shape seen and are then reused.
"""

from __future__ import annotations

import importlib
import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import QuantError
from ..ggml_types import GGML_TYPES, GGMLType
from ..tensor import QuantTensor

__all__ = ["KERNEL_FORMATS", "default_threads", "quant_matmul"]

#: Environment variable that sets the default thread count of the kernels.
THREADS_ENV = "AXON_QUANT_THREADS"
#: Multiply-adds below which one more thread costs more than it saves (a parallel region's start
#: and join take ~5-10 us; 2**17 multiply-adds take ~15 us on one core).
_WORK_PER_THREAD = 1 << 17


@dataclass(frozen=True)
class _Kernel:
    """How to run one format: ``function`` of module ``module`` (under this package), the
    activation preparation it wants (``group``: high-nibble groups of that many elements are
    divided by 16, 0 for none; ``sum_size``: block sums over that many elements, 0 for none)
    and the inner trip count it is passed."""

    module: str
    function: str
    group: int
    sum_size: int
    inner: int


_KERNELS: dict[str, _Kernel] = {
    "q4_0": _Kernel("_blocks32", "q4_0", 32, 32, 16),
    "q4_1": _Kernel("_blocks32", "q4_1", 32, 32, 16),
    "q5_0": _Kernel("_blocks32", "q5_0", 32, 32, 16),
    "q5_1": _Kernel("_blocks32", "q5_1", 32, 32, 16),
    "q8_0": _Kernel("_blocks32", "q8_0", 0, 0, 32),
    "q2_k": _Kernel("_kquants", "q2_k", 0, 16, 16),
    "q3_k": _Kernel("_kquants", "q3_k", 0, 16, 16),
    "q4_k": _Kernel("_kquants", "q4_k", 64, 32, 32),
    "q5_k": _Kernel("_kquants", "q5_k", 64, 32, 32),
    "q6_k": _Kernel("_kquants", "q6_k", 128, 16, 16),
    "q8_k": _Kernel("_kquants", "q8_k", 0, 0, 256),
    "tq1_0": _Kernel("_ternary", "tq1_0", 0, 256, 32),
    "tq2_0": _Kernel("_ternary", "tq2_0", 0, 256, 32),
}
_DENSE = ("f32", "f16", "bf16")

GGML_BLOCK = {name: GGML_TYPES[name].block_size for name in _KERNELS}

#: Every ggml type ``quant_matmul`` takes.
KERNEL_FORMATS: tuple[str, ...] = (*_KERNELS, *_DENSE)

#: Activation rows from which a call dequantizes tiles of weight rows and runs BLAS instead of
#: the fused kernel (which decodes every block once per activation row).
TILE_FROM = 8

_compiled: dict[str, Any] = {}
_local = threading.local()
_blas: Any = None


def default_threads() -> int:
    """Threads a call uses when ``threads`` is not given: ``$AXON_QUANT_THREADS``, else the CPUs
    this process may run on (``os.sched_getaffinity``)."""
    text = os.environ.get(THREADS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise QuantError(f"{THREADS_ENV}={text!r}: expected a positive integer")
        return int(text)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _function(name: str) -> Any:
    function = _compiled.get(name)
    if function is None:
        spec = _KERNELS[name]
        function = getattr(importlib.import_module(f".{spec.module}", __package__), spec.function)
        _compiled[name] = function
    return function


def _scratch(slot: str, size: int) -> np.ndarray:
    """A float32 buffer of at least ``size`` values, this thread's own, reused across calls."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buffer = buffers.get(slot)
    if buffer is None or buffer.size < size:
        buffer = buffers[slot] = np.empty(max(size, 1), dtype=np.float32)
    return buffer


def _one_blas_thread() -> Any:
    """A context in which NumPy's BLAS runs on one thread. OpenBLAS's own threads fare badly on a
    shared machine: a [16, 576] @ [576, 1536] sgemm took 36 ms on its 2 threads and 0.54 ms on one
    here, under other work (threadpoolctl's controller switches it in ~12 us)."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def _tiled(name: str, x2: np.ndarray, raw: np.ndarray, k: int, out2: np.ndarray, threads: int) -> None:
    """``out2 = x2 @ w.T`` by tiles: a tile of ``w``'s rows dequantized to float32 (``_tiles``, on
    ``threads`` threads) into a reused buffer, then one sgemm into a reused ``[n, rows]`` buffer
    copied into ``out2``. For prompt batches (``n >= TILE_FROM``)."""
    from ._dense import TILE_VALUES
    from ._numba import F16_TO_F32
    from ._tiles import TILES

    kernel, inner = TILES[name]
    n, m = out2.shape
    rows = max(1, TILE_VALUES // k)
    tile = _scratch("tile", rows * k)
    part = _scratch("part", n * rows)
    flat_raw = raw.reshape(-1)
    codes = flat_raw.view(np.int8)
    blocks = k // GGML_BLOCK[name]
    set_kernel_threads(threads)
    with _one_blas_thread():
        for first in range(0, m, rows):
            count = min(rows, m - first)
            kernel(flat_raw, codes, tile, first, count, blocks, F16_TO_F32, inner)
            product = part[: n * count].reshape(n, count)
            np.matmul(x2, tile[: count * k].reshape(count, k).T, out=product)
            out2[:, first : first + count] = product


def set_kernel_threads(count: int) -> None:
    """Numba's thread count for this thread (``numba.set_num_threads`` is per thread); the count
    last set is remembered, because asking Numba costs a microsecond per call."""
    if getattr(_local, "threads", None) == count:
        return
    import numba

    capped = max(1, min(count, numba.config.NUMBA_NUM_THREADS))
    if numba.get_num_threads() != capped:
        numba.set_num_threads(capped)
    _local.threads = count


def _check(x: Any, w: Any, out: Any) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """``(x2 [n, k], out2 [n, m] or None, n, m, k)`` after checking every argument; QuantError if any is wrong."""
    if not isinstance(w, QuantTensor):
        raise QuantError(f"quant_matmul: w must be a QuantTensor, got {type(w).__name__}")
    kind: GGMLType = w.ggml_type
    if len(w.shape) != 2:
        raise QuantError(f"quant_matmul: w must be 2-d [m, k], got {kind.name} of shape {list(w.shape)}")
    m, k = w.shape
    if kind.name not in _KERNELS and kind.name not in _DENSE:
        raise QuantError(
            f"quant_matmul: no kernel for {kind.name} (w of shape {list(w.shape)}); "
            f"formats: {', '.join(KERNEL_FORMATS)}"
        )
    if not w.raw.flags.c_contiguous:
        raise QuantError(
            f"quant_matmul: {kind.name} w [{m}, {k}] has non-contiguous raw bytes "
            f"(strides {w.raw.strides}); pass np.ascontiguousarray(raw)"
        )
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        raise QuantError(
            f"quant_matmul: x must be a float32 ndarray [n, {k}], got "
            f"{getattr(x, 'dtype', type(x).__name__)} {list(getattr(x, 'shape', ()))}"
        )
    if x.ndim not in (1, 2) or x.shape[-1] != k:
        raise QuantError(
            f"quant_matmul: x of shape {list(x.shape)} does not match {kind.name} w of shape "
            f"[{m}, {k}]: expected [n, {k}] or [{k}]"
        )
    x2 = np.ascontiguousarray(x.reshape(-1, k))
    n = x2.shape[0]
    expected = (n, m) if x.ndim == 2 else (m,)
    if out is not None:
        if not isinstance(out, np.ndarray) or out.dtype != np.float32 or out.shape != expected:
            raise QuantError(
                f"quant_matmul: out must be float32 {list(expected)} for x {list(x.shape)} @ w.T "
                f"({kind.name} [{m}, {k}]), got {getattr(out, 'dtype', type(out).__name__)} "
                f"{list(getattr(out, 'shape', ()))}"
            )
        if not out.flags.c_contiguous or not out.flags.writeable:
            raise QuantError(f"quant_matmul: out {list(out.shape)} must be C-contiguous and writeable")
        if np.may_share_memory(out, x) or np.may_share_memory(out, w.raw):
            raise QuantError(f"quant_matmul: out {list(out.shape)} overlaps x or w's bytes")
    return x2, out, n, m, k


def quant_matmul(
    x: np.ndarray, w: QuantTensor, out: np.ndarray | None = None, *, threads: int | None = None, device: Any = None
) -> np.ndarray:
    """``x @ dequantize(w).T`` without dequantizing ``w``.

    ``x`` float32 ``[n, k]`` (or ``[k]``), ``w`` a 2-d QuantTensor ``[m, k]`` in one of
    :data:`KERNEL_FORMATS`; returns float32 ``[n, m]`` (or ``[m]``), written into ``out`` when
    given (then nothing is allocated). ``threads`` (default :func:`default_threads`) caps the
    threads the Numba kernels split rows across; BLAS (f32/f16/bf16, and batches of
    ``TILE_FROM`` rows or more, through dequantized tiles) runs on one thread. Sums run in
    float32 in an order of the kernel's choosing (vector lanes), so results differ from a
    float64 reference by float32 rounding only. Raises
    QuantError on any argument of the wrong type, dtype, shape or layout.

    With ``device`` (``"cuda"``, ``"cuda-sim"``; not ``"cpu"``) the call is
    :func:`~axon_quant.kernels.device.device_quant_matmul`: ``x``, ``w``'s bytes and ``out``
    are that device's arrays and the CUDA kernel runs there.
    """
    if device is not None and str(device) != "cpu":
        from .device import device_quant_matmul

        return device_quant_matmul(x, w, out, device=device)
    x2, out, n, m, k = _check(x, w, out)
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise QuantError(f"quant_matmul: threads must be a positive int, got {threads!r}")
    result = out if out is not None else np.empty((n, m) if x.ndim == 2 else (m,), dtype=np.float32)
    out2 = result.reshape(n, m)
    if n == 0 or m == 0:
        return result
    name = w.ggml_type.name
    raw = w.raw.reshape(m, -1)
    if name in _DENSE:
        from ._dense import TILE_VALUES, dense_matmul

        with _one_blas_thread():
            dense_matmul(name, x2, raw, k, out2, _scratch("tile", max(TILE_VALUES, k)))
        return result
    spec = _KERNELS[name]
    wanted = threads if threads is not None else default_threads()
    used = max(1, min(wanted, m, n * m * k // _WORK_PER_THREAD))
    if n >= TILE_FROM:
        _tiled(name, x2, raw, k, out2, used)
        return result
    function = _function(name)
    from ._numba import F16_TO_F32
    from ._prepare import block_sums, scale_high_nibbles

    flat_x = x2.reshape(-1)
    xs = flat_x
    if spec.group:
        xs = _scratch("x", n * k)
        scale_high_nibbles(flat_x, xs, n * k, spec.group)
    sums = _scratch("sums", n * k // spec.sum_size if spec.sum_size else 1)
    if spec.sum_size:
        block_sums(flat_x, sums, n * k, spec.sum_size)
    set_kernel_threads(used)
    flat_raw = raw.reshape(-1)
    function(
        flat_raw,
        flat_raw.view(np.int8),
        xs,
        sums,
        out2.reshape(-1),
        m,
        n,
        k // w.ggml_type.block_size,
        F16_TO_F32,
        spec.inner,
        used,
    )
    return result

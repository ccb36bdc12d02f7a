"""``quantize`` / ``dequantize`` of whole tensors, with ``gguf.quants``' conventions: the last axis
holds whole blocks of values, or whole blocks of bytes.

``quantize(x [*lead, n], fmt) -> uint8 [*lead, n // block_size * type_size]`` and
``dequantize(raw [*lead, m], fmt) -> float32 [*lead, m // type_size * block_size]``. Unlike
``gguf.quants.quantize``, F32 and F16 also come back as bytes (``.view(np.float16)`` gives gguf's
array). The work goes through the table in :mod:`axon_quant.formats` a chunk of blocks at a time.
"""

from __future__ import annotations

import numpy as np

from .errors import QuantError
from .formats import BlockFormat, block_format
from .ggml_types import GGMLType
from .tensor import QuantTensor

__all__ = ["dequantize", "quantize", "quantize_tensor"]

# Values per call into the table: bounds the temporaries (a few float32 copies of a chunk, kept
# near cache size, which measured fastest) while keeping NumPy's per-call overhead small.
_CHUNK_VALUES = 1 << 18


def _values(x: np.ndarray, fmt: BlockFormat) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind == "f":
        return x
    if x.dtype.kind in "iu":
        return x.astype(np.float32)
    raise QuantError(
        f"{fmt.name}: cannot quantize an array of dtype {x.dtype} (shape {list(x.shape)}); give real numbers"
    )


def _check_values(shape: tuple[int, ...], chunk: np.ndarray, first_block: int, fmt: BlockFormat) -> None:
    """Refuse what ``fmt``'s ggml quantizer cannot take; ``chunk`` holds blocks ``first_block...`` of a
    tensor of ``shape`` (float32 ``[k, block_size]``)."""
    block = fmt.ggml.block_size
    if fmt.finite_only:
        finite = np.isfinite(chunk)
        if not finite.all():
            local = int(np.argmin(finite.reshape(-1)))
            where = np.unravel_index(first_block * block + local, shape)
            raise QuantError(
                f"{fmt.name}: tensor of shape {list(shape)} has a non-finite value {chunk.reshape(-1)[local]} "
                f"at index {list(map(int, where))} (after conversion to float32); ggml's {fmt.name} quantizer "
                "is undefined on inf/NaN"
            )
    if fmt.bad_blocks is not None:
        bad = fmt.bad_blocks(chunk)
        if bad.any():
            local = int(np.argmax(bad))
            where = np.unravel_index((first_block + local) * block, shape)
            raise QuantError(
                f"{fmt.name}: tensor of shape {list(shape)}: the block starting at index {list(map(int, where))} "
                f"spans min {chunk[local].min()} to max {chunk[local].max()}, a range that overflows float32; "
                "its scale would be infinite"
            )


def quantize(x: np.ndarray, fmt: str | int | GGMLType) -> np.ndarray:
    """Encode ``x`` (real numbers ``[*lead, n]``, n a whole number of ``fmt`` blocks) in ggml type ``fmt``.

    Returns uint8 ``[*lead, n // block_size * type_size]``, bit-exact with ggml's reference quantizer
    (``quantize_row_*_ref``) and gguf-py. Values go through float32 (F16 converts float64 directly, as
    gguf-py does). QuantError for a ragged final row, inf/NaN where the format cannot take them,
    Q4_1/Q5_1 blocks whose range overflows, an unknown format or one without a quantizer.
    """
    form = block_format(fmt)
    if form.quantize_blocks is None:
        raise QuantError(f"{form.name}: axon-quant can dequantize this format but has no quantizer for it")
    x = _values(x, form)
    if x.ndim == 0:
        raise QuantError(f"{form.name}: cannot quantize a 0-d array; give at least one axis of values")
    block, size = form.ggml.block_size, form.ggml.type_size
    n = x.shape[-1]
    if n % block:
        raise QuantError(
            f"{form.name}: ragged final row: tensor of shape {list(x.shape)} has rows of {n} values, "
            f"not a whole number of {block}-value blocks"
        )
    # Overflow and inf/NaN intermediates are part of the formats' float behaviour, reproduced rather
    # than warned about: a float64 beyond float32 becomes inf (then refused where the format needs
    # finite values), an f16 scale beyond 65504 is stored as inf, and the K-quant searches meet 0/0
    # on degenerate sub-blocks exactly where ggml's C code does.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if form.name not in ("f16", "f32"):
            x = x.astype(np.float32, copy=False)
        blocks = x.reshape(-1, block)
        out = np.empty((blocks.shape[0], size), dtype=np.uint8)
        step = max(1, _CHUNK_VALUES // block)
        for start in range(0, blocks.shape[0], step):
            chunk = blocks[start : start + step]
            _check_values(x.shape, chunk, start, form)
            out[start : start + step] = form.quantize_blocks(chunk)
    return out.reshape(*x.shape[:-1], n // block * size)


def dequantize(raw: np.ndarray, fmt: str | int | GGMLType) -> np.ndarray:
    """Decode ``raw`` (uint8 ``[*lead, m]``, m a whole number of ``fmt`` blocks of bytes) to float32
    ``[*lead, m // type_size * block_size]``, value for value as ggml's ``dequantize_row_*``.

    F32 also takes a float32 array and F16 a float16 one (how GGUFReader hands those tensors out),
    returned as float32 of the same shape. QuantError for any other dtype, a byte row that is not a
    whole number of blocks, or an unknown format.
    """
    form = block_format(fmt)
    raw = np.asarray(raw)
    native = {"f32": np.float32, "f16": np.float16}.get(form.name)
    if native is not None and raw.dtype == native:
        return raw.astype(np.float32)
    if raw.dtype != np.uint8:
        raise QuantError(f"{form.name}: dequantize takes uint8 bytes, got {raw.dtype} of shape {list(raw.shape)}")
    if raw.ndim == 0:
        raise QuantError(f"{form.name}: cannot dequantize a 0-d array; give at least one axis of bytes")
    block, size = form.ggml.block_size, form.ggml.type_size
    m = raw.shape[-1]
    if m % size:
        raise QuantError(
            f"{form.name}: rows of {m} bytes (array of shape {list(raw.shape)}) are not a whole "
            f"number of {size}-byte blocks"
        )
    blocks = raw.reshape(-1, size)
    out = np.empty((blocks.shape[0], block), dtype=np.float32)
    step = max(1, _CHUNK_VALUES // block)
    with np.errstate(invalid="ignore", over="ignore"):  # inf scales decode to inf/NaN, as in ggml
        for start in range(0, blocks.shape[0], step):
            out[start : start + step] = form.dequantize_blocks(blocks[start : start + step])
    return out.reshape(*raw.shape[:-1], m // size * block)


def quantize_tensor(x: np.ndarray, fmt: str | int | GGMLType) -> QuantTensor:
    """:func:`quantize` wrapped as a :class:`QuantTensor` of ``x``'s shape."""
    raw = quantize(x, fmt)
    return QuantTensor(raw, block_format(fmt).ggml, np.shape(x))

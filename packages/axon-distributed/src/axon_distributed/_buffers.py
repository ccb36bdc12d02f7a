"""From an axon Tensor (or a Variable's data) to the NumPy buffer MPI reads and writes, and back.

A contiguous CPU tensor is handed to MPI as its own memory: no copy. A non-contiguous view, a
tensor on a CUDA device (the MPI backend stages through host memory) and a dtype MPI cannot
reduce natively (float16 and bfloat16 reduce in float32) go through a contiguous scratch array that
is copied back into the tensor's memory after the operation, so every collective is in place on the
caller's tensor, views included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from axon_autograd import Variable
from axon_tensor import Tensor

__all__ = ["DTYPE_CODES", "Staged", "as_tensor", "reduce_dtype"]

# Codes of the dtypes in a collective's header; the position is the code.
_DTYPE_NAMES = (
    "float32", "float64", "float16", "bfloat16", "complex64", "complex128",
    "int8", "int16", "int32", "int64", "uint8", "bool",
)  # fmt: skip
DTYPE_CODES = {name: code for code, name in enumerate(_DTYPE_NAMES)}
DTYPE_NAMES = dict(enumerate(_DTYPE_NAMES))

# Dtypes MPI has no (portable) reduction for: reduce in float32 and round back once.
_WIDEN = {"float16": np.float32, "bfloat16": np.float32}


def as_tensor(value: Any, what: str) -> Tensor:
    """The Tensor a collective works on: ``value`` itself, or a Variable's ``.data`` (shared, not copied)."""
    if isinstance(value, Variable):
        return value.data
    if isinstance(value, Tensor):
        return value
    raise TypeError(f"{what}: expected an axon Tensor or Variable, got {type(value).__name__}")


def reduce_dtype(tensor: Tensor) -> "np.dtype | None":
    """The dtype a reduction runs in when it is not the tensor's own (None: its own)."""
    widened = _WIDEN.get(tensor.dtype.name)
    return None if widened is None else np.dtype(widened)


def dtype_kind(tensor: Tensor) -> str:
    """``"f"`` float, ``"c"`` complex, ``"i"`` integer, ``"b"`` bool: the key of ``reduce_op.MPI_OPS``."""
    kind = np.dtype(tensor.array.dtype).kind
    return {"f": "f", "V": "f", "c": "c", "i": "i", "u": "i", "b": "b"}.get(kind, kind)


class Staged:
    """A contiguous NumPy array ``buf`` holding ``tensor``'s values (as ``dtype`` when given).

    ``buf`` is the tensor's own memory when it can be (a contiguous CPU tensor in its own dtype);
    otherwise a scratch copy (``read=False`` skips filling it), and :meth:`commit` writes it back.
    ``raw`` is ``buf`` as bytes (``uint8``) for operations that only move data, so any dtype
    (bfloat16 included) travels bit for bit.
    """

    __slots__ = ("tensor", "buf", "shared", "host")

    def __init__(self, tensor: Tensor, *, read: bool = True, dtype: "np.dtype | None" = None) -> None:
        self.tensor = tensor
        array = tensor.array
        self.host = isinstance(array, np.ndarray)
        if self.host and array.flags.c_contiguous and (dtype is None or array.dtype == dtype):
            self.buf, self.shared = array, True
            return
        self.shared = False
        if read:
            host = array if self.host else tensor.backend.to_numpy(array)
            self.buf = np.ascontiguousarray(host, dtype=dtype)
        else:
            self.buf = np.empty(array.shape, dtype=dtype or array.dtype)

    @property
    def raw(self) -> np.ndarray:
        return self.buf.reshape(-1).view(np.uint8)

    def commit(self) -> None:
        """Copy ``buf`` back into the tensor's memory (nothing to do when ``buf`` is that memory)."""
        if self.shared:
            return
        copy_into(self.tensor, self.buf)


def copy_into(tensor: Tensor, values: np.ndarray) -> None:
    """Write host ``values`` (same shape) into ``tensor``'s memory, casting to its dtype, in place."""
    array = tensor.array
    if isinstance(array, np.ndarray):
        np.copyto(array, values, casting="unsafe")
    else:
        array[...] = tensor.backend.from_numpy(np.ascontiguousarray(values, dtype=array.dtype))

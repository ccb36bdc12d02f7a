"""The idx format (LeCun's MNIST files): ``00 00 <type> <ndim>``, ``ndim`` big-endian int32 sizes, data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DatasetFormatError
from ._files import read_bytes

__all__ = ["read_idx"]

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an idx file (``.gz`` files are decompressed), in native byte order."""
    path = Path(path)
    data = read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise DatasetFormatError(f"{path}: not an idx file (bad magic {data[:4].hex() or 'empty'})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetFormatError(f"{path}: idx header truncated ({len(data)} bytes for {ndim} dimensions)")
    shape = tuple(int(s) for s in np.frombuffer(data, ">i4", ndim, 4))
    dtype = np.dtype(_TYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DatasetFormatError(f"{path}: {len(data)} bytes, but shape {shape} of {dtype} needs {expected}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))

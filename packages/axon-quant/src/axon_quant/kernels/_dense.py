"""f32, f16 and bf16 weights: NumPy's BLAS (``sgemm``/``sgemv``), which beats a hand-written loop.

f32 rows are used in place. f16 and bf16 rows are converted to float32 a tile at a time into a
reused scratch buffer (NumPy's vectorised casts; bf16 is the top half of a float32) and each
tile goes to BLAS, so no float32 copy of the whole matrix is ever made.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TILE_VALUES", "dense_matmul"]

#: float32 values per converted tile (1 MiB: fewer BLAS calls beat an L2-sized tile; measured
#: 1.3-1.5x over 256 KiB tiles for q4_1 prompt batches of 8-16 rows here).
TILE_VALUES = 1 << 18


def dense_matmul(name: str, x: np.ndarray, raw: np.ndarray, k: int, out: np.ndarray, scratch: np.ndarray) -> None:
    """``out [n, m] = x [n, k] @ w.T`` for ``w`` stored as ``raw`` uint8 ``[m, k * itemsize]`` in
    ``name`` (``"f32"``, ``"f16"``, ``"bf16"``); ``scratch`` float32 of at least ``TILE_VALUES``
    (or ``k``) values."""
    if name == "f32":
        np.matmul(x, raw.view(np.float32).T, out=out)
        return
    m = raw.shape[0]
    rows = max(1, scratch.size // k)
    halves = raw.view(np.float16 if name == "f16" else np.uint16)
    for first in range(0, m, rows):
        last = min(m, first + rows)
        tile = scratch[: (last - first) * k].reshape(last - first, k)
        if name == "f16":
            np.copyto(tile, halves[first:last], casting="safe")
        else:
            np.left_shift(halves[first:last], 16, out=tile.view(np.uint32), dtype=np.uint32)
        np.matmul(x, tile.T, out=out[:, first:last])

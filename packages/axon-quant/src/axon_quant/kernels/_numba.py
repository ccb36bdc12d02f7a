"""What every Numba kernel here shares: the compile flags, the f16 table and the thread count.

Importing this module imports Numba (~0.3 s); :mod:`.matmul` imports it at the first call of a
quantized format, so ``import axon_quant`` does not pay for it.

The kernels are written so LLVM vectorises them: arrays are passed flat and indexed with
unsigned offsets (a signed index makes Numba test for wrap-around on every access), a block's
inner trip count is passed in as an argument rather than written as a literal (with a literal,
LLVM unrolls the loop fully before the loop vectoriser runs, and the SLP vectoriser that sees
the unrolled body loads element by element: 3-4x slower), and sums run with ``reassoc`` so the
loop vectoriser may split them into vector lanes. ``contract`` lets it fuse multiply-adds. No
other fast-math flag is on: NaN and infinity propagate as IEEE says.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["F16_TO_F32", "FASTMATH", "kernel"]

#: The only fast-math flags the kernels use: reassociate sums, fuse multiply-adds.
FASTMATH = frozenset({"reassoc", "contract"})

#: float32 value of every float16 bit pattern, indexed by the pattern (256 KiB; ggml keeps the same
#: table, ``ggml_table_f32_f16``, where the CPU has no half-precision conversion). Numba has no
#: float16 type, and one lookup per block costs less than decoding the bits.
F16_TO_F32 = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)


def kernel(function):
    """``function`` compiled as a threaded kernel: ``prange`` loops split across Numba's threads,
    the GIL released, machine code cached on disk."""
    return njit(cache=True, parallel=True, nogil=True, fastmath=set(FASTMATH))(function)

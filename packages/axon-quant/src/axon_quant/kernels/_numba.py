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

import os

# Numba's OpenMP threads spin for ~300k iterations after each parallel region by default. On a
# machine whose cores other processes share, a spinning thread holds a core the other thread of
# the next region needs: SmolLM2's 211 matvecs per token took 10x longer with two spinning
# threads than with one thread under load. Passive threads sleep at once (a futex wake costs
# ~10 us per region). libgomp reads this when Numba first starts its threads; a value the user
# set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

__all__ = ["F16_TO_F32", "FASTMATH", "LANE", "field32", "float_from_bits", "kernel", "trit32"]

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


#: ``LANE[e] == e`` for ``e < 256``: a kernel shifts by ``LANE[j]`` rather than by ``j`` so the
#: vectorised loop loads its per-lane shift counts as one vector instead of building them lane by lane.
LANE = np.arange(256, dtype=np.int32)


def _to_i32(context, builder, value):
    i32 = context.get_value_type(types.int32)
    if value.type.width > 32:
        return builder.trunc(value, i32)
    return builder.zext(value, i32) if value.type.width < 32 else value


@intrinsic
def field32(typingctx, word, shift, mask):
    """``(word >> shift) & mask`` on ``word``'s low 32 bits, as int32, computed in 32-bit lanes.

    Numba widens every integer operation to 64 bits, and vectorised shifts in 64-bit lanes are
    2-3x slower on AVX2 than in 32-bit ones; this is plain LLVM IR (``lshr``/``and`` on i32), so
    it stays portable.
    """
    if not all(isinstance(arg, types.Integer) for arg in (word, shift, mask)):
        return None

    def codegen(context, builder, signature, args):
        word32, shift32, mask32 = (_to_i32(context, builder, value) for value in args)
        return builder.and_(builder.lshr(word32, shift32), mask32)

    return types.int32(word, shift, mask), codegen


@intrinsic
def trit32(typingctx, byte, power):
    """``((byte * power) mod 256) * 3 >> 8``, as int32 in 32-bit lanes: the base-3 digit of a tq1_0
    byte that ``power`` (``3**i``) moves to the top (ggml's ``(q * 3) >> 8`` on a ``uint8`` product)."""
    if not isinstance(byte, types.Integer) or not isinstance(power, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        byte32, power32 = (_to_i32(context, builder, value) for value in args)
        moved = builder.and_(builder.mul(byte32, power32), context.get_constant(types.int32, 255))
        three = builder.mul(moved, context.get_constant(types.int32, 3))
        return builder.lshr(three, context.get_constant(types.int32, 8))

    return types.int32(byte, power), codegen


@intrinsic
def float_from_bits(typingctx, word):
    """The float32 whose bits are ``word``'s low 32 bits (q8_k stores its scale as a float32)."""
    if not isinstance(word, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(_to_i32(context, builder, args[0]), context.get_value_type(types.float32))

    return types.float32(word), codegen

"""Strided gather into a contiguous array, for any dtype (by element size).

``strided_copy_B(src, dst, meta, ndim, total)`` with ``B`` in 1/2/4/8 bytes per element and
``meta`` an int64 device array ``[shape..., strides...]`` (strides in elements, possibly 0);
``src`` points at the view's first element. One thread per output element.
"""

from __future__ import annotations

from .source import KernelSource, instantiate

__all__ = ["STRIDED_COPY", "COPY_TYPES"]

#: Element size in bytes → the unsigned C type that moves it.
COPY_TYPES = {"1": "unsigned char", "2": "unsigned short", "4": "unsigned int", "8": "unsigned long long"}

_BODY = r"""
extern "C" __global__ void strided_copy_$S(const $T* __restrict__ src, $T* __restrict__ dst,
                                           const long long* __restrict__ meta, int ndim, long long total) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        long long rest = i, offset = 0;
        for (int d = ndim - 1; d >= 0; --d) {
            long long size = meta[d];
            long long coord = rest % size;
            rest /= size;
            offset += coord * meta[ndim + d];
        }
        dst[i] = src[offset];
    }
}
"""

STRIDED_COPY = KernelSource(
    family="strided_copy",
    source=instantiate(_BODY, COPY_TYPES),
    kernels=tuple(f"strided_copy_{size}" for size in COPY_TYPES),
)

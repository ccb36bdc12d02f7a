"""Our CUDA kernels: plain ``extern "C" __global__`` CUDA C held in Python strings, one module per family.

Each family is a :class:`KernelSource`; :data:`REGISTRY` maps family names to them. Sources are
compiled by NVRTC at first use (:meth:`KernelSource.compile`) and cached on disk; the
toolchain (NVRTC, ptxas, the cache, the check) is :mod:`.toolchain`.
``python -m axon_core.kernels check --arch sm_80,sm_90,sm_120`` compiles and assembles every
family without a GPU.
"""

from __future__ import annotations

from .activations import ACTIVATIONS
from .adam import ADAM
from .attention import ATTENTION
from .cross_entropy import CROSS_ENTROPY
from .decoder import DECODER
from .embedding import EMBEDDING
from .im2col import IM2COL
from .norms import NORMS
from .pooling import POOLING
from .quant_matmul import QUANT_MATMUL
from .rnn import RNN
from .selective_scan import SELECTIVE_SCAN
from .softmax import SOFTMAX
from .source import FLOAT_TYPES, KernelSource
from .strided_copy import STRIDED_COPY
from .toolchain import KernelCache, cache_dir, default_cache

__all__ = ["FLOAT_TYPES", "KernelCache", "KernelSource", "REGISTRY", "cache_dir", "default_cache", "kernel_suffix"]

#: Every kernel family by name.
REGISTRY: dict[str, KernelSource] = {
    source.family: source
    for source in (
        ACTIVATIONS,
        NORMS,
        SOFTMAX,
        CROSS_ENTROPY,
        EMBEDDING,
        ADAM,
        STRIDED_COPY,
        IM2COL,
        POOLING,
        RNN,
        ATTENTION,
        QUANT_MATMUL,
        DECODER,
        SELECTIVE_SCAN,
    )
}

_SUFFIXES = {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}


def kernel_suffix(dtype: object) -> str | None:
    """The kernel-name suffix for arrays of ``dtype`` (``"f32"``...), or None when no kernel takes it."""
    return _SUFFIXES.get(getattr(dtype, "name", str(dtype)))

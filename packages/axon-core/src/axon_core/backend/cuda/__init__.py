"""The CUDA backend: CuPy arrays, cuBLAS for matmul, our NVRTC-compiled kernels for fused ops.

One mixin per kernel family (``cuda/<family>.py``, as ``kernels/<family>.py`` and
``reference/<family>.py``) validates its input with the reference's checks, builds its launch
configuration and argument tuple and calls :meth:`CudaRuntime.launch`. Dtypes without a kernel
(float64, integers) and head dims over ``MAX_HEAD_DIM`` run the reference implementation with
CuPy (still on the GPU): each override falls back to ``super()``.
"""

from __future__ import annotations

from ..protocol import Backend
from .activations import ActivationsKernels
from .adam import AdamKernels
from .attention import AttentionKernels
from .cross_entropy import CrossEntropyKernels
from .embedding import EmbeddingKernels
from .im2col import Im2colKernels
from .norms import NormsKernels
from .pooling import PoolingKernels
from .rnn import RnnKernels
from .runtime import CudaRuntime
from .softmax import SoftmaxKernels
from .strided_copy import StridedCopyKernels

__all__ = ["CudaBackend"]


class CudaBackend(
    ActivationsKernels,
    SoftmaxKernels,
    NormsKernels,
    CrossEntropyKernels,
    EmbeddingKernels,
    AdamKernels,
    StridedCopyKernels,
    Im2colKernels,
    PoolingKernels,
    RnnKernels,
    AttentionKernels,
    CudaRuntime,
    Backend,
):
    """The backend of ``cuda:N`` devices (and, through ``CudaSimBackend``, of ``cuda-sim``)."""

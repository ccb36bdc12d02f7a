"""Reference implementations of the fused ops, one module per family (as ``kernels/<family>.py``).

Each module holds one mixin of :class:`~axon_core.backend.Backend` written against ``self.xp``,
so the same code runs on NumPy and on CuPy; the CUDA backend overrides them with its kernels.
"""

from __future__ import annotations

from .activations import ActivationsReference
from .attention import AttentionReference
from .cross_entropy import CrossEntropyReference
from .embedding import EmbeddingReference
from .im2col import Im2colReference
from .norms import NormsReference
from .optim import OptimReference
from .pooling import PoolingReference
from .rnn import RnnReference
from .softmax import SoftmaxReference
from .strided_copy import StridedCopyReference

__all__ = [
    "ActivationsReference",
    "AttentionReference",
    "CrossEntropyReference",
    "EmbeddingReference",
    "Im2colReference",
    "NormsReference",
    "OptimReference",
    "PoolingReference",
    "RnnReference",
    "SoftmaxReference",
    "StridedCopyReference",
]

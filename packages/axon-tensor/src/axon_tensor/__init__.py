"""axon-tensor: the Tensor and every array op.

Importing this package attaches the ops of ``axon_tensor/ops`` to :class:`Tensor`.
"""

from __future__ import annotations

from axon_core import (
    Device,
    DType,
    bfloat16,
    bool_,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)

from .creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .ops.arithmetic import add, div, floor_divide, mul, neg, pow, remainder, sub, true_divide
from .ops.conversion import clone, contiguous, to
from .dlpack import from_dlpack
from .ops.indexing import (
    argwhere, gather, index_add, index_put, index_select, masked_fill, masked_select, nonzero, scatter,
    scatter_add, take,
)
from .ops.joining import cat, concat, concatenate, hstack, stack, vstack
from .ops.shape import (
    chunk, expand, flatten, flip, movedim, narrow, permute, repeat_interleave, reshape, roll, select,
    split, squeeze, swapaxes, t, tile, transpose, tril, triu, unbind, unflatten, unsqueeze,
)
from .ops.sorting import ValuesIndices, argsort, kthvalue, sort, topk, unique
from .sparse import SparseCOOTensor, SparseCSRTensor, sparse_coo_tensor, sparse_csr_tensor, sparse_eye, sparse_mm
from .random import Generator, default_generator, initial_seed, manual_seed, seed
from .tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "Device", "DType", "Generator", "Tensor",
    "bfloat16", "bool_", "complex64", "complex128", "float16", "float32", "float64",
    "int8", "int16", "int32", "int64", "uint8",
    "add", "arange", "as_tensor", "clone", "contiguous", "default_generator", "div", "empty",
    "empty_like", "eye", "floor_divide", "from_numpy", "full", "full_like", "initial_seed",
    "linspace", "manual_seed", "mul", "neg", "ones", "ones_like", "pow", "rand", "rand_like",
    "randint", "randn", "randn_like", "randperm", "remainder", "seed", "sub", "tensor", "to",
    "true_divide", "zeros", "zeros_like",
    "SparseCOOTensor", "SparseCSRTensor", "ValuesIndices", "argsort", "argwhere", "cat", "chunk", "concat",
    "concatenate", "expand", "flatten", "flip", "from_dlpack", "gather", "hstack", "index_add", "index_put",
    "index_select", "kthvalue", "masked_fill", "masked_select", "movedim", "narrow", "nonzero", "permute",
    "repeat_interleave", "reshape", "roll", "scatter", "scatter_add", "select", "sort", "sparse_coo_tensor",
    "sparse_csr_tensor", "sparse_eye", "sparse_mm", "split", "squeeze", "stack", "swapaxes", "t", "take",
    "tile", "topk", "transpose", "tril", "triu", "unbind", "unflatten", "unique", "unsqueeze", "vstack",
]

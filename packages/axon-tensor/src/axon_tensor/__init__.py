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
from .ops.sorting import argsort, kthvalue, sort, topk, unique
from .sparse import SparseCOOTensor, SparseCSRTensor, sparse_coo_tensor, sparse_csr_tensor, sparse_eye, sparse_mm
from .ops.activation import (
    celu, elu, gelu, hardsigmoid, hardswish, hardtanh, leaky_relu, log_softmax, mish, relu, relu6, selu, silu,
    softmax, softplus, softsign,
)
from .ops.arithmetic import (
    addcdiv, addcmul, atan2, copysign, divide, fmax, fmin, fmod, hypot, lerp, maximum, minimum, multiply, negative,
    subtract,
)
from .ops.comparison import (
    allclose, clamp, clip, eq, equal, ge, greater, greater_equal, gt, isclose, le, less, less_equal, lt, ne,
    not_equal, where,
)
from .ops.inplace import check_cast
from .ops.linalg import addmm, addmv, baddbmm, bmm, dot, einsum, ger, matmul, mm, mv, outer, tensordot, vdot
from .ops.logical import (
    bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or, bitwise_right_shift, bitwise_xor, logical_and,
    logical_not, logical_or, logical_xor,
)
from .ops.reduction import (
    ValuesIndices, aminmax, amax, amin, argmax, argmin, count_nonzero, cumprod, cumsum, logsumexp, mean, median,
    norm, prod, std, std_mean, var, var_mean,
)
from .ops.reduction import all, any, max, min, sum  # noqa: A004 (PyTorch's names, shadowing builtins here)
from .ops.unary import (
    abs, absolute, acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctanh, asin, asinh, atan, atanh, ceil,
    cos, cosh, erf, erfc, erfinv, exp, exp2, expm1, fix, floor, frac, isfinite, isinf, isnan, isneginf, isposinf, log,
    log1p, log2, log10, logit, nan_to_num, reciprocal, round, rsqrt, sigmoid, sign, signbit, sin, sinh, sqrt,
    square, tan, tanh, trunc,
)
from .random import Generator, default_generator, initial_seed, manual_seed, seed
from .tensor import Tensor
from .ops import _operators  # noqa: F401  (last: wraps the operators every op module attached)

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
    "SparseCOOTensor", "SparseCSRTensor", "argsort", "argwhere", "cat", "chunk", "concat",
    "concatenate", "expand", "flatten", "flip", "from_dlpack", "gather", "hstack", "index_add", "index_put",
    "index_select", "kthvalue", "masked_fill", "masked_select", "movedim", "narrow", "nonzero", "permute",
    "repeat_interleave", "reshape", "roll", "scatter", "scatter_add", "select", "sort", "sparse_coo_tensor",
    "sparse_csr_tensor", "sparse_eye", "sparse_mm", "split", "squeeze", "stack", "swapaxes", "t", "take",
    "tile", "topk", "transpose", "tril", "triu", "unbind", "unflatten", "unique", "unsqueeze", "vstack",
]

__all__ += [
    "ValuesIndices", "abs", "absolute", "acos", "acosh", "addcdiv", "addcmul", "addmm", "addmv", "all", "allclose",
    "amax", "amin", "aminmax", "any", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "argmax",
    "argmin", "asin", "asinh", "atan", "atan2", "atanh", "baddbmm", "bitwise_and", "bitwise_left_shift",
    "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "bmm", "ceil", "celu", "check_cast",
    "clamp", "clip", "copysign", "cos", "cosh", "count_nonzero", "cumprod", "cumsum", "divide", "dot", "einsum",
    "elu", "eq", "equal", "erf", "erfc", "erfinv", "exp", "exp2", "expm1", "fix", "floor", "fmax", "fmin", "fmod", "frac",
    "ge", "gelu", "ger", "greater", "greater_equal", "gt", "hardsigmoid", "hardswish", "hardtanh", "hypot",
    "isclose", "isfinite", "isinf", "isnan", "isneginf", "isposinf", "le", "leaky_relu", "lerp", "less",
    "less_equal", "log", "log10", "log1p", "log2", "log_softmax", "logical_and", "logical_not", "logical_or",
    "logical_xor", "logit", "logsumexp", "lt", "matmul", "max", "maximum", "mean", "median", "min", "minimum",
    "mish", "mm", "multiply", "mv", "nan_to_num", "ne", "negative", "norm", "not_equal", "outer", "prod",
    "reciprocal", "relu", "relu6", "round", "rsqrt", "selu", "sigmoid", "sign", "signbit", "silu", "sin", "sinh",
    "softmax", "softplus", "softsign", "sqrt", "square", "std", "std_mean", "subtract", "sum", "tan", "tanh",
    "tensordot", "trunc", "var", "var_mean", "vdot", "where",
]

"""axon-autograd: reverse-mode automatic differentiation over axon Tensors.

``Variable`` wraps a Tensor and records every op applied to it; ``backward()`` runs the
recorded graph in reverse. ``Function`` is how an op (ours or a user's) defines its backward.
"""

from __future__ import annotations

from . import functions
from .autocast import autocast, get_autocast_dtype, is_autocast_enabled
from .checkpoint import checkpoint
from .engine import backward, grad
from .function import Function, once_differentiable
from .functions import cat, einsum, stack, where
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .grad_scaler import GradScaler
from .gradcheck import gradcheck, gradgradcheck
from .graph import ComputationGraph, GraphSnapshot
from .node import AccumulateGrad, BackwardNode, RemovableHandle
from .variable import Variable, tensor_of

__version__ = "0.1.0"

__all__ = [
    "AccumulateGrad",
    "BackwardNode",
    "ComputationGraph",
    "Function",
    "GradScaler",
    "GraphSnapshot",
    "RemovableHandle",
    "Variable",
    "autocast",
    "backward",
    "cat",
    "checkpoint",
    "einsum",
    "enable_grad",
    "functions",
    "get_autocast_dtype",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_autocast_enabled",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "set_grad_enabled",
    "stack",
    "tensor_of",
    "where",
]

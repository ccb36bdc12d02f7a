"""``sparse_linear``: ``y = x Wᵀ + b`` with ``W`` a fixed-pattern CSR matrix whose stored values train.

Twice differentiable: under ``create_graph=True`` the gradients are those of :func:`_composite`
(the product entry by entry in Variable ops, never a dense ``[out, in]``) through
:func:`~._twice.graph_backward`, as PyTorch differentiates a linear layer twice.
"""

from __future__ import annotations

from typing import Any

from axon_autograd import Function, Variable
from axon_core import ShapeError
from axon_tensor import SparseCSRTensor, sparse_mm, zeros
from axon_tensor.tensor import wrap

from ._twice import graph_backward
from ._util import out_like, saved, tensor_of

__all__ = ["sparse_linear"]


def _composite(ctx: Any, x: Any, values: Any, bias: Any) -> Any:
    """``y[b, r] = Σ_e values[e] · x[b, col[e]]`` over the entries ``e`` of row ``r``, plus ``bias``."""
    crow, col, shape = ctx.pattern
    rows = out_like(SparseCSRTensor(crow, col, tensor_of(values), shape)._row_of_each_entry(), crow)
    flat = x.reshape(-1, shape[1])
    products = flat.index_select(1, col) * values
    y = Variable(zeros((flat.shape[0], shape[0]), dtype=x.dtype, device=x.device)).index_add(1, rows, products)
    y = y.reshape(*x.shape[:-1], shape[0])
    return y if bias is None else y + bias


class SparseLinearFunction(Function):
    """``x [*, in]``, ``values [nnz]`` of a CSR pattern ``(crow, col)`` of shape ``[out, in]``,
    ``bias [out]`` -> ``[*, out]``. Gradients: ``x``, the stored values only, ``bias``."""

    @staticmethod
    def forward(ctx, x, values, bias, crow, col, shape):
        data = x.array
        flat = data.reshape(-1, shape[1])
        weight = SparseCSRTensor(crow, col, values, shape)
        # [out, in] @ [in, batch] -> [out, batch]: the sparse-dense product.
        y = sparse_mm(weight, wrap(flat.T, x.device)).array.T
        if bias is not None:
            y = y + bias.array
        ctx.save_for_backward(x, values, bias)
        ctx.pattern, ctx.has_bias = (crow, col, shape), bias is not None
        return out_like(y.reshape(data.shape[:-1] + (shape[0],)), x)

    @staticmethod
    @graph_backward(_composite)
    def backward(ctx, grad):
        x, values, _ = saved(ctx)
        crow, col, shape = ctx.pattern
        needs = ctx.needs_input_grad
        g = grad.array.reshape(-1, shape[0])
        rows = SparseCSRTensor(crow, col, values, shape)._row_of_each_entry()
        grad_x = grad_values = grad_bias = None
        if needs[0]:
            transposed = SparseCSRTensor(crow, col, values, shape).to_sparse_coo().t()
            grad_x = out_like(sparse_mm(transposed, wrap(g.T, grad.device)).array.T.reshape(x.array.shape), grad)
        if needs[1]:
            flat = x.array.reshape(-1, shape[1])
            # dL/dv_e = Σ_batch g[b, row_e] · x[b, col_e]: only the stored entries, never a dense [out, in].
            grad_values = out_like(
                (g[:, rows] * flat[:, col.array]).sum(axis=0).astype(values.array.dtype, copy=False), grad
            )
        if needs[2] and ctx.has_bias:
            grad_bias = out_like(g.sum(axis=0), grad)
        return grad_x, grad_values, grad_bias, None, None, None


def sparse_linear(input: Any, weight: SparseCSRTensor, values: Any = None, bias: Any = None) -> Any:
    """``input [*, in] @ Wᵀ + bias [out]`` with ``W`` the CSR ``weight [out, in]``.

    ``values [nnz]`` (a Variable, e.g. a Parameter) replaces ``weight.values()`` so that the
    gradient reaches it; the pattern (``crow_indices``, ``col_indices``) is fixed.
    """
    if not isinstance(weight, SparseCSRTensor):
        raise TypeError(f"sparse_linear: weight must be a SparseCSRTensor, got {type(weight).__name__}")
    values = weight.values() if values is None else values
    shape = tuple(weight.shape)
    if len(input.shape) == 0 or input.shape[-1] != shape[1]:
        raise ShapeError(
            f"sparse_linear: input {tuple(input.shape)} does not match weight {shape} (expected [*, {shape[1]}])"
        )
    if tuple(values.shape) != (weight.nnz,):
        raise ShapeError(f"sparse_linear: values {tuple(values.shape)} must be [nnz] = ({weight.nnz},)")
    if bias is not None and tuple(bias.shape) != (shape[0],):
        raise ShapeError(f"sparse_linear: bias {tuple(bias.shape)} does not match weight {shape}")
    return SparseLinearFunction.apply(input, values, bias, weight.crow_indices(), weight.col_indices(), shape)

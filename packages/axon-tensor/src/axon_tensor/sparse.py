"""Sparse tensors: COO (any number of dims) and CSR (2-d), with scalar values per entry.

Both hold dense axon Tensors (indices int64, values) on one device, and every op works through
that device's array module, so they run on cpu, cuda and cuda-sim alike. Duplicate
coordinates are allowed in COO until :meth:`SparseCOOTensor.coalesce` sums them, as in PyTorch.
"""

from __future__ import annotations

from typing import Any, Sequence

from axon_core import DTypeError, ShapeError, as_dtype, default_device, get_default_dtype, promote_types
from axon_core import int64 as _int64

from .tensor import Tensor, check_same_device, tensor_method, wrap

__all__ = ["SparseCOOTensor", "SparseCSRTensor", "sparse_coo_tensor", "sparse_csr_tensor", "sparse_mm", "sparse_eye"]


def _as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    from .creation import as_tensor

    return as_tensor(data, dtype=dtype, device=device)


def _index_tensor(op: str, name: str, data: Any, device: Any) -> Tensor:
    t = _as_tensor(data, device=device)
    if t._data.dtype.kind not in "iu":
        raise DTypeError(f"{op}: {name} must be integers, got {t.dtype}")
    return t.to(dtype=_int64)


def _check_in_range(op: str, name: str, index: Any, size: int, dim: int) -> None:
    if index.size == 0:
        return
    low, high = int(index.min()), int(index.max())
    if low < 0 or high >= size:
        raise IndexError(
            f"{op}: {name} holds index {low if low < 0 else high}, out of range for dim {dim} of size {size}"
        )


class _SparseTensor:
    """What COO and CSR tensors share: the dense ``shape``, and ``values`` ``[nnz]`` whose dtype and
    device are the tensor's. Subclasses set ``_shape`` and ``_values``."""

    __slots__ = ()
    is_sparse = True
    _shape: tuple[int, ...]
    _values: Tensor

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    def size(self, dim: int | None = None) -> "tuple[int, ...] | int":
        return self._shape if dim is None else self._shape[dim]

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def dim(self) -> int:
        return len(self._shape)

    @property
    def dtype(self):
        return self._values.dtype

    @property
    def device(self):
        return self._values.device

    @property
    def nnz(self) -> int:
        """Number of stored entries (in COO, duplicates count until coalesced)."""
        return int(self._values._data.shape[0])

    def values(self) -> Tensor:
        """``[nnz]`` stored values."""
        return self._values

    def __matmul__(self, other: Tensor) -> Tensor:
        return sparse_mm(self, other)

    matmul = __matmul__


class SparseCOOTensor(_SparseTensor):
    """A sparse tensor in coordinate format.

    ``indices``: ``[ndim, nnz]`` int64 coordinates; ``values``: ``[nnz]``; ``shape``: the dense
    shape. Build one with :func:`sparse_coo_tensor` or ``dense.to_sparse()``.
    """

    __slots__ = ("_indices", "_values", "_shape", "_coalesced")
    layout = "sparse_coo"

    def __init__(self, indices: Tensor, values: Tensor, shape: Sequence[int], *, is_coalesced: bool = False) -> None:
        self._indices = indices
        self._values = values
        self._shape = tuple(int(s) for s in shape)
        self._coalesced = is_coalesced

    def indices(self) -> Tensor:
        """``[ndim, nnz]`` int64 coordinates."""
        return self._indices

    def is_coalesced(self) -> bool:
        return self._coalesced

    def coalesce(self) -> "SparseCOOTensor":
        """Indices sorted lexicographically with duplicates summed into one entry."""
        if self._coalesced:
            return self
        xp = self.device.backend.xp
        idx, vals = self._indices._data, self._values._data
        nnz = vals.shape[0]
        if nnz == 0:
            return SparseCOOTensor(self._indices, self._values, self._shape, is_coalesced=True)
        order = xp.lexsort(idx[::-1])
        idx, vals = idx[:, order], vals[order]
        starts = xp.empty(nnz, dtype=bool)
        starts[0] = True
        starts[1:] = (idx[:, 1:] != idx[:, :-1]).any(axis=0)
        group = xp.cumsum(starts) - 1
        summed = xp.zeros(int(group[-1]) + 1, dtype=vals.dtype)
        xp.add.at(summed, group, vals)
        device = self.device
        return SparseCOOTensor(wrap(idx[:, starts], device), wrap(summed, device), self._shape, is_coalesced=True)

    def to_dense(self) -> Tensor:
        """The dense ``shape`` tensor; duplicate coordinates add up."""
        xp = self.device.backend.xp
        out = xp.zeros(self._shape, dtype=self._values._data.dtype)
        if self.nnz:
            xp.add.at(out, tuple(self._indices._data), self._values._data)
        return wrap(out, self.device)

    def to_sparse_coo(self) -> "SparseCOOTensor":
        return self

    def to_sparse_csr(self) -> "SparseCSRTensor":
        """The same matrix in CSR format (2-d only); duplicates are summed."""
        if len(self._shape) != 2:
            raise ShapeError(f"to_sparse_csr: only 2-d tensors have a CSR form, got shape {self._shape}")
        coalesced = self.coalesce()
        xp = self.device.backend.xp
        rows = coalesced._indices._data[0]
        crow = xp.zeros(self._shape[0] + 1, dtype=_int64.np)
        crow[1:] = xp.cumsum(xp.bincount(rows, minlength=self._shape[0]))
        device = self.device
        cols = wrap(xp.ascontiguousarray(coalesced._indices._data[1]), device)
        return SparseCSRTensor(wrap(crow, device), cols, coalesced._values, self._shape)

    def t(self) -> "SparseCOOTensor":
        """Transpose of a 2-d sparse matrix (indices rows swapped; no values copied)."""
        if len(self._shape) != 2:
            raise ShapeError(f"t: expects a 2-d sparse tensor, got shape {self._shape}")
        swapped = wrap(self._indices._data[::-1].copy(), self.device)
        return SparseCOOTensor(swapped, self._values, self._shape[::-1])

    def __repr__(self) -> str:
        return (
            f"SparseCOOTensor(indices={self._indices.tolist()}, values={self._values.tolist()}, "
            f"shape={self._shape}, nnz={self.nnz}, dtype={self.dtype}, device='{self.device}')"
        )


class SparseCSRTensor(_SparseTensor):
    """A 2-d sparse matrix in compressed-row format.

    ``crow_indices``: ``[rows + 1]`` int64 offsets, row ``i``'s entries are
    ``crow[i]:crow[i+1]``; ``col_indices``: ``[nnz]`` int64; ``values``: ``[nnz]``.
    """

    __slots__ = ("_crow", "_col", "_values", "_shape")
    layout = "sparse_csr"

    def __init__(self, crow_indices: Tensor, col_indices: Tensor, values: Tensor, shape: Sequence[int]) -> None:
        self._crow = crow_indices
        self._col = col_indices
        self._values = values
        self._shape = tuple(int(s) for s in shape)

    def crow_indices(self) -> Tensor:
        """``[rows + 1]`` int64 row offsets."""
        return self._crow

    def col_indices(self) -> Tensor:
        """``[nnz]`` int64 column of each entry."""
        return self._col

    def _row_of_each_entry(self) -> Any:
        xp = self.device.backend.xp
        return xp.repeat(xp.arange(self._shape[0], dtype=_int64.np), xp.diff(self._crow._data))

    def to_sparse_coo(self) -> SparseCOOTensor:
        """The same matrix in COO format (rows ascending, as stored)."""
        xp = self.device.backend.xp
        indices = xp.stack([self._row_of_each_entry(), self._col._data])
        return SparseCOOTensor(wrap(indices, self.device), self._values, self._shape)

    def to_sparse_csr(self) -> "SparseCSRTensor":
        return self

    def to_dense(self) -> Tensor:
        """The dense ``[rows, cols]`` tensor; repeated columns in a row add up."""
        return self.to_sparse_coo().to_dense()

    def __repr__(self) -> str:
        return (
            f"SparseCSRTensor(crow_indices={self._crow.tolist()}, col_indices={self._col.tolist()}, "
            f"values={self._values.tolist()}, shape={self._shape}, nnz={self.nnz}, dtype={self.dtype}, "
            f"device='{self.device}')"
        )


def sparse_coo_tensor(
    indices: Any, values: Any, size: Sequence[int] | None = None, *, dtype: Any = None, device: Any = None
) -> SparseCOOTensor:
    """A COO tensor from ``indices`` ``[ndim, nnz]`` and ``values`` ``[nnz]``.

    ``size`` defaults to one past the largest index of each dim. Indices out of range for
    ``size`` raise IndexError; mismatched lengths raise ShapeError.
    """
    target = None if device is None else default_device(device)
    idx = _index_tensor("sparse_coo_tensor", "indices", indices, target)
    vals = _as_tensor(values, dtype=dtype, device=target if target is not None else idx.device)
    check_same_device("sparse_coo_tensor", idx, vals)
    if idx._data.ndim != 2:
        raise ShapeError(f"sparse_coo_tensor: indices must be 2-d [ndim, nnz], got shape {tuple(idx.shape)}")
    ndim, nnz = idx._data.shape
    if vals._data.ndim != 1 or vals._data.shape[0] != nnz:
        raise ShapeError(
            f"sparse_coo_tensor: values must be 1-d with nnz={nnz} entries to match indices {tuple(idx.shape)}, "
            f"got shape {tuple(vals.shape)}"
        )
    if size is None:
        if ndim == 0:
            raise ShapeError("sparse_coo_tensor: indices with 0 rows need an explicit size")
        shape = tuple(int(idx._data[d].max()) + 1 if nnz else 0 for d in range(ndim))
    else:
        shape = tuple(int(s) for s in size)
        if len(shape) != ndim:
            raise ShapeError(f"sparse_coo_tensor: size {shape} has {len(shape)} dims but indices have {ndim} rows")
        if any(s < 0 for s in shape):
            raise ShapeError(f"sparse_coo_tensor: negative size in {shape}")
    for d in range(ndim):
        _check_in_range("sparse_coo_tensor", "indices", idx._data[d], shape[d], d)
    return SparseCOOTensor(idx, vals, shape)


def sparse_csr_tensor(
    crow_indices: Any,
    col_indices: Any,
    values: Any,
    size: Sequence[int] | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
) -> SparseCSRTensor:
    """A CSR matrix; ``size`` defaults to ``(len(crow) - 1, max(col) + 1)``. Inputs are validated."""
    op = "sparse_csr_tensor"
    target = None if device is None else default_device(device)
    crow = _index_tensor(op, "crow_indices", crow_indices, target)
    col = _index_tensor(op, "col_indices", col_indices, crow.device)
    vals = _as_tensor(values, dtype=dtype, device=crow.device)
    check_same_device(op, crow, col, vals)
    c, k, v = crow._data, col._data, vals._data
    if c.ndim != 1 or k.ndim != 1 or v.ndim != 1 or c.shape[0] < 1:
        raise ShapeError(
            f"{op}: crow_indices {c.shape}, col_indices {k.shape} and values {v.shape} must be 1-d, crow non-empty"
        )
    nnz = k.shape[0]
    if v.shape[0] != nnz:
        raise ShapeError(f"{op}: col_indices has {nnz} entries but values has {v.shape[0]}")
    rows = c.shape[0] - 1
    shape = (rows, int(k.max()) + 1 if nnz else 0) if size is None else tuple(int(s) for s in size)
    if len(shape) != 2 or shape[0] != rows:
        raise ShapeError(f"{op}: size {shape} must be 2-d with {rows} rows (len(crow_indices) - 1)")
    if int(c[0]) != 0 or int(c[-1]) != nnz or (rows and bool((c[1:] < c[:-1]).any())):
        raise ShapeError(
            f"{op}: crow_indices must start at 0, never decrease and end at nnz={nnz}, got {c.tolist()[:8]}..."
        )
    _check_in_range(op, "col_indices", k, shape[1], 1)
    return SparseCSRTensor(crow, col, vals, shape)


def sparse_mm(sparse: "SparseCOOTensor | SparseCSRTensor", dense: Tensor) -> Tensor:
    """``sparse [m, k] @ dense [k, n]`` (or ``[k]``) as a dense ``[m, n]`` (or ``[m]``) tensor."""
    if not isinstance(sparse, (SparseCOOTensor, SparseCSRTensor)):
        raise TypeError(f"sparse_mm: first operand must be a sparse tensor, got {type(sparse).__name__}")
    if not isinstance(dense, Tensor):
        raise TypeError(f"sparse_mm: second operand must be a dense Tensor, got {type(dense).__name__}")
    check_same_device("sparse_mm", sparse._values, dense)
    d = dense._data
    if len(sparse.shape) != 2 or d.ndim not in (1, 2) or d.shape[0] != sparse.shape[1]:
        raise ShapeError(f"sparse_mm: shapes {sparse.shape} and {d.shape} cannot be multiplied")
    coo = sparse.to_sparse_coo()
    xp = dense._device.backend.xp
    dtype = promote_types(sparse.dtype, dense.dtype).np
    rows, cols = coo._indices._data
    vals = coo._values._data.astype(dtype, copy=False)
    out = xp.zeros((sparse.shape[0],) + d.shape[1:], dtype=dtype)
    if coo.nnz:
        contributions = vals.reshape((-1,) + (1,) * (d.ndim - 1)) * d.astype(dtype, copy=False)[cols]
        xp.add.at(out, rows, contributions)
    return wrap(out, dense._device)


def sparse_eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None) -> SparseCOOTensor:
    """The ``[n, m]`` identity (``m`` defaults to ``n``) as a coalesced COO tensor."""
    cols = n if m is None else m
    if n < 0 or cols < 0:
        raise ShapeError(f"sparse_eye: sizes must be non-negative, got {n}, {cols}")
    target = default_device(device)
    xp = target.backend.xp
    chosen = as_dtype(dtype) if dtype is not None else None
    diag = xp.arange(min(n, cols), dtype=_int64.np)
    values = xp.ones(diag.shape[0], dtype=(chosen or get_default_dtype()).np)
    return SparseCOOTensor(wrap(xp.stack([diag, diag]), target), wrap(values, target), (n, cols), is_coalesced=True)


@tensor_method("to_sparse", "to_sparse_coo")
def to_sparse(input: Tensor) -> SparseCOOTensor:
    """The nonzero entries of ``input`` as a coalesced COO tensor."""
    data = input._data
    if data.ndim == 0:
        raise ShapeError("to_sparse: a 0-d tensor has no sparse form here")
    xp = input._device.backend.xp
    coords = xp.nonzero(data)
    indices = xp.stack(coords).astype(_int64.np, copy=False)
    values = data[coords]
    return SparseCOOTensor(wrap(indices, input._device), wrap(values, input._device), data.shape, is_coalesced=True)


@tensor_method()
def to_sparse_csr(input: Tensor) -> SparseCSRTensor:
    """The nonzero entries of a 2-d ``input`` in CSR format."""
    if input._data.ndim != 2:
        raise ShapeError(f"to_sparse_csr: only 2-d tensors have a CSR form, got shape {tuple(input.shape)}")
    return to_sparse(input).to_sparse_csr()

"""axon-tensor shape, view, indexing, joining, sorting and sparse ops against PyTorch 2.13 CPU.

Beyond values, views must match PyTorch's layout: strides and storage_offset after the same
op sequence, and memory shared with the base.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import axon_tensor as at

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def pair(*shape: int, dtype: str = "float32", seed: int = 0):
    ref = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return at.tensor(ref), torch.from_numpy(ref.copy())


def same(a: at.Tensor, t) -> None:
    assert tuple(a.shape) == tuple(t.shape)
    assert a.dtype.name == str(t.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(a.numpy(), t.numpy())


def same_layout(a: at.Tensor, t) -> None:
    same(a, t)
    # Empty views address no element: NumPy neither advances their pointer nor scales their
    # strides by the slice step, and nothing can be read through them either way.
    if t.numel():
        assert a.stride() == t.stride(), (a.stride(), t.stride())
        assert a.storage_offset() == t.storage_offset()


# -- views: the same op sequence gives the same strides and offsets ----------------------------

VIEW_STEPS = [
    lambda x: x.transpose(0, -1),
    lambda x: x.permute(*reversed(range(x.dim()))) if x.dim() else x,
    lambda x: x.unsqueeze(1) if x.dim() else x,
    lambda x: x.unsqueeze(-1),
    lambda x: x.squeeze(),
    lambda x: x.narrow(-1, 1, 1) if x.dim() and x.shape[-1] > 1 else x,
    lambda x: x.select(0, -1) if x.dim() and x.shape[0] else x,
    lambda x: x[None, ..., 1:] if x.dim() else x,
    lambda x: x[:, None, ::2] if x.dim() >= 2 else x,
    lambda x: x.flatten(),
    lambda x: x.reshape(-1, 1) if x.numel() else x,
    lambda x: x.expand(2, *x.shape),
    lambda x: x.mT if x.dim() >= 2 else x,
    lambda x: x.movedim(0, -1) if x.dim() else x,
    lambda x: x.unflatten(0, (1, -1)) if x.dim() and x.shape[0] else x,
    lambda x: x.split(1, dim=-1)[-1] if x.dim() and x.shape[-1] else x,
    lambda x: x.chunk(2, dim=0)[0] if x.dim() else x,
]


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple),
    steps=st.lists(st.integers(0, len(VIEW_STEPS) - 1), min_size=1, max_size=6),
)
def test_view_sequences_match_torch_layout(shape, steps):
    a, t = pair(*shape)
    for step in steps:
        a, t = VIEW_STEPS[step](a), VIEW_STEPS[step](t)
        if t._base is None and t.data_ptr() != 0 and not t.is_contiguous():
            break
        same(a, t)
        if t._is_view():
            same_layout(a, t)


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x[:, :2].view(3, 2, 1),
        lambda x: x[:, :2].reshape(3, 1, 2),
        lambda x: x.t()[1:].unsqueeze(0),
        lambda x: x[1:, None, ::2],
        lambda x: x.unsqueeze(2).expand(3, 4, 5),
        lambda x: x[1].view(2, 2),
        lambda x: x.t().reshape(2, 2, 3),
    ],
)
def test_view_layout_examples(make):
    a, t = pair(3, 4)
    va, vt = make(a), make(t)
    if vt._is_view():
        same_layout(va, vt)
        assert va._base is a
    else:
        same(va, vt)
        assert va._base is None


def test_view_error_when_torch_errors():
    a, t = pair(3, 4)
    with pytest.raises(RuntimeError):
        t.t().view(12)
    with pytest.raises(ValueError, match="view"):
        a.t().view(12)


def test_shared_memory_both_ways():
    a, _ = pair(3, 4)
    v = a.t()[1:, ::2]
    v[0, 1] = 100.0
    assert a[2, 1].item() == 100.0
    exported = torch.from_dlpack(v)
    assert exported.stride() == v.stride()
    exported[1, 0] = -100.0
    assert a[0, 2].item() == -100.0


# -- indexing ------------------------------------------------------------------------------

INDEXES = [
    lambda: (1,),
    lambda: (slice(None), [0, 2]),
    lambda: ([0, 2], [1, 3]),
    lambda: (Ellipsis, None, 1),
    lambda: ([[0, 1], [2, 2]], slice(1, 3)),
    lambda: (slice(None), None, [3, 0]),
    lambda: ([True, False, True],),
    lambda: (1, [0, 3], None),
]


@pytest.mark.parametrize("make_index", INDEXES)
@pytest.mark.parametrize("transposed", [False, True])
def test_getitem_setitem_like_torch(make_index, transposed):
    a, t = pair(3, 4) if not transposed else pair(4, 3)
    if transposed:
        a, t = a.t(), t.t()
    index = make_index()
    tindex = tuple(torch.tensor(i) if isinstance(i, list) else i for i in index)
    aindex = tuple(at.tensor(i) if isinstance(i, list) else i for i in index)
    same(a[aindex], t[tindex])
    value_shape = tuple(t[tindex].shape)[1:]
    value = np.random.default_rng(1).standard_normal(value_shape).astype(np.float32)
    a[aindex] = at.tensor(value)
    t[tindex] = torch.from_numpy(value)
    same(a, t)


def test_index_ops_like_torch():
    a, t = pair(4, 5)
    idx = np.array([[0, 4, 1], [2, 2, 3]])
    same(a.gather(1, at.tensor(idx)), t.gather(1, torch.tensor(idx)))
    same(a.t().gather(0, at.tensor(idx)), t.t().gather(0, torch.tensor(idx)))
    src_a, src_t = pair(2, 3, seed=4)
    uniq = np.array([[0, 4, 1], [2, 1, 3]])
    same(a.scatter(1, at.tensor(uniq), src_a), t.scatter(1, torch.tensor(uniq), src_t))
    same(a.scatter(1, at.tensor(uniq[:, :2]), 1.5), t.scatter(1, torch.tensor(uniq[:, :2]), 1.5))
    add_a, add_t = a.scatter_add(1, at.tensor(idx), src_a), t.scatter_add(1, torch.tensor(idx), src_t)
    np.testing.assert_allclose(add_a.numpy(), add_t.numpy(), rtol=1e-6)
    sel = np.array([4, 0, 4])
    same(a.index_select(1, at.tensor(sel)), t.index_select(1, torch.tensor(sel)))
    ia, it = pair(4, 3, seed=5)
    np.testing.assert_allclose(
        a.index_add(1, at.tensor(sel), ia, alpha=2).numpy(),
        t.index_add(1, torch.tensor(sel), it, alpha=2).numpy(),
        rtol=1e-6,
    )
    mask = np.random.default_rng(2).random((4, 5)) > 0.5
    same(a.masked_fill(at.tensor(mask), -2.0), t.masked_fill(torch.tensor(mask), -2.0))
    same(a.masked_select(at.tensor(mask[0])), t.masked_select(torch.tensor(mask[0])))
    take = np.array([[-1, 0], [7, 19]])
    same(a.t().take(at.tensor(take)), t.t().take(torch.tensor(take)))
    zero_a, zero_t = a.masked_fill(at.tensor(mask), 0.0), t.masked_fill(torch.tensor(mask), 0.0)
    same(zero_a.nonzero(), zero_t.nonzero())
    for x, y in zip(zero_a.t().nonzero(as_tuple=True), zero_t.t().nonzero(as_tuple=True)):
        same(x, y)
    same(at.tensor(2.0).nonzero(), torch.tensor(2.0).nonzero())


# -- shape ops that copy, joining ------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.flip([0, -1]),
        lambda x: x.roll(3),
        lambda x: x.roll((1, -2), (0, 2)),
        lambda x: x.repeat(2, 1, 1, 2),
        lambda x: x.tile((2,)),
        lambda x: x.repeat_interleave(2, dim=1),
        lambda x: x.repeat_interleave(3),
        lambda x: x.tril(-1),
        lambda x: x.triu(1),
        lambda x: x.mT.contiguous().tril(),
    ],
)
def test_copying_shape_ops(op):
    a, t = pair(2, 3, 4)
    same(op(a.transpose(0, 1).transpose(0, 1)), op(t))
    same(op(a.permute(1, 0, 2)), op(t.permute(1, 0, 2)))


def test_joining_like_torch():
    a, t = pair(2, 3)
    b, u = pair(2, 3, dtype="float64", seed=1)
    i = np.arange(6, dtype=np.int32).reshape(2, 3)
    for dim in (0, 1, -1):
        same(at.cat([a, b, at.tensor(i)], dim), torch.cat([t, u, torch.tensor(i)], dim))
        same(at.stack([a, a.t().t()], dim), torch.stack([t, t], dim))
    same(at.cat([a, at.zeros(0)]), torch.cat([t, torch.zeros(0)]))
    same(at.hstack([a, a]), torch.hstack([t, t]))
    same(at.vstack([a, a[0]]), torch.vstack([t, t[0]]))
    same(
        at.cat([at.tensor([1], dtype="uint8"), at.tensor([-1], dtype="int8")]),
        torch.cat([torch.tensor([1], dtype=torch.uint8), torch.tensor([-1], dtype=torch.int8)]),
    )


# -- sorting ------------------------------------------------------------------------------


def test_sort_like_torch_stable_with_nan():
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 4, (5, 8)).astype(np.float32)
    ref[rng.random((5, 8)) > 0.8] = np.nan
    a, t = at.tensor(ref), torch.tensor(ref)
    for dim in (0, 1):
        for descending in (False, True):
            va, ia = a.sort(dim, descending=descending, stable=True)
            vt, it = t.sort(dim=dim, descending=descending, stable=True)
            same(va, vt)
            same(ia, it)
            same(
                a.t().argsort(dim, descending=descending, stable=True),
                t.t().argsort(dim=dim, descending=descending, stable=True),
            )


def test_topk_kthvalue_unique_like_torch():
    ref = np.random.default_rng(1).standard_normal((4, 7)).astype(np.float32)
    a, t = at.tensor(ref), torch.tensor(ref)
    for largest in (True, False):
        va, ia = a.topk(3, dim=1, largest=largest)
        vt, it = t.topk(3, dim=1, largest=largest)
        same(va, vt)
        same(ia, it)  # distinct values: indices are unique
    va, ia = a.kthvalue(3, dim=0, keepdim=True)
    vt, it = t.kthvalue(3, dim=0, keepdim=True)
    same(va, vt)
    same(ia, it)
    ints = np.array([[3, 1, 3, 0], [2, 1, 1, 9]])
    ua = at.unique(at.tensor(ints), return_inverse=True, return_counts=True)
    ut = torch.unique(torch.tensor(ints), return_inverse=True, return_counts=True)
    for x, y in zip(ua, ut):
        same(x, y)
    ua = at.unique(at.tensor(ints), dim=1, return_inverse=True, return_counts=True)
    ut = torch.unique(torch.tensor(ints), dim=1, return_inverse=True, return_counts=True)
    for x, y in zip(ua, ut):
        same(x, y)
    nan = np.array([1.0, np.nan, 2.0, np.nan, 1.0], np.float32)
    ua, ut = at.tensor(nan).unique(return_counts=True), torch.tensor(nan).unique(return_counts=True)
    for x, y in zip(ua, ut):
        same(x, y)


# -- sparse ---------------------------------------------------------------------------------


def test_sparse_like_torch():
    rng = np.random.default_rng(3)
    indices = np.stack([rng.integers(0, 5, 20), rng.integers(0, 6, 20)])
    values = rng.standard_normal(20)
    a = at.sparse_coo_tensor(indices, values, (5, 6), dtype="float64")
    t = torch.sparse_coo_tensor(torch.tensor(indices), torch.tensor(values), (5, 6), check_invariants=True)
    ca, ct = a.coalesce(), t.coalesce()
    same(ca.indices(), ct.indices())
    np.testing.assert_allclose(ca.values().numpy(), ct.values().numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.to_dense().numpy(), t.to_dense().numpy(), rtol=1e-12)
    csr_a, csr_t = a.to_sparse_csr(), t.to_sparse_csr()
    same(csr_a.crow_indices(), csr_t.crow_indices())
    same(csr_a.col_indices(), csr_t.col_indices())
    dense = rng.standard_normal((6, 3))
    np.testing.assert_allclose(
        (a @ at.tensor(dense)).numpy(), torch.sparse.mm(t, torch.tensor(dense)).numpy(), rtol=1e-12
    )
    np.testing.assert_allclose((csr_a @ at.tensor(dense)).numpy(), (csr_t @ torch.tensor(dense)).numpy(), rtol=1e-12)
    d = np.array([[0, 1.5, 0], [2.0, 0, 0]], np.float32)
    sa, st_ = at.tensor(d).to_sparse(), torch.tensor(d).to_sparse()
    same(sa.indices(), st_.indices())
    same(sa.values(), st_.values())

"""Property tests: random shapes, random index expressions and view chains against NumPy."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import axon_tensor as at

shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)


@st.composite
def index_expressions(draw, shape: tuple[int, ...], allow_advanced: bool = True):
    """A valid index for ``shape``: ints, positive-step slices, None, one Ellipsis, int lists, masks."""
    items = []
    dim = 0
    used_ellipsis = False
    while dim < len(shape) and draw(st.booleans()):
        size = shape[dim]
        kinds = ["slice", "none"] + (["int"] if size else []) + (["ellipsis"] if not used_ellipsis else [])
        if allow_advanced:
            kinds += ["ints", "mask"]
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            items.append(draw(st.integers(-size, size - 1)))
            dim += 1
        elif kind == "slice":
            start = draw(st.none() | st.integers(-size - 2, size + 2))
            stop = draw(st.none() | st.integers(-size - 2, size + 2))
            step = draw(st.none() | st.integers(1, 3))
            items.append(slice(start, stop, step))
            dim += 1
        elif kind == "none":
            items.append(None)
        elif kind == "ellipsis":
            items.append(Ellipsis)
            used_ellipsis = True
            dim = len(shape) - draw(st.integers(0, len(shape) - dim))
        elif kind == "ints":
            items.append(draw(st.lists(st.integers(-size, size - 1), min_size=1, max_size=3)) if size else [])
            dim += 1
        else:
            items.append(draw(st.lists(st.booleans(), min_size=size, max_size=size)))
            dim += 1
    return tuple(items)


def _np_index(index):
    return tuple(
        np.asarray(i, dtype=np.int64 if not (i and isinstance(i[0], bool)) else bool) if isinstance(i, list) else i
        for i in index
    )


def _n_advanced(index) -> int:
    return sum(isinstance(i, list) for i in index)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), shape=shapes)
def test_getitem_matches_numpy(data, shape):
    ref = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    index = data.draw(index_expressions(shape))
    # Several separated bool/int lists may not broadcast together; keep expressions NumPy accepts.
    try:
        expected = ref[_np_index(index)]
    except IndexError:
        return
    # Half the time index a non-contiguous tensor (a permuted view) holding the same values.
    x = at.tensor(ref)
    if data.draw(st.booleans()) and ref.ndim >= 2:
        x = at.tensor(np.ascontiguousarray(ref.T)).permute(*reversed(range(ref.ndim)))
    got = x[index]
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got.numpy(), expected)
    if _n_advanced(index) == 0:
        assert got._base is (x._base if x._base is not None else x)
        if got.numel():
            got[(0,) * got.ndim] = -1.0
            assert (x.numpy() == -1.0).sum() == 1


@settings(max_examples=100, deadline=None)
@given(data=st.data(), shape=shapes)
def test_setitem_matches_numpy(data, shape):
    ref = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    index = data.draw(index_expressions(shape))
    try:
        target_shape = ref[_np_index(index)].shape
    except IndexError:
        return
    # A value of a trailing part of the target shape exercises broadcasting.
    trailing = target_shape[data.draw(st.integers(0, len(target_shape))) :]
    value = np.random.default_rng(len(index)).standard_normal(trailing).astype(np.float32)
    x = at.tensor(ref)
    x[index] = at.tensor(value)
    ref[_np_index(index)] = value
    np.testing.assert_array_equal(x.numpy(), ref)


view_ops = st.sampled_from(
    ["transpose", "permute", "unsqueeze", "squeeze", "narrow", "select", "flatten", "view", "expand", "slice"]
)


def apply_view(op: str, x: at.Tensor, ref: np.ndarray, draw):
    """Apply ``op`` to the tensor and the same view to the NumPy array; None when not applicable."""
    nd = ref.ndim
    if op == "transpose" and nd:
        a, b = draw(st.integers(-nd, nd - 1)), draw(st.integers(-nd, nd - 1))
        return x.transpose(a, b), np.swapaxes(ref, a, b)
    if op == "permute" and nd:
        order = draw(st.permutations(range(nd)))
        return x.permute(*order), ref.transpose(order)
    if op == "unsqueeze":
        d = draw(st.integers(-nd - 1, nd))
        return x.unsqueeze(d), np.expand_dims(ref, d)
    if op == "squeeze":
        return x.squeeze(), ref.squeeze()
    if op == "narrow" and nd:
        d = draw(st.integers(0, nd - 1))
        start = draw(st.integers(0, ref.shape[d]))
        length = draw(st.integers(0, ref.shape[d] - start))
        return x.narrow(d, start, length), np.take(ref, np.arange(start, start + length), axis=d)
    if op == "select" and nd and all(ref.shape):
        d = draw(st.integers(0, nd - 1))
        i = draw(st.integers(-ref.shape[d], ref.shape[d] - 1))
        return x.select(d, i), np.take(ref, i, axis=d)
    if op == "flatten" and nd:
        s = draw(st.integers(0, nd - 1))
        e = draw(st.integers(s, nd - 1))
        return x.flatten(s, e), ref.reshape(
            ref.shape[:s] + (-1 if ref.size else int(np.prod(ref.shape[s : e + 1])),) + ref.shape[e + 1 :]
        )
    if op == "view" and x.is_contiguous():
        return x.view(-1), ref.reshape(-1)
    if op == "expand" and nd and 1 in ref.shape:
        target = tuple(3 if s == 1 else s for s in ref.shape)
        return x.expand(2, *target), np.broadcast_to(ref, (2,) + target)
    if op == "slice" and nd:
        step = draw(st.integers(1, 3))
        return x[..., ::step], ref[..., ::step]
    return None


@settings(max_examples=100, deadline=None)
@given(data=st.data(), shape=shapes, ops=st.lists(view_ops, min_size=1, max_size=5))
def test_view_chains_share_memory(data, shape, ops):
    base = at.tensor(np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape))
    x, ref = base, base.numpy()
    owner = base  # the tensor whose storage x views; flatten may copy and start a new owner
    for op in ops:
        step = apply_view(op, x, ref, data.draw)
        if step is None:
            continue
        x, ref = step
        assert x.shape == ref.shape
        np.testing.assert_array_equal(x.numpy(), ref)
        if op == "flatten" and x._base is None and x is not owner:
            owner = x
        assert x is owner or x._base is owner
    if x.numel():
        x[(0,) * x.ndim] = -5.0
        assert owner.numpy().min() == -5.0
    np.testing.assert_array_equal(x.reshape(-1).numpy(), np.ascontiguousarray(x.numpy()).reshape(-1))

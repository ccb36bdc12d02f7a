"""Indexing and index ops against NumPy (advanced-indexing rules are NumPy's, as in PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError, ShapeError


def arange(*shape: int, dtype: str = "float32") -> tuple[at.Tensor, np.ndarray]:
    ref = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    return at.tensor(ref), ref


def check_get(x: at.Tensor, ref: np.ndarray, index, ref_index=None) -> at.Tensor:
    got = x[index]
    expected = ref[index if ref_index is None else ref_index]
    np.testing.assert_array_equal(got.numpy(), expected)
    assert got.shape == np.shape(expected)
    return got


class TestGetitemBasic:
    @pytest.mark.parametrize(
        "index",
        [
            0,
            -1,
            slice(1, 3),
            slice(None, None, 2),
            (1, 2),
            (slice(None), 1),
            (Ellipsis, 0),
            (None, 1),
            (1, None, slice(0, 2)),
            (Ellipsis, None),
            (slice(5, 9),),
            (),
        ],
    )
    def test_basic_is_view(self, index):
        x, ref = arange(3, 4)
        got = check_get(x, ref, index)
        assert got._base is x
        if got.numel():
            got[(0,) * got.ndim] = -7
            assert (x.numpy() == -7).sum() == 1

    def test_full_int_index_gives_0d_view(self):
        x, ref = arange(3, 4)
        v = x[1, 2]
        assert v.shape == () and v.storage_offset() == 6 and v.item() == 6
        v[...] = 100
        assert x.numpy()[1, 2] == 100

    def test_offsets_and_strides(self):
        x, _ = arange(4, 6)
        v = x[1:3, ::2]
        assert v.storage_offset() == 6 and v.stride() == (6, 2)
        assert x[None, 1:3].stride() == (24, 6, 1)
        assert x[..., None].stride() == (6, 1, 1)
        assert x[1, None].stride() == (6, 1)

    def test_0d_tensor(self):
        s = at.tensor(3.0)
        assert s[...].item() == 3.0
        assert s[None].shape == (1,)
        with pytest.raises(IndexError):
            s[0]

    def test_negative_step_raises(self):
        x, _ = arange(5)
        with pytest.raises(ValueError, match="step must be greater than zero"):
            x[::-1]
        with pytest.raises(ValueError):
            x[(slice(None, None, -2),)]

    def test_out_of_range_message(self):
        x, _ = arange(3, 4)
        with pytest.raises(IndexError, match=r"shape \(3, 4\)"):
            x[3]
        with pytest.raises(IndexError):
            x[0, 0, 0]

    def test_zero_d_int_tensor_acts_as_int(self):
        x, ref = arange(3, 4)
        got = x[at.tensor(2)]
        np.testing.assert_array_equal(got.numpy(), ref[2])
        assert got.storage_offset() == 8


class TestGetitemAdvanced:
    @pytest.mark.parametrize(
        "index",
        [
            [0, 2],
            ([0, 2], [1, 3]),
            (slice(None), [3, 0, 0]),
            ([[0, 1], [2, 2]],),
            (1, [0, 3]),
            ([0, 2], slice(1, 3)),
            (Ellipsis, [1]),
            ([],),
        ],
    )
    def test_integer_arrays(self, index):
        x, ref = arange(3, 4)
        as_np = lambda i: np.asarray(i, dtype=np.int64) if isinstance(i, list) else i  # noqa: E731
        ref_index = tuple(as_np(i) for i in index) if isinstance(index, tuple) else as_np(index)
        got = check_get(x, ref, index, ref_index)
        assert got._base is None

    def test_tensor_indices_and_masks(self):
        x, ref = arange(2, 3, 4)
        idx = np.array([[1, 0], [2, 2]])
        check_get(x, ref, (slice(None), at.tensor(idx)), (slice(None), idx))
        check_get(
            x,
            ref,
            (at.tensor([1, 0]), slice(None), at.tensor([3, 2])),
            (np.array([1, 0]), slice(None), np.array([3, 2])),
        )
        mask = ref % 3 == 0
        check_get(x, ref, at.tensor(mask), mask)
        row_mask = np.array([True, False])
        check_get(x, ref, (at.tensor(row_mask), 1), (row_mask, 1))
        check_get(x, ref, (Ellipsis, [True, False, True, True]), (Ellipsis, np.array([True, False, True, True])))
        check_get(x, ref, (None, at.tensor([1]), None), (None, np.array([1]), None))

    def test_noncontiguous_input(self):
        x, ref = arange(4, 5)
        xt, rt = x.t()[1:], ref.T[1:]
        check_get(xt, rt, (at.tensor([0, 3]), slice(None, None, 2)), (np.array([0, 3]), slice(None, None, 2)))

    def test_errors(self):
        x, _ = arange(3, 4)
        with pytest.raises(IndexError, match="out of bounds"):
            x[at.tensor([0, 5])]
        with pytest.raises(IndexError):
            x[at.tensor([0.5])]
        with pytest.raises(IndexError):
            x[at.tensor([True, False])]
        with pytest.raises(IndexError):
            x[[0, 1], [0, 1, 2]]
        with pytest.raises(TypeError):
            x["a"]


class TestSetitem:
    def test_scalar_and_broadcast_into_view(self):
        x, ref = arange(3, 4)
        v = x[1:]
        v[:, 1] = 9
        ref[1:, 1] = 9
        np.testing.assert_array_equal(x.numpy(), ref)
        x[0] = at.tensor([1.0, 2.0, 3.0, 4.0])
        ref[0] = [1, 2, 3, 4]
        np.testing.assert_array_equal(x.numpy(), ref)
        x[:, None, 2] = at.tensor([[5.0]])
        ref[:, None, 2] = 5
        np.testing.assert_array_equal(x.numpy(), ref)

    def test_advanced_and_mask(self):
        x, ref = arange(3, 4)
        x[[0, 2], [1, 3]] = at.tensor([-1.0, -2.0])
        ref[[0, 2], [1, 3]] = [-1, -2]
        mask = ref > 5
        x[at.tensor(mask)] = 0.5
        ref[mask] = 0.5
        np.testing.assert_array_equal(x.numpy(), ref)

    def test_writes_into_transposed_view(self):
        x, ref = arange(3, 4)
        t = x.t()
        t[1:3, at.tensor([0, 2])] = at.tensor(100.0)
        ref.T[1:3, [0, 2]] = 100.0
        np.testing.assert_array_equal(x.numpy(), ref)

    def test_value_cast_to_dtype(self):
        x = at.zeros(3, dtype="int64")
        x[1] = at.tensor(2.7)
        x[2] = 3.9
        np.testing.assert_array_equal(x.numpy(), [0, 2, 3])

    def test_bad_shape(self):
        x, _ = arange(3, 4)
        with pytest.raises(ShapeError, match=r"\(3,\)"):
            x[0] = at.tensor([1.0, 2.0, 3.0])
        with pytest.raises(TypeError):
            x[0] = "a"


class TestIndexOps:
    def test_gather(self):
        x, ref = arange(3, 4)
        idx = np.array([[0, 3], [2, 2], [1, 0]])
        np.testing.assert_array_equal(x.gather(1, at.tensor(idx)).numpy(), np.take_along_axis(ref, idx, 1))
        idx0 = np.array([[2, 0, 1, 1]])
        np.testing.assert_array_equal(at.gather(x, 0, at.tensor(idx0)).numpy(), np.take_along_axis(ref, idx0, 0))
        # index smaller than input in the other dims, and a transposed input
        small = np.array([[1], [0]])
        np.testing.assert_array_equal(
            x.t().gather(-1, at.tensor(small)).numpy(), np.take_along_axis(ref.T[:2, : 1 + 2], small, 1)
        )
        with pytest.raises(IndexError, match="out of bounds"):
            x.gather(1, at.tensor([[4]]))
        with pytest.raises(IndexError):
            x.gather(1, at.tensor([[-1]]))
        with pytest.raises(ShapeError):
            x.gather(1, at.tensor([1]))
        with pytest.raises(DTypeError):
            x.gather(1, at.tensor([[1.0]]))

    def test_scatter(self):
        x, ref = arange(3, 4)
        idx = np.array([[3, 0], [1, 2]])
        src = np.array([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]], dtype=np.float32)
        expected = ref.copy()
        for i in range(2):
            for j in range(2):
                expected[i, idx[i, j]] = src[i, j]
        np.testing.assert_array_equal(x.scatter(1, at.tensor(idx), at.tensor(src)).numpy(), expected)
        np.testing.assert_array_equal(x.numpy(), ref)  # out of place
        filled = ref.copy()
        for i in range(2):
            for j in range(2):
                filled[i, idx[i, j]] = -1.0
        np.testing.assert_array_equal(x.scatter(1, at.tensor(idx), -1.0).numpy(), filled)
        x.scatter_(1, at.tensor(idx), value=-1.0)
        np.testing.assert_array_equal(x.numpy(), filled)
        with pytest.raises(DTypeError):
            x.scatter(1, at.tensor(idx), at.tensor(src, dtype="float64"))
        with pytest.raises(IndexError):
            x.scatter(1, at.tensor([[4]]), 0.0)

    def test_scatter_add_repeats_accumulate(self):
        base = at.zeros(2, 5)
        idx = np.array([[0, 1, 0, 4], [2, 2, 2, 2]])
        src = np.arange(8, dtype=np.float32).reshape(2, 4)
        expected = np.zeros((2, 5), np.float32)
        np.add.at(expected, (np.arange(2)[:, None], idx), src)
        np.testing.assert_array_equal(base.scatter_add(1, at.tensor(idx), at.tensor(src)).numpy(), expected)
        view = at.zeros(5, 2).t()  # non-contiguous destination
        view.scatter_add_(1, at.tensor(idx), at.tensor(src))
        np.testing.assert_array_equal(view.numpy(), expected)

    def test_index_select(self):
        x, ref = arange(3, 4)
        np.testing.assert_array_equal(x.index_select(1, at.tensor([3, 0, 3])).numpy(), ref[:, [3, 0, 3]])
        np.testing.assert_array_equal(at.index_select(x.t(), 0, at.tensor([1])).numpy(), ref.T[[1]])
        assert x.index_select(0, at.tensor([], dtype="int64")).shape == (0, 4)
        with pytest.raises(IndexError):
            x.index_select(0, at.tensor([3]))
        with pytest.raises(ShapeError):
            x.index_select(0, at.tensor([[0]]))

    def test_index_add(self):
        x, ref = arange(3, 4)
        src = np.ones((3, 3), np.float32)
        idx = np.array([0, 0, 2])
        expected = ref.copy()
        np.add.at(expected, (slice(None), idx), 2 * src)
        np.testing.assert_array_equal(x.index_add(1, at.tensor(idx), at.tensor(src), alpha=2).numpy(), expected)
        with pytest.raises(ShapeError):
            x.index_add(1, at.tensor(idx), at.ones(3, 2))
        with pytest.raises(DTypeError):
            x.index_add(1, at.tensor(idx), at.ones(3, 3, dtype="float64"))

    def test_index_put_accumulate(self):
        x = at.zeros(4)
        x.index_put_((at.tensor([0, 0, 3]),), at.tensor([1.0, 2.0, 3.0]), accumulate=True)
        np.testing.assert_array_equal(x.numpy(), [3.0, 0.0, 0.0, 3.0])
        y = at.index_put(x, (at.tensor([1]),), at.tensor(7.0))
        np.testing.assert_array_equal(y.numpy(), [3.0, 7.0, 0.0, 3.0])

    def test_masked_fill_select(self):
        x, ref = arange(2, 3)
        mask = np.array([True, False, True])
        np.testing.assert_array_equal(x.masked_fill(at.tensor(mask), -1.0).numpy(), np.where(mask, -1.0, ref))
        np.testing.assert_array_equal(x.masked_fill(at.tensor(mask), at.tensor(2.5)).numpy(), np.where(mask, 2.5, ref))
        big = at.masked_fill(at.zeros(3), at.tensor(np.array([[True, False, True]] * 2)), 1.0)
        assert big.shape == (2, 3)
        x.t().masked_fill_(at.tensor(np.array([[True, False]] * 3)), 9.0)
        ref.T[:, 0] = 9.0
        np.testing.assert_array_equal(x.numpy(), ref)
        np.testing.assert_array_equal(
            x.masked_select(at.tensor(mask)).numpy(), np.broadcast_to(ref, (2, 3))[np.broadcast_to(mask, (2, 3))]
        )
        with pytest.raises(DTypeError):
            x.masked_fill(at.tensor([1, 0, 1]), 0.0)
        with pytest.raises(ShapeError):
            x.masked_fill_(at.tensor([True, False]), 0.0)

    def test_take(self):
        x, ref = arange(3, 4)
        idx = np.array([[0, -1], [5, 11]])
        np.testing.assert_array_equal(x.take(at.tensor(idx)).numpy(), np.take(ref, idx))
        np.testing.assert_array_equal(x.t().take(at.tensor([1])).numpy(), ref.T.reshape(-1)[[1]])
        with pytest.raises(IndexError):
            x.take(at.tensor([12]))

    def test_nonzero(self):
        ref = np.array([[0, 1.5, 0], [2.0, 0, np.nan]], np.float32)
        x = at.tensor(ref)
        np.testing.assert_array_equal(x.nonzero().numpy(), np.argwhere(ref))
        assert x.nonzero().dtype is at.int64
        for got, expected in zip(x.nonzero(as_tuple=True), np.nonzero(ref)):
            np.testing.assert_array_equal(got.numpy(), expected)
        assert at.tensor(1.0).nonzero().shape == (1, 0)
        assert at.tensor(0.0).nonzero().shape == (0, 0)
        assert at.zeros(0, 3).nonzero().shape == (0, 2)
        np.testing.assert_array_equal(at.argwhere(x.t()).numpy(), np.argwhere(ref.T))

"""Shape ops against NumPy: values, view-ness (writes through the view reach the base), strides."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import ShapeError


def arange(*shape: int, dtype: str = "float32") -> tuple[at.Tensor, np.ndarray]:
    ref = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    return at.tensor(ref), ref


def assert_view_of(view: at.Tensor, base: at.Tensor) -> None:
    """Writing through ``view`` changes ``base``: they share storage."""
    assert view._base is (base if base._base is None else base._base)
    if view.numel():
        before = base.numpy().copy()
        flat_index = (0,) * view.ndim
        view[flat_index] = 1234
        assert not np.array_equal(before, base.numpy()) or before.max() == 1234


def elem_strides(a: np.ndarray) -> tuple[int, ...]:
    return tuple(s // a.itemsize for s in a.strides)


class TestViewReshape:
    def test_view_contiguous_shares_memory(self):
        x, ref = arange(2, 3, 4)
        v = x.view(4, -1)
        np.testing.assert_array_equal(v.numpy(), ref.reshape(4, 6))
        assert v.stride() == (6, 1)
        assert_view_of(v, x)
        assert x.numpy().reshape(-1)[0] == 1234

    def test_view_of_transposed_fails_naming_shapes(self):
        x, _ = arange(3, 4)
        with pytest.raises(ShapeError, match=r"view: shape \[12\].*\(4, 3\)"):
            x.t().view(12)

    def test_view_of_noncontiguous_when_strides_allow(self):
        x, ref = arange(4, 6)
        sliced = x[:, :4]  # rows are not contiguous with each other, but each row is
        v = sliced.view(4, 2, 2)
        np.testing.assert_array_equal(v.numpy(), ref[:, :4].reshape(4, 2, 2))
        assert v.stride() == (6, 2, 1)
        assert v.storage_offset() == 0
        v[1, 1, 0] = -1
        assert x.numpy()[1, 2] == -1

    def test_view_bad_size(self):
        x, _ = arange(2, 3)
        with pytest.raises(ShapeError, match="invalid for input of shape"):
            x.view(4)
        with pytest.raises(ShapeError, match="at most one -1"):
            x.view(-1, -1)

    def test_reshape_copies_when_needed(self):
        x, ref = arange(3, 4)
        r = x.t().reshape(12)
        np.testing.assert_array_equal(r.numpy(), ref.T.reshape(12))
        assert r._base is None
        assert r.is_contiguous()

    def test_reshape_views_when_possible(self):
        x, ref = arange(2, 6)
        r = x.reshape(3, 4)
        assert_view_of(r, x)

    def test_reshape_0d_and_empty(self):
        s = at.tensor(5.0)
        np.testing.assert_array_equal(s.reshape(1, 1).numpy(), [[5.0]])
        np.testing.assert_array_equal(s.reshape(1).reshape(()).numpy(), np.array(5.0))
        e = at.zeros(0, 3)
        assert e.reshape(3, 0).shape == (3, 0)
        assert e.reshape(-1, 3).shape == (0, 3)
        with pytest.raises(ShapeError):
            e.reshape(-1, 0)

    def test_view_as_reshape_as(self):
        x, ref = arange(2, 6)
        other = at.zeros(4, 3)
        np.testing.assert_array_equal(x.view_as(other).numpy(), ref.reshape(4, 3))
        np.testing.assert_array_equal(x.t().reshape_as(other).numpy(), ref.T.reshape(4, 3))


class TestTransposeFamily:
    def test_transpose_negative_dims(self):
        x, ref = arange(2, 3, 4)
        y = x.transpose(0, -1)
        np.testing.assert_array_equal(y.numpy(), ref.swapaxes(0, -1))
        assert y.stride() == (1, 4, 12)
        assert_view_of(y, x)

    def test_transpose_0d(self):
        s = at.tensor(1.0)
        assert s.transpose(0, -1).shape == ()
        with pytest.raises(IndexError):
            s.transpose(0, 1)

    def test_permute(self):
        x, ref = arange(2, 3, 4)
        np.testing.assert_array_equal(x.permute(2, 0, 1).numpy(), ref.transpose(2, 0, 1))
        np.testing.assert_array_equal(at.permute(x, (-1, 0, 1)).numpy(), ref.transpose(2, 0, 1))
        with pytest.raises(ShapeError):
            x.permute(0, 1)
        with pytest.raises(ShapeError, match="repeated"):
            x.permute(0, 0, 1)
        with pytest.raises(IndexError):
            x.permute(0, 1, 3)

    def test_t_T_mT(self):
        x, ref = arange(3, 4)
        np.testing.assert_array_equal(x.t().numpy(), ref.T)
        np.testing.assert_array_equal(x.T.numpy(), ref.T)
        v, vref = arange(5)
        np.testing.assert_array_equal(v.t().numpy(), vref)
        b, bref = arange(2, 3, 4)
        np.testing.assert_array_equal(b.mT.numpy(), bref.swapaxes(-1, -2))
        np.testing.assert_array_equal(b.T.numpy(), bref.T)
        with pytest.raises(ShapeError):
            b.t()
        with pytest.raises(ShapeError):
            v.mT

    def test_movedim(self):
        x, ref = arange(2, 3, 4, 5)
        np.testing.assert_array_equal(x.movedim(0, -1).numpy(), np.moveaxis(ref, 0, -1))
        np.testing.assert_array_equal(x.movedim((0, 1), (3, 2)).numpy(), np.moveaxis(ref, (0, 1), (3, 2)))
        assert_view_of(x.movedim(1, 0), x)


class TestExpandSqueeze:
    def test_expand_strides_zero_and_shared(self):
        x, ref = arange(3, 1)
        e = x.expand(2, 3, 4)
        np.testing.assert_array_equal(e.numpy(), np.broadcast_to(ref, (2, 3, 4)))
        assert e.stride() == (0, 1, 0)
        x[1, 0] = 77
        assert (e.numpy()[:, 1, :] == 77).all()

    def test_expand_minus_one_and_as(self):
        x, ref = arange(3, 1)
        assert x.expand(-1, 5).shape == (3, 5)
        np.testing.assert_array_equal(x.expand_as(at.zeros(2, 3, 5)).numpy(), np.broadcast_to(ref, (2, 3, 5)))

    def test_expand_errors(self):
        x, _ = arange(3, 2)
        with pytest.raises(ShapeError, match="non-singleton"):
            x.expand(3, 4)
        with pytest.raises(ShapeError):
            x.expand(2)
        with pytest.raises(ShapeError):
            x.expand(-1, 3, 2)

    def test_expand_0d(self):
        s = at.tensor(2.0)
        np.testing.assert_array_equal(s.expand(2, 2).numpy(), np.full((2, 2), 2.0))

    def test_squeeze(self):
        x, ref = arange(1, 3, 1, 2)
        np.testing.assert_array_equal(x.squeeze().numpy(), ref.squeeze())
        assert x.squeeze(0).shape == (3, 1, 2)
        assert x.squeeze(-2).shape == (1, 3, 2)
        assert x.squeeze(1).shape == (1, 3, 1, 2)  # not size 1: unchanged, like torch
        assert x.squeeze((0, 2)).shape == (3, 2)
        assert_view_of(x.squeeze(), x)
        assert at.tensor(3.0).squeeze().shape == ()
        assert at.tensor(3.0).squeeze(0).shape == ()

    def test_unsqueeze(self):
        x, ref = arange(2, 3)
        for dim in range(-3, 3):
            np.testing.assert_array_equal(x.unsqueeze(dim).numpy(), np.expand_dims(ref, dim))
        assert x.unsqueeze(0).stride() == (6, 3, 1)
        assert x.unsqueeze(-1).stride() == (3, 1, 1)
        assert x.t().unsqueeze(1).stride() == (1, 6, 3)  # torch: size*stride of the next dim
        assert_view_of(x.unsqueeze(1), x)
        assert at.tensor(1.0).unsqueeze(0).shape == (1,)
        with pytest.raises(IndexError):
            x.unsqueeze(3)


class TestFlattenNarrowSplit:
    def test_flatten(self):
        x, ref = arange(2, 3, 4)
        np.testing.assert_array_equal(x.flatten().numpy(), ref.reshape(-1))
        np.testing.assert_array_equal(x.flatten(1).numpy(), ref.reshape(2, 12))
        np.testing.assert_array_equal(x.flatten(0, -2).numpy(), ref.reshape(6, 4))
        assert x.flatten(1, 1) is x
        assert at.tensor(3.0).flatten().shape == (1,)
        np.testing.assert_array_equal(x.transpose(0, 2).flatten().numpy(), ref.transpose(2, 1, 0).reshape(-1))
        with pytest.raises(ShapeError):
            x.flatten(2, 1)

    def test_unflatten(self):
        x, ref = arange(2, 12)
        np.testing.assert_array_equal(x.unflatten(1, (3, -1)).numpy(), ref.reshape(2, 3, 4))
        np.testing.assert_array_equal(x.unflatten(-1, (2, 2, 3)).numpy(), ref.reshape(2, 2, 2, 3))
        with pytest.raises(ShapeError):
            x.unflatten(1, (5, -1))

    def test_narrow_select(self):
        x, ref = arange(4, 5)
        n = x.narrow(1, 1, 3)
        np.testing.assert_array_equal(n.numpy(), ref[:, 1:4])
        assert n.storage_offset() == 1
        np.testing.assert_array_equal(x.narrow(0, -2, 2).numpy(), ref[-2:])
        s = x.select(1, -1)
        np.testing.assert_array_equal(s.numpy(), ref[:, -1])
        assert s.storage_offset() == 4 and s.stride() == (5,)
        assert_view_of(s, x)
        with pytest.raises(IndexError):
            x.narrow(0, 3, 2)
        with pytest.raises(IndexError):
            x.select(0, 4)
        one = at.arange(3.0).select(0, 1)
        assert one.shape == () and one.storage_offset() == 1

    def test_split_chunk_unbind(self):
        x, ref = arange(7, 2)
        parts = x.split(3)
        assert [p.shape[0] for p in parts] == [3, 3, 1]
        np.testing.assert_array_equal(at.cat(parts).numpy(), ref)
        parts = x.split([2, 5])
        np.testing.assert_array_equal(parts[1].numpy(), ref[2:])
        assert parts[1].storage_offset() == 4
        with pytest.raises(ShapeError):
            x.split([2, 2])
        chunks = x.chunk(3)
        assert [c.shape[0] for c in chunks] == [3, 3, 1]
        assert [c.shape[1] for c in x.chunk(2, dim=-1)] == [1, 1]
        assert len(at.zeros(0).chunk(3)) == 3
        rows = x.unbind(1)
        assert len(rows) == 2
        np.testing.assert_array_equal(rows[1].numpy(), ref[:, 1])
        assert_view_of(rows[0], x)


class TestCopyingShapeOps:
    def test_flip(self):
        x, ref = arange(2, 3, 4)
        f = x.flip((0, 2))
        np.testing.assert_array_equal(f.numpy(), np.flip(ref, (0, 2)))
        assert f._base is None and all(s > 0 for s in f.stride())
        np.testing.assert_array_equal(x.transpose(0, 1).flip(-1).numpy(), np.flip(ref.swapaxes(0, 1), -1))
        with pytest.raises(ShapeError):
            x.flip((0, 0))

    def test_roll(self):
        x, ref = arange(3, 4)
        np.testing.assert_array_equal(x.roll(2).numpy(), np.roll(ref, 2))
        np.testing.assert_array_equal(x.roll((1, -1), (0, 1)).numpy(), np.roll(ref, (1, -1), (0, 1)))
        np.testing.assert_array_equal(x.t().roll(1, 0).numpy(), np.roll(ref.T, 1, 0))

    def test_repeat_tile(self):
        x, ref = arange(2, 3)
        np.testing.assert_array_equal(x.repeat(2, 1, 2).numpy(), np.tile(ref, (2, 1, 2)))
        np.testing.assert_array_equal(x.tile(2).numpy(), np.tile(ref, 2))
        with pytest.raises(ShapeError):
            x.repeat(2)
        np.testing.assert_array_equal(at.tensor(1.0).repeat(3).numpy(), [1.0, 1.0, 1.0])

    def test_repeat_interleave(self):
        x, ref = arange(2, 3)
        np.testing.assert_array_equal(x.repeat_interleave(2).numpy(), np.repeat(ref, 2))
        np.testing.assert_array_equal(x.repeat_interleave(2, dim=1).numpy(), np.repeat(ref, 2, axis=1))
        counts = at.tensor([1, 0, 2])
        np.testing.assert_array_equal(x.repeat_interleave(counts, dim=-1).numpy(), np.repeat(ref, [1, 0, 2], axis=-1))
        with pytest.raises(ShapeError):
            x.repeat_interleave(at.tensor([1, 2]), dim=1)

    def test_tril_triu(self):
        x, ref = arange(2, 3, 4)
        for k in (-1, 0, 2):
            np.testing.assert_array_equal(x.tril(k).numpy(), np.tril(ref, k))
            np.testing.assert_array_equal(x.triu(k).numpy(), np.triu(ref, k))
        np.testing.assert_array_equal(x.mT.triu().numpy(), np.triu(ref.swapaxes(-1, -2)))
        with pytest.raises(ShapeError):
            at.zeros(3).tril()

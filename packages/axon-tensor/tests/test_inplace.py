"""In-place ops against PyTorch's in-place ops: values, storage sharing, cast and shape errors."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError, ShapeError

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(11)


def pair(values, dtype="float32"):
    return at.tensor(values).to(dtype), torch.tensor(values).to(getattr(torch, dtype))


def assert_same(ours, ref, tol=1e-6):
    assert ours.dtype.name == str(ref.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=tol, atol=tol, equal_nan=True)


BINARY = [
    ("add_", lambda o: (o,), {}),
    ("add_", lambda o: (o,), {"alpha": 2}),
    ("sub_", lambda o: (o,), {}),
    ("mul_", lambda o: (o,), {}),
    ("div_", lambda o: (o,), {}),
    ("pow_", lambda o: (2,), {}),
    ("addcmul_", lambda o: (o, o), {"value": 0.5}),
    ("addcdiv_", lambda o: (o, o + 3), {"value": 2}),
    ("lerp_", lambda o: (o, 0.25), {}),
    ("clamp_", lambda o: (-0.5, 0.5), {}),
]


@pytest.mark.parametrize("name,args,kwargs", BINARY, ids=lambda c: c if isinstance(c, str) else "")
@pytest.mark.parametrize("other_shape", [(3, 4), (4,), (1, 4)])
def test_binary_inplace_matches_torch(name: str, args, kwargs, other_shape) -> None:
    values = RNG.standard_normal((3, 4))
    other_values = RNG.standard_normal(other_shape)
    a, ta = pair(values)
    o, to = pair(other_values)
    ours_args = args(o)
    torch_args = args(to)
    result = getattr(a, name)(*ours_args, **kwargs)
    getattr(ta, name)(*torch_args, **kwargs)
    assert result is a
    assert_same(a, ta)


@pytest.mark.parametrize("name", ["sqrt_", "exp_", "neg_", "abs_", "sigmoid_", "tanh_", "relu_", "zero_"])
def test_unary_inplace(name: str) -> None:
    a, ta = pair(RNG.standard_normal((3, 4)))
    assert getattr(a, name)() is a
    getattr(ta, name)()
    assert_same(a, ta)


def test_operators_are_in_place_and_share_storage() -> None:
    a, ta = pair(np.arange(6.0).reshape(2, 3))
    alias = a
    a += 1
    a *= 2
    a -= at.ones(3)
    a /= 4
    ta += 1
    ta *= 2
    ta -= torch.ones(3)
    ta /= 4
    assert a is alias
    assert_same(a, ta)
    i, ti = pair(np.array([7, -7, 9]), "int64")
    i //= 2
    ti //= 2
    i %= 3
    ti %= 3
    i <<= 1
    ti <<= 1
    i |= 1
    ti |= 1
    assert_same(i, ti)


def test_writes_through_views_reach_the_base() -> None:
    storage = np.zeros((3, 4), dtype=np.float32)
    base = at.from_numpy(storage)
    view = at.from_numpy(storage[:, 1])  # a strided column
    view.add_(5)
    view.mul_(at.tensor([1.0, 2.0, 3.0], device=view.device))  # from_numpy tensors are on the CPU
    transposed = at.from_numpy(storage.T)
    transposed.clamp_(max=12.0)
    np.testing.assert_array_equal(base.numpy()[:, 1], [5.0, 10.0, 12.0])
    assert base.numpy()[:, 0].tolist() == [0.0, 0.0, 0.0]


def test_result_type_cannot_be_cast() -> None:
    i = at.tensor([1, 2, 3])
    with pytest.raises(DTypeError, match="result type Float can't be cast to the desired output type Long"):
        i.add_(1.5)
    with pytest.raises(DTypeError, match="Float can't be cast"):
        i.sqrt_()
    with pytest.raises(DTypeError, match="can't be cast"):
        i /= 2
    b = at.tensor([True, False])
    with pytest.raises(DTypeError, match="Long can't be cast to the desired output type Bool"):
        b.add_(1)
    with pytest.raises(DTypeError, match="ComplexFloat"):
        at.ones(2).mul_(at.tensor([1j, 1j]))
    f = at.ones(2)
    f.add_(at.tensor([1, 2]))  # int into float is fine
    assert f.tolist() == [2.0, 3.0]
    h = at.ones(2, dtype="float16")
    h.add_(at.tensor([0.5, 0.25], dtype="float64"))
    assert h.dtype.name == "float16" and h.tolist() == [1.5, 1.25]


def test_inplace_cannot_broadcast_self() -> None:
    a = at.ones(4)
    with pytest.raises(ShapeError, match=r"output with shape \(4,\) doesn't match the broadcast shape \(3, 4\)"):
        a.add_(at.ones(3, 4))
    with pytest.raises(ShapeError):
        a.copy_(at.ones(3, 4))


def test_copy_casts_broadcasts_and_keeps_storage() -> None:
    storage = np.zeros((2, 3), dtype=np.int32)
    a = at.from_numpy(storage)
    a.copy_(at.tensor([1.7, -2.7, 3.2]))
    ta = torch.zeros((2, 3), dtype=torch.int32).copy_(torch.tensor([1.7, -2.7, 3.2]))
    assert_same(a, ta)
    assert storage.tolist() == ta.tolist()
    b = at.zeros(3, dtype="bfloat16")
    b.copy_(at.tensor([1.0039, 2.5, 1e-3], dtype="float64"))
    tb = torch.zeros(3, dtype=torch.bfloat16).copy_(torch.tensor([1.0039, 2.5, 1e-3], dtype=torch.float64))
    np.testing.assert_array_equal(b.numpy().astype(np.float32), tb.float().numpy())
    with pytest.raises(TypeError):
        a.copy_([1, 2, 3])


def test_fill_and_zero() -> None:
    a, ta = pair(np.ones((2, 2)), "int64")
    a.fill_(2.9)
    ta.fill_(2.9)
    assert_same(a, ta)
    a.fill_(at.tensor(5))
    assert a.tolist() == [[5, 5], [5, 5]]
    with pytest.raises(ShapeError):
        a.fill_(at.tensor([1, 2]))
    assert a.zero_().tolist() == [[0, 0], [0, 0]]


def test_random_fills_are_seeded_and_in_range() -> None:
    g1, g2 = at.Generator(5), at.Generator(5)
    a = at.empty(1000).uniform_(-2, 3, generator=g1)
    b = at.empty(1000).uniform_(-2, 3, generator=g2)
    assert a.tolist() == b.tolist()
    values = a.numpy()
    assert values.min() >= -2 and values.max() < 3
    # Against the same host stream drawn directly from NumPy's PCG64.
    expected = np.random.Generator(np.random.PCG64(5)).random(1000) * 5 - 2
    np.testing.assert_allclose(values, expected.astype(np.float32))
    n = at.empty(20000, dtype="float64").normal_(1.5, 2.0, generator=at.Generator(1))
    expected_n = np.random.Generator(np.random.PCG64(1)).standard_normal(20000) * 2.0 + 1.5
    np.testing.assert_allclose(n.numpy(), expected_n)
    with pytest.raises(DTypeError):
        at.zeros(3, dtype="int64").uniform_()
    with pytest.raises(ValueError):
        at.zeros(3).normal_(0, -1)

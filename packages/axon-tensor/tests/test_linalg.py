"""matmul, mm, bmm, mv, dot, outer, addmm, baddbmm, tensordot and einsum against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError, ShapeError

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(3)


def pair(shape, dtype="float64"):
    values = RNG.standard_normal(shape) if "float" in dtype else RNG.integers(-4, 5, shape)
    return at.tensor(values).to(dtype), torch.tensor(values).to(getattr(torch, dtype))


def assert_matches(ours, ref, tol=1e-10):
    assert ours.dtype.name == str(ref.dtype).removeprefix("torch.")
    assert tuple(ours.shape) == tuple(ref.shape)
    expected = ref.float().numpy() if ref.dtype == torch.bfloat16 else ref.numpy()
    actual = ours.numpy().astype(np.float32) if ours.dtype.name == "bfloat16" else ours.numpy()
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((3,), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((1, 2, 3), (6, 3, 4)),
    ((2, 1, 2, 3), (4, 3, 2)),
    ((5, 2, 3), (3,)),
    ((0, 3), (3, 2)),
    ((2, 0), (0, 3)),
]


@pytest.mark.parametrize("left,right", MATMUL_SHAPES, ids=str)
def test_matmul_shapes(left, right) -> None:
    a, ta = pair(left)
    b, tb = pair(right)
    assert_matches(a @ b, ta @ tb)
    assert_matches(at.matmul(a, b), torch.matmul(ta, tb))


@pytest.mark.parametrize(
    "dtype,tol",
    [("float32", 1e-5), ("float16", 5e-3), ("bfloat16", 5e-2), ("int64", 0), ("int32", 0), ("complex64", 1e-5)],
)
def test_matmul_dtypes(dtype: str, tol: float) -> None:
    if dtype == "complex64":
        values = RNG.standard_normal((2, 3)) + 1j * RNG.standard_normal((2, 3))
        a, ta = at.tensor(values, dtype="complex64"), torch.tensor(values, dtype=torch.complex64)
        other = values.T.copy()
        assert_matches(a @ at.tensor(other, dtype="complex64"), ta @ torch.tensor(other, dtype=torch.complex64), tol)
        return
    a, ta = pair((4, 8), dtype)
    b, tb = pair((8, 3), dtype)
    assert_matches(a @ b, ta @ tb, tol)


def test_strict_variants() -> None:
    a, ta = pair((2, 3))
    b, tb = pair((3, 4))
    v, tv = pair((3,))
    assert_matches(at.mm(a, b), torch.mm(ta, tb))
    assert_matches(at.mv(a, v), torch.mv(ta, tv))
    assert_matches(at.dot(v, v), torch.dot(tv, tv))
    assert_matches(at.vdot(v, v), torch.vdot(tv, tv))
    assert_matches(at.outer(v, v), torch.outer(tv, tv))
    x, tx = pair((5, 2, 3))
    y, ty = pair((5, 3, 4))
    assert_matches(at.bmm(x, y), torch.bmm(tx, ty))
    with pytest.raises(ShapeError, match="bmm"):
        at.bmm(a, b)
    with pytest.raises(ShapeError, match="batch sizes"):
        at.bmm(x, pair((4, 3, 4))[0])
    with pytest.raises(ShapeError, match="mm"):
        at.mm(v, b)
    with pytest.raises(ShapeError, match="dot"):
        at.dot(v, pair((4,))[0])


def test_add_variants() -> None:
    c, tc = pair((2, 4))
    a, ta = pair((2, 3))
    b, tb = pair((3, 4))
    assert_matches(at.addmm(c, a, b), torch.addmm(tc, ta, tb))
    assert_matches(at.addmm(c, a, b, beta=0.5, alpha=2.0), torch.addmm(tc, ta, tb, beta=0.5, alpha=2.0))
    nan_c = at.full((2, 4), float("nan"), dtype="float64")
    assert_matches(
        at.addmm(nan_c, a, b, beta=0),
        torch.addmm(torch.full((2, 4), float("nan"), dtype=torch.float64), ta, tb, beta=0),
    )
    bias, tbias = pair((4,))
    assert_matches(at.addmm(bias, a, b), torch.addmm(tbias, ta, tb))
    x, tx = pair((5, 2, 3))
    y, ty = pair((5, 3, 4))
    base, tbase = pair((5, 2, 4))
    assert_matches(at.baddbmm(base, x, y, beta=2, alpha=-1), torch.baddbmm(tbase, tx, ty, beta=2, alpha=-1))
    v, tv = pair((3,))
    out, tout = pair((2,))
    assert_matches(at.addmv(out, a, v), torch.addmv(tout, ta, tv))
    with pytest.raises(ShapeError, match="addmm"):
        at.addmm(pair((3, 4))[0], a, b)


def test_errors_name_op_and_shapes() -> None:
    with pytest.raises(ShapeError, match=r"matmul: shapes \(2, 3\) and \(4, 5\)"):
        at.ones(2, 3) @ at.ones(4, 5)
    with pytest.raises(ShapeError, match="at least 1-D"):
        at.tensor(2.0) @ at.ones(2)
    with pytest.raises(DTypeError, match="one dtype"):
        at.ones(2, 2) @ at.ones(2, 2, dtype="float64")
    with pytest.raises(DTypeError, match="bool"):
        at.ones(2, 2, dtype="bool") @ at.ones(2, 2, dtype="bool")


@pytest.mark.parametrize("dims", [0, 1, 2, ([1, 0], [0, 1]), ([2], [1])])
def test_tensordot(dims) -> None:
    a, ta = pair((3, 4, 5))
    b, tb = pair((4, 5, 2) if dims in (1, 2, 0) else ((4, 3, 2) if dims == ([1, 0], [0, 1]) else (2, 5)))
    if dims == 1:
        b, tb = pair((5, 2))
    assert_matches(at.tensordot(a, b, dims), torch.tensordot(ta, tb, dims))


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->ji", [(2, 3)]),
    ("i,j->ij", [(2,), (3,)]),
    ("...ij,...jk->...ik", [(2, 5, 2, 3), (5, 3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 8), (2, 3, 6, 8)]),
    ("i,i", [(4,), (4,)]),
    ("ijk", [(2, 3, 4)]),
    ("ab,ab->", [(30, 40), (30, 40)]),
    ("bij,jk->bik", [(4, 30, 40), (40, 50)]),
]


@pytest.mark.parametrize("equation,shapes", EINSUM_CASES, ids=lambda c: str(c))
def test_einsum(equation: str, shapes) -> None:
    operands = [pair(s) for s in shapes]
    ours = at.einsum(equation, *[o[0] for o in operands])
    assert_matches(ours, torch.einsum(equation, *[o[1] for o in operands]))
    assert_matches(at.einsum(equation, [o[0] for o in operands]), torch.einsum(equation, *[o[1] for o in operands]))


def test_einsum_validation() -> None:
    a, b = at.ones(2, 3), at.ones(4, 5)
    with pytest.raises(ShapeError, match="size 3 and 4"):
        at.einsum("ij,jk->ik", a, b)
    with pytest.raises(ShapeError, match="2 operand subscripts but 1"):
        at.einsum("ij,jk->ik", a)
    with pytest.raises(ShapeError, match="do not fit"):
        at.einsum("ijk->i", a)
    with pytest.raises(ShapeError, match="invalid subscripts"):
        at.einsum("i1,jk", a, b)
    with pytest.raises(ShapeError, match="appear in no input"):
        at.einsum("ij->iz", a)


def test_non_contiguous_operands() -> None:
    base = RNG.standard_normal((4, 6))
    t = at.from_numpy(base.T)
    np.testing.assert_allclose((t @ at.from_numpy(base)).numpy(), base.T @ base)
    np.testing.assert_allclose(at.einsum("ij,ij->i", t, t).numpy(), np.einsum("ij,ij->i", base.T, base.T))

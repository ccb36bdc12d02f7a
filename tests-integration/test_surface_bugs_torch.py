"""Issue 22 §2: the bugs a peer op suite found, each checked against PyTorch 2.13 CPU."""

from __future__ import annotations

import math
import operator
import warnings

import numpy as np
import pytest

import axon
import axon.nn.functional as F
from axon_core import DTypeError, ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.slow


def variable(array, requires_grad=True):
    return axon.Variable(axon.tensor(np.asarray(array)), requires_grad=requires_grad)


def close(got, want, tol=1e-6):
    got = got.detach().numpy() if isinstance(got, axon.Variable) else np.asarray(got)
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


# -- Variable.sort / topk with positional arguments -----------------------------------------------
@pytest.mark.parametrize(
    "name, args",
    [("sort", (1, True)), ("sort", (0, False)), ("topk", (2, 1, True, True)), ("topk", (2, 0, False))],
)
def test_sort_topk_positional_arguments_and_gradient(name: str, args: tuple) -> None:
    a = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    v, t = variable(a), torch.tensor(a, requires_grad=True)
    got, want = getattr(v, name)(*args), getattr(t, name)(*args)
    close(got.values, want.values)
    np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    w = np.random.default_rng(1).standard_normal(tuple(want.values.shape)).astype(np.float32)
    (got.values * axon.tensor(w)).sum().backward()
    (want.values * torch.tensor(w)).sum().backward()
    close(v.grad, t.grad)


# -- reductions with dim on a 0-d Variable ---------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "prod", "logsumexp", "mean", "amax", "amin", "std", "var", "norm"])
@pytest.mark.parametrize("dim", [0, -1, (0,)])
def test_reduction_with_dim_on_0d_variable(name: str, dim) -> None:
    if name == "prod" and isinstance(dim, tuple):
        pytest.skip("torch's prod takes a single int dim")
    if name == "norm":
        v, t = variable(np.float64(-2.5)), torch.tensor(-2.5, dtype=torch.float64, requires_grad=True)
        got, want = v.norm(2, dim), t.norm(2, dim)
    else:
        v, t = variable(np.float64(-2.5)), torch.tensor(-2.5, dtype=torch.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got, want = getattr(v, name)(dim), getattr(t, name)(dim)
    close(got, want)
    got.backward()
    want.backward()
    close(v.grad, t.grad)


# -- reflected operators ---------------------------------------------------------------------------
OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
    "<<": operator.lshift,
    ">>": operator.rshift,
}


@pytest.mark.parametrize("symbol", list(OPERATORS))
@pytest.mark.parametrize("scalar", [100, 100.5, -3, True])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
@pytest.mark.parametrize("kind", ["tensor", "variable"])
def test_reflected_operators_match_torch(symbol: str, scalar, dtype: str, kind: str) -> None:
    f = OPERATORS[symbol]
    a = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.25]]).astype(dtype)
    if dtype == "int64":
        a = np.array([[1, -2, 3], [5, 4, -1]], dtype=np.int64)
    x = axon.tensor(a) if kind == "tensor" else variable(a, requires_grad=False)
    try:
        want = f(scalar, torch.tensor(a))
    except (RuntimeError, TypeError):
        with pytest.raises((RuntimeError, TypeError, DTypeError)):
            f(scalar, x)
        return
    got = f(scalar, x)
    got_array = got.numpy() if kind == "tensor" else got.data.numpy()
    assert str(got_array.dtype) == str(want.numpy().dtype)
    np.testing.assert_allclose(got_array, want.numpy(), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("scalar", [100, 100.5, -7.25])
def test_reflected_remainder_gradient(scalar) -> None:
    a = np.array([1.7, -2.3, 3.1, 7.3], dtype=np.float64)  # no exact divisor: remainder is smooth there
    v, t = variable(a), torch.tensor(a, requires_grad=True)
    got, want = scalar % v, scalar % t
    close(got, want)
    # torch has no derivative of remainder in its second operand: central differences instead.
    got.sum().backward()
    step = 1e-6
    numeric = ((scalar % torch.tensor(a + step)) - (scalar % torch.tensor(a - step))) / (2 * step)
    close(v.grad, numeric, 1e-5)


# -- F.pad with negative pads ----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads", [(-1, -2), (-1, 3), (2, -3), (-3, -3), (-6, 0), (-7, 1), (1, 2), (-1, 1, 1, -1)])
def test_pad_negative_widths_crop_like_torch(mode: str, pads: tuple) -> None:
    a = np.arange(36.0).reshape(1, 6, 6)
    try:
        want = TF.pad(torch.tensor(a, requires_grad=True), pads, mode=mode)
    except RuntimeError:
        with pytest.raises(ShapeError):
            F.pad(variable(a), pads, mode=mode)
        return
    t = torch.tensor(a, requires_grad=True)
    v = variable(a)
    want = TF.pad(t, pads, mode=mode)
    got = F.pad(v, pads, mode=mode)
    close(got, want)
    if want.numel():
        w = np.random.default_rng(0).standard_normal(tuple(want.shape))
        (got * axon.tensor(w)).sum().backward()
        (want * torch.tensor(w)).sum().backward()
        close(v.grad, t.grad)


def test_pad_constant_that_crops_past_zero_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match="pad"):
        F.pad(axon.ones(1, 4), (-3, -3))


# -- mixed basic / advanced indexing follows torch -------------------------------------------------
def _random_key(rng, shape):
    key, dim = [], 0
    for _ in range(int(rng.integers(1, 6))):
        if dim >= len(shape):
            break
        size = shape[dim]
        r = rng.random()
        if r < 0.3:
            key.append(int(rng.integers(-size, size)))
            dim += 1
        elif r < 0.55:
            key.append(slice(int(rng.integers(0, size)), size, int(rng.integers(1, 3))))
            dim += 1
        elif r < 0.85:
            index_shape = tuple(int(s) for s in rng.integers(1, 4, size=int(rng.integers(0, 3))))
            key.append(rng.integers(-size, size, index_shape))
            dim += 1
        elif r < 0.92:
            key.append(None)
        else:
            key.append(slice(None))
            dim += 1
    return tuple(key)


def test_issue_example_index_places_tensor_dims_like_torch() -> None:
    a = np.arange(2 * 3 * 12 * 5 * 4 * 4, dtype=np.float32).reshape(2, 3, 12, 5, 4, 4)
    d = np.random.default_rng(0).integers(0, 5, (5, 1, 1, 5))
    got = axon.tensor(a)[1, :, 3:11:2, axon.tensor(d), 0:2]
    want = torch.tensor(a)[1, :, 3:11:2, torch.tensor(d), 0:2]
    assert tuple(got.shape) == tuple(want.shape) == (3, 4, 5, 1, 1, 5, 2, 4)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("seed", range(4))
def test_mixed_indexing_get_set_and_gradient_match_torch(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (2, 3, 6, 5, 4)
    a = rng.standard_normal(shape)
    compared = 0
    for _ in range(150):
        key = _random_key(rng, shape)
        tkey = tuple(torch.tensor(k) if isinstance(k, np.ndarray) else k for k in key)
        akey = tuple(axon.tensor(k) if isinstance(k, np.ndarray) else k for k in key)
        try:
            want = torch.tensor(a)[tkey]
        except IndexError:
            continue
        compared += 1
        got = axon.tensor(a)[akey]
        assert tuple(got.shape) == tuple(want.shape), key
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        # setitem with a broadcast scalar (repeated indices make distinct values ambiguous)
        tt, at_ = torch.tensor(a), axon.tensor(a.copy())
        tt[tkey] = 7.0
        at_[akey] = 7.0
        np.testing.assert_array_equal(at_.numpy(), tt.numpy())
        # gradient: repeated indices accumulate
        t, v = torch.tensor(a, requires_grad=True), variable(a)
        w = rng.standard_normal(tuple(want.shape))
        (t[tkey] * torch.tensor(w)).sum().backward()
        (v[akey] * axon.tensor(w)).sum().backward()
        close(v.grad, t.grad, 1e-12)
    assert compared > 50


# -- var / std backward with no degrees of freedom -------------------------------------------------
@pytest.mark.parametrize("values", [[1.0], [1.0, 3.0], [1.0, 2.0, 7.0]])
@pytest.mark.parametrize("correction", [1, 2, 3, 5])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_backward_without_degrees_of_freedom(values, correction: int, name: str) -> None:
    a = np.array(values)
    v, t = variable(a), torch.tensor(a, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = getattr(v, name)(correction=correction), getattr(t, name)(correction=correction)
        close(got, want)
        got.backward()
        want.backward()
    close(v.grad, t.grad)


# -- pow gradients at the edges --------------------------------------------------------------------
def test_pow_gradients_at_zero_base_and_negative_exponents() -> None:
    bases = np.array([0.0, 0.0, 0.0, -2.0, 2.0, 0.0, 3.0])
    exponents = np.array([-0.3, 0.0, 2.0, 3.0, -1.5, -1.0, 0.0])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        tb, te = torch.tensor(bases, requires_grad=True), torch.tensor(exponents, requires_grad=True)
        vb, ve = variable(bases), variable(exponents)
        (tb**te).sum().backward()
        (vb**ve).sum().backward()
        close(vb.grad, tb.grad)
        close(ve.grad, te.grad)
        for scalar_base in (0.0, 2.0, -2.0):
            te, ve = torch.tensor(exponents, requires_grad=True), variable(exponents)
            (scalar_base**te).sum().backward()
            (scalar_base**ve).sum().backward()
            close(ve.grad, te.grad)
        for scalar_exponent in (0.0, -1.0, 2.0):
            tb, vb = torch.tensor(bases, requires_grad=True), variable(bases)
            (tb**scalar_exponent).sum().backward()
            (vb**scalar_exponent).sum().backward()
            close(vb.grad, tb.grad)


# -- max_pool2d on integers ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int32", "int64", "int16", "uint8"])
@pytest.mark.parametrize(
    "options", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1}, {"kernel_size": 2, "dilation": 2}]
)
def test_max_pool2d_pools_integers(dtype: str, options: dict) -> None:
    a = np.random.default_rng(0).integers(0, 100, (2, 3, 7, 8)).astype(dtype)
    got, got_index = F.max_pool2d(axon.tensor(a), return_indices=True, **options)
    want, want_index = TF.max_pool2d(torch.tensor(a), return_indices=True, **options)
    assert got.dtype.name == dtype
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(got_index.numpy(), want_index.numpy())


# -- einsum backward with ellipsis and repeated labels ---------------------------------------------
EINSUM_CASES = [
    ("...ij,...jk->...ik", [(2, 3, 3), (2, 3, 4)]),
    ("...ij,...jk", [(5, 2, 3, 3), (2, 3, 4)]),
    ("bii->bi", [(2, 3, 3)]),
    ("ii", [(4, 4)]),
    ("ii->i", [(4, 4)]),
    ("iji->j", [(3, 2, 3)]),
    ("iii->i", [(3, 3, 3)]),
    ("...ii->...i", [(2, 5, 3, 3)]),
    ("i...,i...->...", [(3, 1, 4), (3, 2, 4)]),
    ("ij,ij->", [(3, 1), (3, 4)]),
    ("a...b,b...->a...", [(2, 3, 4), (4, 3)]),
    ("...,...->...", [(3, 1), (1, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
]


@pytest.mark.parametrize("equation, shapes", EINSUM_CASES)
def test_einsum_backward_ellipsis_and_repeated_labels(equation: str, shapes: list) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    vs = [variable(a) for a in arrays]
    want, got = torch.einsum(equation, *ts), axon.einsum(equation, *vs)
    close(got, want, 1e-12)
    w = rng.standard_normal(tuple(want.shape))
    (want * torch.tensor(w)).sum().backward()
    (got * axon.tensor(w)).sum().backward()
    for v, t in zip(vs, ts):
        close(v.grad, t.grad, 1e-12)


def test_einsum_repeated_label_double_backward() -> None:
    a = np.random.default_rng(0).standard_normal((3, 3))
    t, v = torch.tensor(a, requires_grad=True), variable(a)
    (gt,) = torch.autograd.grad((torch.einsum("ii->i", t) ** 2).sum(), t, create_graph=True)
    (gv,) = axon.autograd.grad((axon.einsum("ii->i", v) ** 2).sum(), v, create_graph=True)
    close(gv, gt, 1e-12)
    (ggt,) = torch.autograd.grad((gt**2).sum(), t)
    (ggv,) = axon.autograd.grad((gv**2).sum(), v)
    close(ggv, ggt, 1e-12)


# -- argument checks -------------------------------------------------------------------------------
def test_creation_argument_checks_match_torch() -> None:
    with pytest.raises(TypeError, match="zeros"):
        axon.zeros(2.5)
    with pytest.raises(TypeError):
        axon.ones(2, 2.0)
    with pytest.raises(ShapeError, match="zeros"):
        axon.zeros(-1)
    with pytest.raises(ShapeError, match="randperm"):
        axon.randperm(-1)
    with pytest.raises(ValueError, match="arange"):
        axon.arange(10, 0, 1)
    with pytest.raises(ValueError, match="arange"):
        axon.arange(0, 10, -1)
    assert axon.arange(0, 0, 1).numel() == torch.arange(0, 0, 1).numel() == 0
    with pytest.raises(ShapeError, match="reshape"):
        axon.arange(6).reshape(-2, 3)
    with pytest.raises(ShapeError, match="reshape"):
        axon.reshape(axon.arange(6), (-2, 3))


@pytest.mark.parametrize(
    "value, dtype",
    [(float("nan"), "int64"), (float("inf"), "int32"), (300, "uint8"), (1e10, "int32"), (2.5, "int64"), (-1, "uint8")],
)
def test_full_fill_value_checked_against_dtype(value, dtype: str) -> None:
    try:
        want = torch.full((2,), value, dtype=getattr(torch, dtype))
    except RuntimeError:
        with pytest.raises(DTypeError, match="full"):
            axon.full((2,), value, dtype=getattr(axon, dtype))
        return
    got = axon.full((2,), value, dtype=getattr(axon, dtype))
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_linear_refuses_mixed_dtypes_like_torch() -> None:
    x, w = torch.ones(2, 3, dtype=torch.float64), torch.ones(4, 3)
    with pytest.raises(RuntimeError):
        TF.linear(x, w)
    with pytest.raises(DTypeError, match="linear"):
        F.linear(axon.ones(2, 3, dtype=axon.float64), axon.ones(4, 3))


@pytest.mark.parametrize(
    "call",
    [
        lambda: F.max_pool2d(axon.ones(1, 1, 4, 4), 2, stride=0),
        lambda: F.max_pool2d(axon.ones(1, 1, 4, 4), 0),
        lambda: F.avg_pool2d(axon.ones(1, 1, 4, 4), 2, stride=0),
        lambda: F.max_pool1d(axon.ones(1, 1, 4), 2, stride=0),
        lambda: F.avg_pool1d(axon.ones(1, 1, 4), 0),
        lambda: F.conv2d(axon.ones(1, 1, 4, 4), axon.ones(1, 1, 2, 2), stride=0),
        lambda: F.conv1d(axon.ones(1, 1, 4), axon.ones(1, 1, 2), dilation=0),
        lambda: F.conv2d(axon.ones(1, 1, 4, 4), axon.ones(1, 1, 0, 2)),
        lambda: F.conv_transpose2d(axon.ones(1, 1, 4, 4), axon.ones(1, 1, 2, 2), stride=0),
    ],
)
def test_zero_stride_or_kernel_is_a_value_error_naming_the_op(call) -> None:
    with pytest.raises(ValueError, match=r"(pool|conv)\w*: (stride|kernel|dilation)"):
        call()


def test_optimizer_state_of_the_wrong_shape_is_a_shape_error() -> None:
    p = axon.nn.Parameter(axon.ones(3))
    optimizer = axon.optim.Adam([p])
    p.sum().backward()
    optimizer.step()
    state = optimizer.state_dict()
    state["state"][0]["exp_avg"] = axon.ones(4)
    with pytest.raises(ShapeError, match="exp_avg"):
        axon.optim.Adam([p]).load_state_dict(state)


def test_median_of_empty_is_nan_like_torch() -> None:
    assert math.isnan(axon.tensor(np.zeros(0, dtype=np.float32)).median().item())
    assert math.isnan(torch.tensor([]).median().item())
    got = axon.tensor(np.zeros((3, 0), dtype=np.float32)).median(0)
    want = torch.zeros(3, 0).median(0)
    assert tuple(got.values.shape) == tuple(want.values.shape)

"""Issue 22 §1: ops PyTorch users reach for, against PyTorch 2.13 CPU.

One row per case: forward, gradient (float64) and dtype against torch, on random inputs and on
edge inputs (empty, 0-d, non-contiguous, broadcast, negative dims, NaN/±inf, integer/bool).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import axon
import axon.nn as nn
import axon.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.slow

RNG = np.random.default_rng(22)


def _random(shape, kind="float64"):
    if kind == "bool":
        return RNG.random(shape) > 0.5
    if kind.startswith("int"):
        return RNG.integers(-5, 6, shape).astype(kind)
    return (RNG.standard_normal(shape) * 2).astype(kind)


def _edges(shape):
    """Random values with NaN, +inf and -inf sprinkled in."""
    a = _random(shape)
    flat = a.reshape(-1)
    if flat.size >= 3:
        flat[0], flat[1], flat[2] = np.nan, np.inf, -np.inf
    return a


def _transposed(a):
    """A non-contiguous view with ``a``'s values (transpose of a transposed copy)."""
    return np.ascontiguousarray(a.T).T if a.ndim >= 2 else a


def _as_axon(a, grad):
    t = axon.tensor(a)
    if a.ndim >= 2 and not a.flags.c_contiguous:
        t = axon.tensor(np.ascontiguousarray(a.T)).transpose(0, -1) if a.ndim == 2 else axon.tensor(a)
    return axon.Variable(t, requires_grad=True) if grad else t


def _np(x):
    if isinstance(x, axon.Variable):
        x = x.data
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return x.numpy()


def run_both(axon_fn, torch_fn, arrays, grad=True, tol=1e-10):
    """Forward, dtype and (for float inputs) gradients of ``axon_fn`` vs ``torch_fn`` on ``arrays``."""
    grad = grad and all(a.dtype.kind == "f" for a in arrays)
    ts = [torch.tensor(np.array(a, order="C"), requires_grad=grad) for a in arrays]
    xs = [_as_axon(a, grad) for a in arrays]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        want, got = torch_fn(*ts), axon_fn(*xs)
        wants = want if isinstance(want, tuple) else (want,)
        gots = got if isinstance(got, tuple) else (got,)
        for w, g in zip(wants, gots):
            assert tuple(w.shape) == tuple(g.shape)
            assert str(w.dtype).replace("torch.", "") == g.dtype.name
            np.testing.assert_allclose(_np(g), _np(w), rtol=tol, atol=tol, equal_nan=True)
        if not grad or not wants[0].dtype.is_floating_point or wants[0].numel() == 0:
            return
        weight = RNG.standard_normal(tuple(wants[0].shape))
        (wants[0] * torch.tensor(weight)).sum().backward()
        (gots[0] * axon.tensor(weight)).sum().backward()
        for t, x in zip(ts, xs):
            zero = t.grad is None or t.grad._is_zerotensor()  # torch's symbolic zero gradient (sgn)
            want_grad = np.zeros(t.shape) if zero else t.grad.numpy()
            got_grad = np.zeros(t.shape) if x.grad is None else _np(x.grad)
            np.testing.assert_allclose(got_grad, want_grad, rtol=tol, atol=tol, equal_nan=True)


# -- binary and scan ops ------------------------------------------------------------------------------
BINARY = [
    ("logaddexp", axon.logaddexp, torch.logaddexp),
    ("logaddexp2", axon.logaddexp2, torch.logaddexp2),
    ("copysign", axon.copysign, torch.copysign),
]


@pytest.mark.parametrize("name, ours, theirs", BINARY)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((), (2, 3)), ((0, 3), (1, 3))])
def test_binary_ops_random_and_broadcast(name, ours, theirs, shapes) -> None:
    run_both(ours, theirs, [_random(shapes[0]), _random(shapes[1])])


@pytest.mark.parametrize("name, ours, theirs", BINARY)
def test_binary_ops_nan_inf_forward(name, ours, theirs) -> None:
    a, b = _edges((3, 4)), _edges((3, 4))
    b.reshape(-1)[:3] = [np.inf, np.inf, -np.inf]
    run_both(ours, theirs, [a, b], grad=False)


@pytest.mark.parametrize("name, ours, theirs", BINARY[:2])
def test_logaddexp_of_integers_promotes_like_torch(name, ours, theirs) -> None:
    a, b = _random((3,), "int32"), _random((3,), "int32")
    try:
        want = theirs(torch.tensor(a), torch.tensor(b))
    except (RuntimeError, NotImplementedError):
        pytest.skip(f"torch has no integer {name}")
    got = ours(axon.tensor(a), axon.tensor(b))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


SCANS = [
    ("cumprod", lambda x, d: x.cumprod(d), lambda x, d: x.cumprod(d)),
    ("logcumsumexp", lambda x, d: x.logcumsumexp(d), lambda x, d: x.logcumsumexp(d)),
    ("cummax", lambda x, d: x.cummax(d), lambda x, d: tuple(x.cummax(d))),
    ("cummin", lambda x, d: x.cummin(d), lambda x, d: tuple(x.cummin(d))),
]


@pytest.mark.parametrize("name, ours, theirs", SCANS)
@pytest.mark.parametrize(
    "shape, dim", [((3, 5), 1), ((3, 5), 0), ((2, 3, 4), -1), ((2, 3, 4), -2), ((), 0), ((0, 3), 1)]
)
def test_scans_random_negative_dims_0d_empty(name, ours, theirs, shape, dim) -> None:
    a = _random(shape)
    if name == "cumprod" and a.size:
        a.reshape(-1)[0] = 0.0  # a zero: cumprod's gradient must not divide by it
    run_both(lambda x: ours(x, dim), lambda x: theirs(x, dim), [a])


@pytest.mark.parametrize("name, ours, theirs", SCANS)
def test_scans_non_contiguous_and_nan_inf(name, ours, theirs) -> None:
    run_both(lambda x: ours(x, 1), lambda x: theirs(x, 1), [_transposed(_random((4, 5)))])
    run_both(lambda x: ours(x, 1), lambda x: theirs(x, 1), [_edges((3, 5))], grad=False)


@pytest.mark.parametrize("name", ["cummax", "cummin", "cumprod"])
@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_scans_on_integers(name: str, dtype: str) -> None:
    a = _random((3, 6), dtype)
    want = getattr(torch.tensor(a), name)(1)
    got = getattr(axon.tensor(a), name)(1)
    wants = tuple(want) if isinstance(want, tuple) else (want,)
    gots = tuple(got) if isinstance(got, tuple) else (got,)
    for w, g in zip(wants, gots):
        assert str(w.dtype).replace("torch.", "") == g.dtype.name
        np.testing.assert_array_equal(g.numpy(), w.numpy())


# -- diagonals and grids --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, args",
    [((4, 5), (0, 0, 1)), ((4, 5), (2, 0, 1)), ((4, 5), (-3, 1, 0)), ((2, 3, 4), (1, -1, -3)), ((3, 3), (9, 0, 1))],
)
def test_diagonal(shape, args) -> None:
    run_both(lambda x: x.diagonal(*args), lambda x: x.diagonal(*args), [_random(shape)])
    run_both(lambda x: x.diagonal(*args), lambda x: x.diagonal(*args), [_transposed(_random(shape))])


def test_diagonal_is_a_view_like_torch() -> None:
    x = axon.zeros(3, 3)
    x.diagonal().fill_(1.0)
    np.testing.assert_array_equal(x.numpy(), np.eye(3))


@pytest.mark.parametrize("shape, args", [((4,), (0,)), ((3,), (2,)), ((3,), (-1,)), ((3, 4), (1,)), ((3, 4), (-2,))])
def test_diag(shape, args) -> None:
    run_both(lambda x: axon.diag(x, *args), lambda x: torch.diag(x, *args), [_random(shape)])


@pytest.mark.parametrize(
    "shape, args", [((2, 3), (0, -2, -1)), ((2, 3), (1, 0, 2)), ((2, 3), (-1, 2, 0)), ((3,), (0,)), ((0, 2), (0,))]
)
def test_diag_embed(shape, args) -> None:
    run_both(lambda x: axon.diag_embed(x, *args), lambda x: torch.diag_embed(x, *args), [_random(shape)])


@pytest.mark.parametrize("indexing", ["ij", "xy"])
@pytest.mark.parametrize("sizes", [(3, 2), (3, 2, 4), (1,), (0, 3)])
def test_meshgrid(indexing: str, sizes: tuple) -> None:
    arrays = [_random((n,)) for n in sizes]
    ours = lambda *xs: axon.meshgrid(*xs, indexing=indexing)  # noqa: E731
    theirs = lambda *xs: tuple(torch.meshgrid(*xs, indexing=indexing))  # noqa: E731
    run_both(
        lambda *xs: tuple(g * (k + 1) for k, g in enumerate(ours(*xs))),
        lambda *xs: tuple(g * (k + 1) for k, g in enumerate(theirs(*xs))),
        arrays,
    )
    # the gradient reaches every input through the sum of all grids
    run_both(lambda *xs: sum(ours(*xs)), lambda *xs: sum(theirs(*xs)), arrays)


# -- activations, normalize, one_hot ----------------------------------------------------------------------
ACTIVATIONS = [
    ("celu", lambda x: F.celu(x, 0.7), lambda x: TF.celu(x, 0.7)),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.8), lambda x: TF.hardtanh(x, -0.5, 0.8)),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid),
    ("softsign", F.softsign, TF.softsign),
    ("hardswish", F.hardswish, TF.hardswish),
    ("relu6", F.relu6, TF.relu6),
    ("selu", F.selu, TF.selu),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid),
    ("softmin", lambda x: F.softmin(x, -1), lambda x: TF.softmin(x, -1)),
    ("normalize", lambda x: F.normalize(x, dim=-1), lambda x: TF.normalize(x, dim=-1)),
    ("normalize_p1", lambda x: F.normalize(x, p=1, dim=0), lambda x: TF.normalize(x, p=1, dim=0)),
]


@pytest.mark.parametrize("name, ours, theirs", ACTIVATIONS)
@pytest.mark.parametrize("case", ["random", "zeros", "non_contiguous", "empty", "large"])
def test_activations(name, ours, theirs, case) -> None:
    a = {
        "random": _random((3, 4)),
        "zeros": np.zeros((2, 3)),
        "non_contiguous": _transposed(_random((4, 5))),
        "empty": np.zeros((0, 3)),
        "large": _random((3, 4)) * 50,
    }[case]
    run_both(ours, theirs, [a], tol=1e-7)


@pytest.mark.parametrize(
    "name, ours, theirs", [row for row in ACTIVATIONS[:8] if row[0] not in ("softsign", "hardswish")]
)
def test_activations_nan_inf(name, ours, theirs) -> None:
    # softsign(±inf) is ±1 here (the limit) where torch's x / (1 + |x|) gives nan; hardswish(-inf) 0 vs nan.
    run_both(ours, theirs, [_edges((3, 4))], grad=False)


@pytest.mark.parametrize(
    "module, torch_module",
    [
        (nn.Softmin(1), torch.nn.Softmin(1)),
        (nn.LogSigmoid(), torch.nn.LogSigmoid()),
        (nn.CELU(0.5), torch.nn.CELU(0.5)),
        (nn.Hardtanh(-2.0, 2.0), torch.nn.Hardtanh(-2.0, 2.0)),
        (nn.Hardsigmoid(), torch.nn.Hardsigmoid()),
        (nn.Softsign(), torch.nn.Softsign()),
        (nn.Hardswish(), torch.nn.Hardswish()),
        (nn.ReLU6(), torch.nn.ReLU6()),
        (nn.SELU(), torch.nn.SELU()),
    ],
)
def test_activation_modules(module, torch_module) -> None:
    assert repr(module) == repr(torch_module)
    run_both(module, torch_module, [_random((3, 4)) * 3], tol=1e-7)


@pytest.mark.parametrize("values, classes", [([0, 2, 1], -1), ([[1, 0], [3, 3]], 5), ([], 4), (3, 6)])
def test_one_hot(values, classes) -> None:
    a = np.array(values, dtype=np.int64)
    want = TF.one_hot(torch.tensor(a), classes)
    got = F.one_hot(axon.tensor(a), classes)
    assert got.dtype.name == "int64" and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_one_hot_out_of_range_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="one_hot"):
        F.one_hot(axon.tensor([0, 5]), 3)
    with pytest.raises(ValueError, match="one_hot"):
        F.one_hot(axon.tensor([-1, 0]), 3)


# -- dtypes: aliases, type(), view(dtype) -----------------------------------------------------------------
@pytest.mark.parametrize("name", ["float", "double", "half", "int", "long", "short", "bool", "cfloat", "cdouble"])
def test_dtype_aliases(name: str) -> None:
    assert getattr(axon, name).name == str(getattr(torch, name)).replace("torch.", "")
    assert axon.zeros(2, dtype=getattr(axon, name)).dtype is getattr(axon, name)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool", "float16"])
def test_tensor_type(dtype: str) -> None:
    a = np.arange(4).astype(dtype)
    want, got = torch.tensor(a), axon.tensor(a)
    assert got.type() == want.type().replace("torch.", "axon.")
    for target in ("torch.LongTensor", "torch.DoubleTensor"):
        np.testing.assert_array_equal(got.type(target).numpy(), want.type(target).numpy())
        assert got.type(target).dtype.name == str(want.type(target).dtype).replace("torch.", "")
    assert got.type(axon.float32).dtype is axon.float32


@pytest.mark.parametrize(
    "source, target",
    [("float32", "int32"), ("float32", "uint8"), ("int64", "float32"), ("float64", "int16"), ("int16", "float64")],
)
def test_view_dtype_is_a_bitcast(source: str, target: str) -> None:
    a = _random((3, 8)).astype(source)
    want = torch.tensor(a).view(getattr(torch, target))
    got = axon.tensor(a).view(getattr(axon, target))
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_view_dtype_needs_a_contiguous_last_dim() -> None:
    x = axon.zeros(4, 3).transpose(0, 1)
    with pytest.raises(axon.core.ShapeError, match="view"):
        x.view(axon.float64)


# -- axis= as an alias of dim= ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "sum",
        "mean",
        "std",
        "var",
        "prod",
        "amax",
        "amin",
        "logsumexp",
        "argmax",
        "argmin",
        "all",
        "any",
        "cumsum",
        "std_mean",
        "var_mean",
        "max",
        "min",
    ],
)
def test_axis_alias(name: str) -> None:
    a = _random((3, 4))
    if name in ("all", "any"):
        a = a > 0
    want = getattr(torch, name)(torch.tensor(a), axis=1)
    gots_all = [getattr(axon, name)(axon.tensor(a), axis=1)]
    if hasattr(torch.Tensor, name):
        gots_all.append(getattr(axon.tensor(a), name)(axis=1))
    for got in gots_all:
        wants = tuple(want) if isinstance(want, tuple) else (want,)
        gots = tuple(got) if isinstance(got, tuple) else (got,)
        for w, g in zip(wants, gots):
            np.testing.assert_allclose(_np(g), w.numpy(), rtol=1e-12)
    if a.dtype.kind == "f" and name not in ("argmax", "argmin") and hasattr(torch.Tensor, name):
        v = axon.Variable(axon.tensor(a), requires_grad=True)
        out = getattr(v, name)(axis=1)
        (out[0] if isinstance(out, tuple) else out).sum().backward()
        t = torch.tensor(a, requires_grad=True)
        out_t = getattr(t, name)(axis=1)
        (out_t[0] if isinstance(out_t, tuple) else out_t).sum().backward()
        np.testing.assert_allclose(_np(v.grad), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_axis_and_dim_together_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="axis"):
        axon.ones(2, 2).sum(dim=0, axis=1)


# -- compositions and aliases (axon_tensor.ops.composites) -------------------------------------------------
COMPOSITE_CASES = [
    ("clamp_min", [(3, 4)], lambda x: x.clamp_min(0.3)),
    ("clamp_max", [(3, 4)], lambda x: x.clamp_max(-0.2)),
    ("fliplr", [(3, 4)], lambda x: x.fliplr()),
    ("flipud", [(3, 4)], lambda x: x.flipud()),
    ("msort", [(4, 3)], lambda x: x.msort()),
    ("moveaxis", [(2, 3, 4)], lambda x: x.moveaxis(0, -1)),
    ("broadcast_to", [(3, 1)], lambda x: x.broadcast_to((2, 3, 4))),
    ("deg2rad", [(3, 4)], lambda x: x.deg2rad()),
    ("rad2deg", [(3, 4)], lambda x: x.rad2deg()),
    ("sgn", [(3, 4)], lambda x: x.sgn()),
    ("ravel", [(3, 4)], lambda x: x.ravel()),
    ("trace", [(4, 4)], lambda x: x.trace()),
    ("inner", [(2, 3), (4, 3)], lambda x, y: x.inner(y)),
    ("diff", [(3, 5)], lambda x: x.diff()),
    ("diff_n2_dim0", [(4, 5)], lambda x: x.diff(2, 0)),
    ("diff_prepend", [(3, 5), (3, 2)], lambda x, y: x.diff(dim=1, prepend=y)),
    ("dist", [(3, 4), (3, 4)], lambda x, y: x.dist(y)),
    ("dist_p1", [(3, 4), (1, 4)], lambda x, y: x.dist(y, 1)),
    ("cross", [(4, 3), (4, 3)], lambda x, y: x.cross(y, dim=1)),
]


@pytest.mark.parametrize("name, shapes, call", COMPOSITE_CASES, ids=[c[0] for c in COMPOSITE_CASES])
def test_composites(name, shapes, call) -> None:
    if name == "cross":
        run_both(call, lambda x, y: torch.linalg.cross(x, y, dim=1), [_random(s) for s in shapes])
        return
    run_both(call, call, [_random(s) for s in shapes])


def test_take_along_dim_broadcasts_like_torch() -> None:
    a, idx = _random((3, 4)), RNG.integers(0, 4, (3, 2))
    run_both(lambda x: x.take_along_dim(axon.tensor(idx), 1), lambda x: x.take_along_dim(torch.tensor(idx), 1), [a])
    run_both(lambda x: x.take_along_dim(axon.tensor(idx)), lambda x: x.take_along_dim(torch.tensor(idx)), [a])


@pytest.mark.parametrize(
    "name, args",
    [
        ("cos_", ()),
        ("atan_", ()),
        ("expm1_", ()),
        ("copysign_", (-1.0,)),
        ("fmod_", (0.3,)),
        ("cumsum_", (1,)),
        ("tril_", ()),
        ("eq_", (0.5,)),
        ("clamp_min_", (0.0,)),
        ("deg2rad_", ()),
        ("logical_not_", ()),
        ("hardtanh_", ()),
    ],
)
def test_in_place_variants_write_back_like_torch(name: str, args: tuple) -> None:
    a = np.round(_random((3, 4)), 1)
    a[0, 0] = 0.5
    want = torch.tensor(a)
    got = axon.tensor(a.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        target = torch.nn.functional if name == "hardtanh_" else None
        if target is not None:
            target.hardtanh_(want)
        else:
            getattr(want, name)(*args)
    returned = getattr(got, name)(*args)
    assert returned is got
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


def test_top_level_function_forms() -> None:
    a = _random((3, 4))
    for name in ("fliplr", "ravel", "deg2rad", "is_floating_point", "numel", "msort"):
        want = getattr(torch, name)(torch.tensor(a))
        got = getattr(axon, name)(axon.tensor(a))
        np.testing.assert_allclose(
            np.asarray(_np(got) if hasattr(got, "numpy") else got),
            np.asarray(_np(want) if isinstance(want, torch.Tensor) else want),
        )
    w = _random((2, 3, 2, 2))
    x = _random((1, 3, 5, 5))
    np.testing.assert_allclose(
        _np(axon.conv2d(axon.tensor(x), axon.tensor(w))),
        torch.conv2d(torch.tensor(x), torch.tensor(w)).numpy(),
        rtol=1e-10,
    )


def test_activation_inplace_argument() -> None:
    a = _random((3, 4))
    x, t = axon.tensor(a.copy()), torch.tensor(a.copy())
    assert F.relu(x, inplace=True) is x
    TF.relu(t, inplace=True)
    np.testing.assert_array_equal(x.numpy(), t.numpy())
    module = nn.LeakyReLU(0.1, inplace=True)
    assert repr(module) == repr(torch.nn.LeakyReLU(0.1, inplace=True))
    v = axon.Variable(axon.tensor(a), requires_grad=True)
    y = module(v)  # recorded by autograd: a new Variable, the input keeps its values
    y.sum().backward()
    np.testing.assert_array_equal(_np(v), a)
    np.testing.assert_allclose(_np(v.grad), np.where(a > 0, 1.0, 0.1))


# -- scatter_reduce and scatter(reduce=) -------------------------------------------------------------------
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_reduce(reduce: str, include_self: bool, dim: int) -> None:
    src = _random((3, 5))
    index = RNG.integers(0, 3 if dim == 0 else 5, (3, 5))
    a = _random((3, 5))
    ours = lambda x, s: x.scatter_reduce(dim, axon.tensor(index), s, reduce, include_self=include_self)  # noqa: E731
    theirs = lambda x, s: x.scatter_reduce(dim, torch.tensor(index), s, reduce, include_self=include_self)  # noqa: E731
    run_both(ours, theirs, [a, src], grad=reduce != "prod")


def test_scatter_reduce_ties_share_the_gradient_like_torch() -> None:
    a = np.array([[1.0, 2.0], [3.0, 1.0]])
    src = np.array([[1.0, 5.0], [3.0, 1.0]])
    index = np.array([[0, 1], [0, 1]])
    for reduce in ("amax", "amin"):
        run_both(
            lambda x, s, r=reduce: x.scatter_reduce(0, axon.tensor(index), s, r),
            lambda x, s, r=reduce: x.scatter_reduce(0, torch.tensor(index), s, r),
            [a, src],
        )


@pytest.mark.parametrize("dtype", ["int64", "int32"])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_integers(dtype: str, reduce: str) -> None:
    a, src, index = _random((3, 5), dtype), _random((3, 5), dtype), RNG.integers(0, 5, (3, 5))
    for include_self in (True, False):
        want = torch.tensor(a).scatter_reduce(
            1, torch.tensor(index), torch.tensor(src), reduce, include_self=include_self
        )
        got = axon.tensor(a).scatter_reduce(1, axon.tensor(index), axon.tensor(src), reduce, include_self=include_self)
        assert got.dtype.name == dtype
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_with_reduce(reduce: str) -> None:
    a, src, index = _random((3, 4)), _random((3, 4)), RNG.integers(0, 3, (3, 4))
    run_both(
        lambda x, s: x.scatter(0, axon.tensor(index), s, reduce=reduce),
        lambda x, s: x.scatter(0, torch.tensor(index), s, reduce=reduce),
        [a, src],
        grad=False,  # torch has no derivative of scatter(reduce=)
    )
    want = torch.tensor(a).scatter(0, torch.tensor(index), 2.0, reduce=reduce)
    got = axon.tensor(a).scatter(0, axon.tensor(index), 2.0, reduce=reduce)
    np.testing.assert_allclose(got.numpy(), want.numpy())


def test_scatter_reduce_bad_arguments() -> None:
    x = axon.zeros(3)
    with pytest.raises(ValueError, match="scatter_reduce: reduce"):
        x.scatter_reduce(0, axon.tensor([0]), axon.ones(1), "max")
    with pytest.raises(IndexError, match="scatter_reduce"):
        x.scatter_reduce(0, axon.tensor([3]), axon.ones(1), "sum")
    with pytest.raises(axon.core.DTypeError, match="scatter_reduce"):
        x.scatter_reduce(0, axon.tensor([0]), axon.ones(1, dtype=axon.float64), "sum")


# -- interpolate / Upsample ---------------------------------------------------------------------------------
INTERPOLATE_SHAPES = {1: (2, 3, 7), 2: (2, 3, 5, 6), 3: (1, 2, 3, 4, 5)}
INTERPOLATE_MODES = [
    ("nearest", 1),
    ("nearest", 2),
    ("nearest", 3),
    ("nearest-exact", 2),
    ("linear", 1),
    ("bilinear", 2),
    ("bicubic", 2),
    ("trilinear", 3),
    ("area", 1),
    ("area", 2),
    ("area", 3),
]
INTERPOLATE_SIZES = [
    {"scale_factor": 2.0},
    {"scale_factor": 1.7},
    {"scale_factor": 0.6},
    {"scale_factor": 2.3, "recompute_scale_factor": True},
    {"size": "up"},
    {"size": "down"},
]


# align_corners applies to the linear and cubic modes only (torch and axon refuse it elsewhere).
INTERPOLATE_CASES = [
    (mode, spatial, corners)
    for mode, spatial in INTERPOLATE_MODES
    for corners in ([None] if mode in ("nearest", "nearest-exact", "area") else [None, False, True])
]


@pytest.mark.parametrize("mode, spatial, align_corners", INTERPOLATE_CASES)
@pytest.mark.parametrize("sizing", INTERPOLATE_SIZES, ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items()))
def test_interpolate(mode: str, spatial: int, align_corners, sizing: dict) -> None:
    shape = INTERPOLATE_SHAPES[spatial]
    kwargs = dict(sizing)
    if kwargs.get("size") == "up":
        kwargs["size"] = tuple(2 * n + 1 for n in shape[2:])
    elif kwargs.get("size") == "down":
        kwargs["size"] = tuple(max(1, n // 2) for n in shape[2:])
    run_both(
        lambda x: F.interpolate(x, mode=mode, align_corners=align_corners, **kwargs),
        lambda x: TF.interpolate(x, mode=mode, align_corners=align_corners, **kwargs),
        [_random(shape)],
    )


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", ["uint8"])  # torch's nearest kernels take uint8, not int64
def test_interpolate_nearest_integers(mode: str, dtype: str) -> None:
    a = RNG.integers(0, 100, (1, 2, 3, 4)).astype(dtype)
    want = TF.interpolate(torch.tensor(a), scale_factor=2.5, mode=mode)
    got = F.interpolate(axon.tensor(a), scale_factor=2.5, mode=mode)
    assert got.dtype.name == dtype
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_interpolate_non_contiguous_and_nan() -> None:
    a = _transposed(_random((4, 3, 5, 2)))  # non-contiguous view
    run_both(
        lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
        lambda x: TF.interpolate(x, scale_factor=2, mode="bilinear"),
        [a],
    )
    b = _random((1, 1, 4, 4))
    b[0, 0, 1, 1] = np.nan
    run_both(lambda x: F.interpolate(x, size=(6, 6)), lambda x: TF.interpolate(x, size=(6, 6)), [b], grad=False)


def test_interpolate_bad_arguments() -> None:
    x = axon.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="interpolate"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="interpolate: mode"):
        F.interpolate(x, scale_factor=2, mode="cubic")
    with pytest.raises(axon.core.ShapeError, match="interpolate"):
        F.interpolate(x, scale_factor=2, mode="linear")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, mode="nearest", align_corners=True)
    with pytest.raises(ValueError, match="antialias"):
        F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True)
    with pytest.raises(axon.core.DTypeError, match="interpolate"):
        F.interpolate(axon.zeros(1, 1, 4, 4, dtype=axon.int64), scale_factor=2, mode="bilinear")


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.Upsample(scale_factor=2),
        lambda m: m.Upsample(size=(3, 7), mode="bilinear"),
        lambda m: m.Upsample(scale_factor=(1.5, 2), mode="bicubic", align_corners=True),
        lambda m: m.UpsamplingNearest2d(scale_factor=3),
        lambda m: m.UpsamplingBilinear2d(size=(5, 5)),
    ],
)
def test_upsample_modules(make) -> None:
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    run_both(ours, theirs, [_random((2, 3, 4, 4))])


# -- windows: Tensor.unfold, F.unfold / F.fold, max_unpool, conv_transpose1d ----------------------------------
@pytest.mark.parametrize("args", [(1, 3, 2), (1, 2, 1), (-1, 2, 2), (0, 3, 1), (1, 7, 3), (1, 0, 2)])
def test_tensor_unfold(args) -> None:
    run_both(lambda x: x.unfold(*args), lambda x: x.unfold(*args), [_random((3, 7, 4))])
    run_both(lambda x: x.unfold(*args), lambda x: x.unfold(*args), [_transposed(_random((4, 7, 3)))])


def test_tensor_unfold_is_a_view() -> None:
    x = axon.zeros(6)
    x.unfold(0, 2, 2).select(1, 0).fill_(1.0)
    np.testing.assert_array_equal(x.numpy(), [1, 0, 1, 0, 1, 0])


FOLD_OPTIONS = [
    {"kernel_size": 2},
    {"kernel_size": (2, 3), "stride": (1, 2), "padding": 1, "dilation": (2, 1)},
    {"kernel_size": 3, "stride": 2, "padding": 1},
]


@pytest.mark.parametrize("options", FOLD_OPTIONS)
@pytest.mark.parametrize("batched", [True, False])
def test_unfold_and_fold(options: dict, batched: bool) -> None:
    shape = (2, 3, 7, 6) if batched else (3, 7, 6)
    run_both(lambda x: F.unfold(x, **options), lambda x: TF.unfold(x, **options), [_random(shape)])
    cols = TF.unfold(torch.zeros(shape), **options).shape
    run_both(lambda c: F.fold(c, (7, 6), **options), lambda c: TF.fold(c, (7, 6), **options), [_random(tuple(cols))])


@pytest.mark.parametrize(
    "make", [lambda m: m.Unfold(2), lambda m: m.Unfold((2, 3), padding=1), lambda m: m.Fold((7, 6), 2)]
)
def test_unfold_fold_modules(make) -> None:
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    shape = (2, 3, 7, 6) if "Unfold" in repr(ours) else (2, 12, 30)
    run_both(ours, theirs, [_random(shape)])


def test_fold_unfold_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unfold: stride"):
        F.unfold(axon.zeros(1, 1, 4, 4), 2, stride=0)
    with pytest.raises(axon.core.ShapeError, match="fold"):
        F.fold(axon.zeros(1, 5, 9), (4, 4), 2)


@pytest.mark.parametrize(
    "options, output_size",
    [({"kernel_size": 2}, None), ({"kernel_size": 3, "stride": 2, "padding": 1}, (6, 8)), ({"kernel_size": 2}, (7, 9))],
)
def test_max_unpool2d(options: dict, output_size) -> None:
    pooled, indices = TF.max_pool2d(torch.tensor(_random((2, 3, 6, 8))), return_indices=True, **options)
    run_both(
        lambda x: F.max_unpool2d(x, axon.tensor(indices.numpy()), output_size=output_size, **options),
        lambda x: TF.max_unpool2d(x, indices, output_size=output_size, **options),
        [pooled.numpy()],
    )
    ours, theirs = nn.MaxUnpool2d(**options), torch.nn.MaxUnpool2d(**options)
    assert repr(ours) == repr(theirs)


def test_max_unpool1d() -> None:
    pooled, indices = TF.max_pool1d(torch.tensor(_random((2, 3, 8))), 2, return_indices=True)
    run_both(
        lambda x: F.max_unpool1d(x, axon.tensor(indices.numpy()), 2),
        lambda x: TF.max_unpool1d(x, indices, 2),
        [pooled.numpy()],
    )
    run_both(
        lambda x: nn.MaxUnpool1d(2)(x, axon.tensor(indices.numpy())),
        lambda x: torch.nn.MaxUnpool1d(2)(x, indices),
        [pooled.numpy()],
    )


def test_max_unpool_bad_indices() -> None:
    with pytest.raises(IndexError, match="max_unpool2d"):
        F.max_unpool2d(axon.zeros(1, 1, 2, 2), axon.tensor(np.full((1, 1, 2, 2), 99)), 2)


@pytest.mark.parametrize(
    "options",
    [{}, {"stride": 2, "padding": 1, "output_padding": 1}, {"dilation": 2, "groups": 2}, {"stride": 3, "padding": 2}],
)
def test_conv_transpose1d(options: dict) -> None:
    groups = options.get("groups", 1)
    run_both(
        lambda x, w, b: F.conv_transpose1d(x, w, b, **options),
        lambda x, w, b: TF.conv_transpose1d(x, w, b, **options),
        [_random((2, 4, 9)), _random((4, 6 // groups, 3)), _random((6,))],
    )


def test_conv_transpose1d_module() -> None:
    ours = nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, dtype=axon.float64)
    theirs = torch.nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    assert {n: tuple(p.shape) for n, p in ours.named_parameters()} == {
        n: tuple(p.shape) for n, p in theirs.named_parameters()
    }
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(_np(ours.weight)))
        theirs.bias.copy_(torch.tensor(_np(ours.bias)))
    run_both(ours, theirs, [_random((2, 4, 7))])


# -- 3-d convolution and pooling ------------------------------------------------------------------------------
CONV3D_CASES = [
    ({}, (4, 3, 2, 2, 2)),
    ({"stride": 2, "padding": 1}, (4, 3, 3, 3, 3)),
    ({"stride": (1, 2, 1), "padding": (2, 1, 0), "dilation": (2, 1, 2)}, (4, 3, 2, 3, 2)),
    ({"groups": 3}, (6, 1, 2, 2, 2)),
    ({"padding": "same"}, (4, 3, 2, 3, 2)),
]


@pytest.mark.parametrize("options, weight_shape", CONV3D_CASES)
def test_conv3d(options: dict, weight_shape: tuple) -> None:
    run_both(
        lambda x, w, b: F.conv3d(x, w, b, **options),
        lambda x, w, b: TF.conv3d(x, w, b, **options),
        [_random((2, 3, 6, 7, 8)), _random(weight_shape), _random((weight_shape[0],))],
        tol=1e-9,
    )


def test_conv3d_module() -> None:
    ours = nn.Conv3d(2, 4, (2, 3, 2), stride=(1, 2, 1), padding=1, padding_mode="circular", dtype=axon.float64)
    theirs = torch.nn.Conv3d(2, 4, (2, 3, 2), stride=(1, 2, 1), padding=1, padding_mode="circular", dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(_np(ours.weight)))
        theirs.bias.copy_(torch.tensor(_np(ours.bias)))
    run_both(ours, theirs, [_random((1, 2, 4, 5, 6))], tol=1e-9)


POOL3D_OPTIONS = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (2, 3, 2), "stride": (1, 2, 2), "padding": (1, 1, 0)},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
]


@pytest.mark.parametrize("options", POOL3D_OPTIONS + [{"kernel_size": 2, "dilation": 2}])
@pytest.mark.parametrize("batched", [True, False])
def test_max_pool3d(options: dict, batched: bool) -> None:
    shape = (2, 3, 7, 6, 8) if batched else (3, 7, 6, 8)
    run_both(lambda x: F.max_pool3d(x, **options), lambda x: TF.max_pool3d(x, **options), [_random(shape)])
    run_both(lambda x: nn.MaxPool3d(**options)(x), lambda x: torch.nn.MaxPool3d(**options)(x), [_random(shape)])


@pytest.mark.parametrize("options", POOL3D_OPTIONS)
@pytest.mark.parametrize("extra", [{}, {"count_include_pad": False}, {"divisor_override": 3}])
def test_avg_pool3d(options: dict, extra: dict) -> None:
    run_both(
        lambda x: F.avg_pool3d(x, **options, **extra),
        lambda x: TF.avg_pool3d(x, **options, **extra),
        [_random((2, 3, 7, 6, 8))],
    )
    assert repr(nn.AvgPool3d(**options)) == repr(torch.nn.AvgPool3d(**options))


def test_max_pool3d_integers_and_bad_arguments() -> None:
    a = RNG.integers(-50, 50, (1, 2, 4, 4, 4)).astype(np.int64)
    try:
        want = TF.max_pool3d(torch.tensor(a), 2)
    except (RuntimeError, NotImplementedError):
        want = None
    got = F.max_pool3d(axon.tensor(a), 2)
    if want is not None:
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(ValueError, match="max_pool3d: stride"):
        F.max_pool3d(axon.zeros(1, 1, 4, 4, 4), 2, stride=0)
    with pytest.raises(ValueError, match="return_indices"):
        F.max_pool3d(axon.zeros(1, 1, 4, 4, 4), 2, return_indices=True)


@pytest.mark.parametrize(
    "options, weight_shape",
    [
        ({}, (3, 4, 2, 2, 2)),
        ({"stride": 2, "padding": 1, "output_padding": 1}, (3, 4, 3, 3, 3)),
        (
            {"stride": (3, 1, 2), "padding": (1, 0, 1), "dilation": (2, 1, 1), "output_padding": (1, 0, 1)},
            (3, 4, 2, 3, 2),
        ),
        ({"groups": 3}, (3, 2, 2, 2, 2)),
    ],
)
def test_conv_transpose3d(options: dict, weight_shape: tuple) -> None:
    out_channels = weight_shape[1] * options.get("groups", 1)
    run_both(
        lambda x, w, b: F.conv_transpose3d(x, w, b, **options),
        lambda x, w, b: TF.conv_transpose3d(x, w, b, **options),
        [_random((2, 3, 4, 5, 3)), _random(weight_shape), _random((out_channels,))],
        tol=1e-9,
    )


def test_conv_transpose3d_module() -> None:
    ours = nn.ConvTranspose3d(3, 4, 2, stride=2, dtype=axon.float64)
    theirs = torch.nn.ConvTranspose3d(3, 4, 2, stride=2, dtype=torch.float64)
    assert repr(ours) == repr(theirs)
    assert {n: tuple(p.shape) for n, p in ours.named_parameters()} == {
        n: tuple(p.shape) for n, p in theirs.named_parameters()
    }
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(_np(ours.weight)))
        theirs.bias.copy_(torch.tensor(_np(ours.bias)))
    run_both(ours, theirs, [_random((1, 3, 3, 4, 2))], tol=1e-9)

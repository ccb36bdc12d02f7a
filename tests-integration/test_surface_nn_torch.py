"""Issue 22 §1/§3, the nn part: losses, activations and shape/utility modules against PyTorch 2.13 CPU.

One row per case: the forward value and dtype, and float64 gradients of the inputs torch
differentiates, against torch autograd; each argument torch takes (reduction, margin, p, eps, full,
log_input, swap, ...) is exercised. Modules are checked against torch's module with the same
arguments (and, for layers with parameters, the same weights).
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pytest

import axon
import axon.nn as nn
import axon.nn.functional as F
from axon_core import AxonError, DTypeError, ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional
pytestmark = pytest.mark.slow

RNG = np.random.default_rng(2213)


def _np(x):
    if isinstance(x, axon.Variable):
        x = x.data
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return x.numpy()


def run_both(axon_fn, torch_fn, arrays, grads=None, tol=1e-10):
    """Forward, dtype and gradients of the float ``arrays`` at ``grads`` (default: all float ones)."""
    if grads is None:
        grads = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    ts = [torch.tensor(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
    xs = [
        axon.Variable(axon.tensor(a), requires_grad=True) if i in grads else axon.tensor(a)
        for i, a in enumerate(arrays)
    ]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        want, got = torch_fn(*ts), axon_fn(*xs)
        assert tuple(want.shape) == tuple(got.shape)
        assert str(want.dtype).replace("torch.", "") == got.dtype.name
        np.testing.assert_allclose(_np(got), _np(want), rtol=tol, atol=tol, equal_nan=True)
        if not grads or want.numel() == 0:
            return got
        weight = RNG.standard_normal(tuple(want.shape))
        (want * torch.tensor(weight)).sum().backward()
        (got * axon.tensor(weight)).sum().backward()
        for i in grads:
            want_grad = np.zeros(ts[i].shape) if ts[i].grad is None else ts[i].grad.numpy()
            got_grad = np.zeros(ts[i].shape) if xs[i].grad is None else _np(xs[i].grad)
            np.testing.assert_allclose(got_grad, want_grad, rtol=tol, atol=tol, equal_nan=True)
    return got


def _r(*shape):
    return RNG.standard_normal(shape)


def _signs(*shape):
    return RNG.choice([-1.0, 1.0], size=shape)


def _classes(n, c):
    return RNG.integers(0, c, n).astype(np.int64)


def _multilabel(n, c):
    """Targets of multilabel_margin_loss: a few labels per row (one repeated), then -1 and junk after it."""
    t = np.full((n, c), -1, dtype=np.int64)
    for i in range(n):
        k = i % c
        t[i, :k] = RNG.choice(c, size=k, replace=False)
        if k + 2 < c:
            t[i, k + 1] = 0  # after the -1: must be ignored
    t[0, :2] = [1, 1] if c > 1 else t[0, :2]
    return t


REDUCTIONS = ["none", "mean", "sum"]

# name, axon function, torch function, arrays, indices of differentiable arrays (None: all float)
LOSSES = [
    (
        "cosine_embedding",
        lambda a, b, y, **k: F.cosine_embedding_loss(a, b, y, **k),
        lambda a, b, y, **k: TF.cosine_embedding_loss(a, b, y, **k),
        lambda: [_r(5, 4), _r(5, 4), _signs(5)],
        [0, 1],
        [{}, {"margin": 0.3}, {"margin": -0.5}],
    ),
    (
        "cosine_embedding_1d",
        F.cosine_embedding_loss,
        TF.cosine_embedding_loss,
        lambda: [_r(4), _r(4), np.array(-1.0)],
        [0, 1],
        [{"margin": -0.9}],
    ),
    (
        "hinge_embedding",
        F.hinge_embedding_loss,
        TF.hinge_embedding_loss,
        lambda: [_r(3, 5), _signs(3, 5)],
        [0],
        [{}, {"margin": 0.5}, {"margin": 2.0}],
    ),
    (
        "margin_ranking",
        F.margin_ranking_loss,
        TF.margin_ranking_loss,
        lambda: [_r(6), _r(6), _signs(6)],
        None,
        [{}, {"margin": 0.4}],
    ),
    (
        "margin_ranking_broadcast",
        F.margin_ranking_loss,
        TF.margin_ranking_loss,
        lambda: [_r(3, 4), _r(1, 4), _signs(3, 1)],
        None,
        [{"margin": 0.2}],
    ),
    (
        "multi_margin",
        F.multi_margin_loss,
        TF.multi_margin_loss,
        lambda: [_r(6, 4), _classes(6, 4)],
        [0],
        [{}, {"p": 2}, {"margin": 0.5}, {"p": 2, "margin": 2.0}],
    ),
    ("multi_margin_1d", F.multi_margin_loss, TF.multi_margin_loss, lambda: [_r(5), _classes(1, 5)], [0], [{}]),
    (
        "multilabel_margin",
        F.multilabel_margin_loss,
        TF.multilabel_margin_loss,
        lambda: [_r(5, 4), _multilabel(5, 4)],
        [0],
        [{}],
    ),
    (
        "multilabel_margin_1d",
        F.multilabel_margin_loss,
        TF.multilabel_margin_loss,
        lambda: [_r(6), np.array([3, 0, -1, 1, 2, 5])],
        [0],
        [{}],
    ),
    (
        "multilabel_soft_margin",
        F.multilabel_soft_margin_loss,
        TF.multilabel_soft_margin_loss,
        lambda: [_r(4, 5) * 3, RNG.random((4, 5))],
        None,
        [{}],
    ),
    ("soft_margin", F.soft_margin_loss, TF.soft_margin_loss, lambda: [_r(3, 4) * 3, _signs(3, 4)], [0], [{}]),
    (
        "gaussian_nll",
        F.gaussian_nll_loss,
        TF.gaussian_nll_loss,
        lambda: [_r(4, 3), _r(4, 3), RNG.random((4, 3)) + 0.1],
        None,
        [{}, {"full": True}, {"eps": 0.3}],
    ),
    (
        "gaussian_nll_homoscedastic",
        F.gaussian_nll_loss,
        TF.gaussian_nll_loss,
        lambda: [_r(4, 3), _r(4, 3), RNG.random(4) + 0.1],
        None,
        [{}, {"full": True}],
    ),
    (
        "gaussian_nll_one_mismatch",
        F.gaussian_nll_loss,
        TF.gaussian_nll_loss,
        lambda: [_r(2, 3, 4), _r(2, 3, 4), RNG.random((2, 1, 4)) + 0.1],
        None,
        [{}],
    ),
    (
        "poisson_nll_log",
        F.poisson_nll_loss,
        TF.poisson_nll_loss,
        lambda: [_r(3, 4), RNG.poisson(3.0, (3, 4)).astype(float) + 0.5],
        None,
        [{}, {"full": True}],
    ),
    (
        "poisson_nll_rate",
        F.poisson_nll_loss,
        TF.poisson_nll_loss,
        lambda: [RNG.random((3, 4)) + 0.1, RNG.poisson(3.0, (3, 4)).astype(float) + 0.5],
        None,
        [{"log_input": False}, {"log_input": False, "full": True, "eps": 1e-3}],
    ),
    (
        "triplet_margin",
        F.triplet_margin_loss,
        TF.triplet_margin_loss,
        lambda: [_r(5, 3), _r(5, 3), _r(5, 3)],
        None,
        [{}, {"margin": 2.0}, {"p": 1}, {"p": 3, "eps": 1e-3}, {"swap": True}, {"swap": True, "p": 1, "margin": 0.5}],
    ),
    (
        "triplet_margin_1d",
        F.triplet_margin_loss,
        TF.triplet_margin_loss,
        lambda: [_r(4), _r(4), _r(4)],
        None,
        [{"margin": 3.0}],
    ),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, ours, theirs, make, grads, options", LOSSES, ids=[c[0] for c in LOSSES])
def test_losses_against_torch(name, ours, theirs, make, grads, options, reduction) -> None:
    for kwargs in options:
        arrays = make()
        run_both(
            lambda *xs, k=kwargs: ours(*xs, reduction=reduction, **k),
            lambda *ts, k=kwargs: theirs(*ts, reduction=reduction, **k),
            arrays,
            grads,
        )


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_with_distance_default_and_custom(swap, reduction) -> None:
    arrays = [_r(5, 3), _r(5, 3), _r(5, 3)]
    run_both(
        lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, swap=swap, reduction=reduction, margin=1.5),
        lambda a, p, n: TF.triplet_margin_with_distance_loss(a, p, n, swap=swap, reduction=reduction, margin=1.5),
        arrays,
    )
    run_both(
        lambda a, p, n: F.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda x, y: 1.0 - F.cosine_similarity(x, y), swap=swap, reduction=reduction
        ),
        lambda a, p, n: TF.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda x, y: 1.0 - TF.cosine_similarity(x, y), swap=swap, reduction=reduction
        ),
        arrays,
    )


def test_gaussian_nll_float_var_and_clamped_var_gradient() -> None:
    run_both(
        lambda x, t: F.gaussian_nll_loss(x, t, 0.5), lambda x, t: TF.gaussian_nll_loss(x, t, 0.5), [_r(3, 2), _r(3, 2)]
    )
    # var below eps: the forward uses eps, the gradient flows as if unclamped (torch's no-grad clamp).
    var = np.array([[1e-9, 0.5], [2.0, 1e-8]])
    run_both(F.gaussian_nll_loss, TF.gaussian_nll_loss, [_r(2, 2), _r(2, 2), var], tol=1e-8)


def test_losses_on_empty_batches_match_torch() -> None:
    for ours, theirs, arrays in [
        (F.poisson_nll_loss, TF.poisson_nll_loss, [_r(0, 3), _r(0, 3)]),
        (F.hinge_embedding_loss, TF.hinge_embedding_loss, [_r(0), _r(0)]),
        (F.poisson_nll_loss, TF.poisson_nll_loss, [_r(0, 2), _r(0, 2)]),
    ]:
        for reduction in REDUCTIONS:
            run_both(partial(ours, reduction=reduction), partial(theirs, reduction=reduction), arrays)


def test_losses_with_nan_and_inf_inputs_match_torch() -> None:
    x = np.array([[np.nan, np.inf, -np.inf, 0.5]])
    y = np.array([[1.0, -1.0, 1.0, -1.0]])
    run_both(F.soft_margin_loss, TF.soft_margin_loss, [x, y], grads=[], tol=1e-10)
    run_both(F.hinge_embedding_loss, TF.hinge_embedding_loss, [x, y], grads=[])
    run_both(F.margin_ranking_loss, TF.margin_ranking_loss, [x, np.zeros_like(x), y], grads=[])


def test_plain_tensors_give_a_plain_tensor() -> None:
    got = F.soft_margin_loss(axon.tensor(_r(3)), axon.tensor(_signs(3)))
    assert isinstance(got, axon.Tensor) and not isinstance(got, axon.Variable)


def test_float32_losses_stay_float32() -> None:
    a = [x.astype(np.float32) for x in (_r(4, 3), _r(4, 3), _r(4, 3))]
    got = run_both(F.triplet_margin_loss, TF.triplet_margin_loss, a, tol=1e-5)
    assert got.dtype.name == "float32"


@pytest.mark.parametrize(
    "call, error, words",
    [
        (
            lambda: F.multi_margin_loss(axon.tensor(_r(3, 4)), axon.tensor(_classes(2, 4))),
            ShapeError,
            "multi_margin_loss",
        ),
        (lambda: F.multi_margin_loss(axon.tensor(_r(3, 4)), axon.tensor(np.array([0, 1, 4]))), IndexError, "[0, 4)"),
        (lambda: F.multi_margin_loss(axon.tensor(_r(3, 4)), axon.tensor(_classes(3, 4)), p=3), ValueError, "p == 1"),
        (lambda: F.multi_margin_loss(axon.tensor(_r(3, 4)), axon.tensor(_r(3))), DTypeError, "class indices"),
        (
            lambda: F.multilabel_margin_loss(axon.tensor(_r(3, 4)), axon.tensor(_classes(3, 4))),
            ShapeError,
            "same shape",
        ),
        (
            lambda: F.cosine_embedding_loss(axon.tensor(_r(3, 4)), axon.tensor(_r(3, 4)), axon.tensor(_r(2))),
            ShapeError,
            "cosine_embedding_loss",
        ),
        (
            lambda: F.margin_ranking_loss(axon.tensor(_r(3)), axon.tensor(_r(3)), axon.tensor(_r(3, 1))),
            ShapeError,
            "number of dimensions",
        ),
        (
            lambda: F.gaussian_nll_loss(axon.tensor(_r(3, 4)), axon.tensor(_r(3, 4)), axon.tensor(_r(2, 2) ** 2)),
            ShapeError,
            "incorrect size",
        ),
        (
            lambda: F.gaussian_nll_loss(axon.tensor(_r(3)), axon.tensor(_r(3)), axon.tensor(-np.ones(3))),
            ValueError,
            "negative",
        ),
        (
            lambda: F.triplet_margin_loss(axon.tensor(_r(3, 4)), axon.tensor(_r(4)), axon.tensor(_r(3, 4))),
            ShapeError,
            "anchor 2D, positive 1D",
        ),
        (
            lambda: F.triplet_margin_with_distance_loss(
                axon.tensor(_r(4)), axon.tensor(_r(4)), axon.tensor(_r(4)), margin=0.0
            ),
            ValueError,
            "greater than 0",
        ),
        (lambda: F.soft_margin_loss(axon.tensor(_r(3)), axon.tensor(_r(3)), reduction="avg"), ValueError, "reduction"),
        (lambda: F.soft_margin_loss(axon.tensor(_r(3)), axon.tensor(_r(2))), ShapeError, "broadcast"),
        (lambda: F.poisson_nll_loss(axon.tensor(np.arange(3)), axon.tensor(_r(3))), DTypeError, "floating-point"),
    ],
)
def test_loss_bad_input_is_a_typed_error_naming_the_problem(call, error, words) -> None:
    with pytest.raises(error, match=None) as info:
        call()
    assert words in str(info.value)
    assert isinstance(info.value, (AxonError, ValueError, IndexError))


# -- loss modules: torch's constructor arguments, buffers and values -------------------------------------
LOSS_MODULES = [
    ("CosineEmbeddingLoss", {"margin": 0.2}, lambda: [_r(4, 3), _r(4, 3), _signs(4)], [0, 1]),
    ("HingeEmbeddingLoss", {"margin": 0.7}, lambda: [_r(4, 3), _signs(4, 3)], [0]),
    ("MarginRankingLoss", {"margin": 0.1}, lambda: [_r(5), _r(5), _signs(5)], None),
    ("MultiMarginLoss", {"p": 2, "margin": 0.8}, lambda: [_r(5, 3), _classes(5, 3)], [0]),
    ("MultiLabelMarginLoss", {}, lambda: [_r(4, 3), _multilabel(4, 3)], [0]),
    ("MultiLabelSoftMarginLoss", {}, lambda: [_r(4, 3), RNG.random((4, 3))], None),
    ("SoftMarginLoss", {}, lambda: [_r(4, 3), _signs(4, 3)], [0]),
    ("GaussianNLLLoss", {"full": True, "eps": 1e-3}, lambda: [_r(4, 3), _r(4, 3), RNG.random((4, 3)) + 0.1], None),
    (
        "PoissonNLLLoss",
        {"log_input": False, "full": True},
        lambda: [RNG.random((4, 3)) + 0.1, RNG.random((4, 3)) * 4],
        None,
    ),
    ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "swap": True}, lambda: [_r(4, 3), _r(4, 3), _r(4, 3)], None),
    ("TripletMarginWithDistanceLoss", {"margin": 0.5, "swap": True}, lambda: [_r(4, 3), _r(4, 3), _r(4, 3)], None),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, kwargs, make, grads", LOSS_MODULES, ids=[c[0] for c in LOSS_MODULES])
def test_loss_modules_against_torch(name, kwargs, make, grads, reduction) -> None:
    ours, theirs = (
        getattr(nn, name)(reduction=reduction, **kwargs),
        getattr(torch.nn, name)(reduction=reduction, **kwargs),
    )
    run_both(ours, theirs, make(), grads)
    for key in kwargs:
        assert getattr(ours, key) == getattr(theirs, key)


def test_weighted_loss_modules_keep_weight_as_a_buffer() -> None:
    w = RNG.random(3) + 0.5
    for name, make, grads in [
        ("MultiMarginLoss", lambda: [_r(5, 3), _classes(5, 3)], [0]),
        ("MultiLabelSoftMarginLoss", lambda: [_r(5, 3), RNG.random((5, 3))], None),
    ]:
        ours, theirs = getattr(nn, name)(weight=axon.tensor(w)), getattr(torch.nn, name)(weight=torch.tensor(w))
        assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
        run_both(ours, theirs, make(), grads)


# -- activations ------------------------------------------------------------------------------------------
ELEMENTWISE = [
    ("softshrink", F.softshrink, TF.softshrink, [{}, {"lambd": 1.2}, {"lambd": 0.0}]),
    ("hardshrink", F.hardshrink, TF.hardshrink, [{}, {"lambd": 1.2}]),
    ("tanhshrink", F.tanhshrink, TF.tanhshrink, [{}]),
    ("threshold", F.threshold, TF.threshold, [{"threshold": 0.3, "value": -2.0}, {"threshold": -1.0, "value": 5.0}]),
    ("rrelu_eval", F.rrelu, TF.rrelu, [{}, {"lower": 0.2, "upper": 0.6}]),
    ("glu", F.glu, TF.glu, [{}, {"dim": 0}]),
]


def _non_contiguous(a):
    return np.ascontiguousarray(a.T).T


@pytest.mark.parametrize("name, ours, theirs, options", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 4), (0, 4), ()])
def test_activations_against_torch(name, ours, theirs, options, shape) -> None:
    if name == "glu" and shape == ():
        with pytest.raises(ShapeError, match="glu"):  # torch refuses a 0-d input too
            ours(axon.tensor(_r()))
        with pytest.raises(RuntimeError):
            theirs(torch.tensor(_r()))
        return
    for kwargs in options:
        run_both(partial(ours, **kwargs), partial(theirs, **kwargs), [_r(*shape) * 2])


@pytest.mark.parametrize("name, ours, theirs, options", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_activations_non_contiguous_and_nan_inf(name, ours, theirs, options) -> None:
    kwargs = options[0]
    a = _r(4, 6) * 2
    a.reshape(-1)[:3] = [np.nan, np.inf, -np.inf]
    run_both(partial(ours, **kwargs), partial(theirs, **kwargs), [a], grads=[])
    b = _r(6, 4)
    want = theirs(torch.tensor(b).T, **kwargs)
    got = ours(axon.tensor(b).transpose(0, 1), **kwargs)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)


def test_glu_negative_dims_and_errors() -> None:
    run_both(partial(F.glu, dim=-2), partial(TF.glu, dim=-2), [_r(3, 4, 5)])
    with pytest.raises(ShapeError, match="glu: halving dimension must be even"):
        F.glu(axon.tensor(_r(3, 5)))
    with pytest.raises(ShapeError, match="glu"):
        F.glu(axon.tensor(np.array(1.0)))


def test_threshold_keeps_integer_dtype_like_torch() -> None:
    a = np.arange(-3, 4, dtype=np.int64)
    want, got = TF.threshold(torch.tensor(a), 0, 7), F.threshold(axon.tensor(a), 0, 7)
    assert got.dtype.name == "int64"
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("shape, count", [((3, 4, 5, 2), 4), ((3, 4), 4), ((3, 4, 5), 1), ((5,), 1), ((), 1)])
def test_prelu_against_torch_with_weight_gradient(shape, count) -> None:
    run_both(F.prelu, TF.prelu, [_r(*shape), RNG.random(count)])


def test_prelu_module_matches_torch_module() -> None:
    ours, theirs = nn.PReLU(4, init=0.1, dtype=axon.float64), torch.nn.PReLU(4, init=0.1, dtype=torch.float64)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_array_equal(ours.weight.data.numpy(), theirs.weight.detach().numpy())
    x = _r(2, 4, 3)
    got, want = ours(axon.Variable(axon.tensor(x))), theirs(torch.tensor(x))
    np.testing.assert_allclose(got.data.numpy(), want.detach().numpy(), rtol=1e-12)
    got.sum().backward(), want.sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    with pytest.raises(ShapeError, match="prelu"):
        ours(axon.tensor(_r(2, 3)))


def test_rrelu_training_slopes_are_seeded_bounded_and_the_gradient() -> None:
    lower, upper = 0.1, 0.4
    x = _r(2000)
    axon.manual_seed(7)
    v = axon.Variable(axon.tensor(x), requires_grad=True)
    out = F.rrelu(v, lower, upper, training=True)
    axon.manual_seed(7)
    again = F.rrelu(axon.tensor(x), lower, upper, training=True)
    np.testing.assert_array_equal(out.data.numpy(), again.numpy())
    negative = x < 0
    slopes = out.data.numpy()[negative] / x[negative]
    assert lower <= slopes.min() and slopes.max() <= upper
    # U(lower, upper): mean (lower+upper)/2, sd (upper-lower)/sqrt(12); 1000 draws put the mean within 0.01.
    assert abs(slopes.mean() - (lower + upper) / 2) < 0.01
    np.testing.assert_array_equal(out.data.numpy()[~negative], x[~negative])
    out.sum().backward()
    grad = v.grad.numpy()
    np.testing.assert_allclose(grad[negative], slopes, rtol=1e-12)
    np.testing.assert_array_equal(grad[~negative], 1.0)
    # torch's training mode draws from the same bounds.
    t_out = TF.rrelu(torch.tensor(x), lower, upper, training=True).numpy()
    t_slopes = t_out[negative] / x[negative]
    assert lower <= t_slopes.min() and t_slopes.max() <= upper


def test_rrelu_module_train_and_eval() -> None:
    ours, theirs = nn.RReLU(0.2, 0.3), torch.nn.RReLU(0.2, 0.3)
    assert repr(ours) == repr(theirs)
    x = _r(5, 3)
    ours.eval(), theirs.eval()
    run_both(ours, theirs, [x])
    ours.train()
    out = ours(axon.tensor(x)).numpy()
    negative = x < 0
    assert np.all((out[negative] / x[negative] >= 0.2) & (out[negative] / x[negative] <= 0.3))
    with pytest.raises(ValueError, match="rrelu"):
        F.rrelu(axon.tensor(x), 0.5, 0.1)


@pytest.mark.parametrize(
    "ours, theirs, args",
    [
        (F.elu_, TF.elu_, (0.7,)),
        (F.leaky_relu_, TF.leaky_relu_, (0.2,)),
        (F.hardtanh_, TF.hardtanh_, (-0.5, 0.8)),
    ],
)
def test_in_place_activations_write_into_their_input(ours, theirs, args) -> None:
    x = _r(3, 4)
    t, a = torch.tensor(x), axon.tensor(x)
    theirs(t, *args)
    assert ours(a, *args) is a
    np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-12)
    # A recorded input keeps its values and the result carries the graph (axon records no in-place ops).
    v = axon.Variable(axon.tensor(x), requires_grad=True)
    out = ours(v, *args)
    np.testing.assert_array_equal(v.data.numpy(), x)
    tv = torch.tensor(x, requires_grad=True)
    expected = theirs(tv.clone(), *args)
    np.testing.assert_allclose(out.data.numpy(), expected.detach().numpy(), rtol=1e-12)
    out.sum().backward(), expected.sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), tv.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "name, args",
    [
        ("GLU", ()),
        ("GLU", (0,)),
        ("Softshrink", (0.3,)),
        ("Hardshrink", ()),
        ("Tanhshrink", ()),
        ("Threshold", (0.1, 2.0)),
    ],
)
def test_activation_modules_match_torch(name, args) -> None:
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    run_both(ours, theirs, [_r(4, 6)])


def test_shrink_with_negative_lambda_is_an_error() -> None:
    for fn in (F.softshrink, F.hardshrink):
        with pytest.raises(ValueError, match="lambd must be non-negative"):
            fn(axon.tensor(_r(3)), -1.0)


# -- shape and utility modules ------------------------------------------------------------------------------
# name, constructor arguments, input shapes: the module's forward, repr and input gradients vs torch's.
SHAPE_MODULES = [
    ("ConstantPad1d", (2, 3.5), [(2, 3, 5)]),
    ("ConstantPad1d", ((1, -1), -2.0), [(3, 5)]),
    ("ConstantPad2d", ((1, 2, 0, 3), 0.5), [(2, 2, 3, 4)]),
    ("ConstantPad3d", (1, 1.0), [(1, 2, 2, 3, 2)]),
    ("ZeroPad1d", ((2, 0),), [(2, 2, 4)]),
    ("ZeroPad2d", (1,), [(2, 3, 3)]),
    ("ZeroPad3d", ((1, 0, 0, 1, 2, 0),), [(1, 1, 2, 2, 2)]),
    ("ReflectionPad1d", (2,), [(2, 3, 5)]),
    ("ReflectionPad2d", ((1, 2, 2, 0),), [(2, 2, 4, 4)]),
    ("ReflectionPad3d", (1,), [(1, 2, 3, 3, 3)]),
    ("ReplicationPad1d", ((3, 1),), [(2, 3, 4)]),
    ("ReplicationPad2d", (2,), [(1, 2, 3, 3)]),
    ("ReplicationPad3d", ((1, 0, 2, 1, 0, 1),), [(2, 3, 3, 2)]),
    ("CircularPad1d", (2,), [(2, 3, 4)]),
    ("CircularPad2d", ((1, 2, 1, 0),), [(1, 2, 3, 4)]),
    ("CircularPad3d", (1,), [(1, 1, 3, 3, 3)]),
    ("PixelShuffle", (2,), [(2, 8, 3, 2)]),
    ("PixelShuffle", (3,), [(9, 2, 2)]),
    ("PixelUnshuffle", (2,), [(2, 2, 4, 6)]),
    ("PixelUnshuffle", (1,), [(3, 2, 2)]),
    ("ChannelShuffle", (3,), [(2, 6, 2, 2)]),
    ("ChannelShuffle", (2,), [(2, 4, 3)]),
    ("CosineSimilarity", (), [(4, 5), (4, 5)]),
    ("CosineSimilarity", (-1, 1e-6), [(2, 3, 4), (1, 3, 4)]),
    ("PairwiseDistance", (), [(4, 5), (4, 5)]),
    ("PairwiseDistance", (1.0, 1e-3, True), [(4, 5), (1, 5)]),
    ("PairwiseDistance", (3.0,), [(5,), (5,)]),
    ("Softmax2d", (), [(2, 3, 4, 5)]),
    ("Softmax2d", (), [(3, 2, 2)]),
    ("LocalResponseNorm", (3,), [(2, 5, 4)]),
    ("LocalResponseNorm", (2, 0.01, 0.5, 2.0), [(2, 4, 3, 3)]),
    ("LocalResponseNorm", (4, 0.1, 0.75, 1.0), [(1, 6, 2, 2, 2)]),
    ("LPPool1d", (2, 3), [(2, 3, 7)]),
    ("LPPool1d", (3.0, 2, 1, True), [(3, 6)]),
    ("LPPool2d", (2, 2), [(2, 2, 4, 5)]),
    ("LPPool2d", (1.5, (2, 3), (1, 2), True), [(1, 2, 5, 6)]),
    ("LPPool3d", (2, 2), [(1, 2, 4, 4, 4)]),
    ("AdaptiveAvgPool1d", (3,), [(2, 3, 7)]),
    ("AdaptiveAvgPool1d", (5,), [(3, 4)]),
    ("AdaptiveAvgPool3d", ((2, 3, 1),), [(2, 2, 5, 4, 3)]),
    ("AdaptiveAvgPool3d", ((None, 2, 2),), [(2, 3, 5, 4)]),
    ("AdaptiveMaxPool1d", (3,), [(2, 3, 7)]),
    ("AdaptiveMaxPool1d", (4,), [(3, 9)]),
    ("AdaptiveMaxPool3d", ((2, 3, 2),), [(2, 2, 5, 4, 3)]),
    ("AdaptiveMaxPool3d", (2,), [(3, 4, 5, 3)]),
]


@pytest.mark.parametrize("name, args, shapes", SHAPE_MODULES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SHAPE_MODULES)])
def test_shape_modules_against_torch(name, args, shapes) -> None:
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    arrays = [_r(*s) for s in shapes]
    if name.startswith("LPPool"):
        arrays = [np.abs(a) + 0.1 for a in arrays]  # fractional powers of negatives are nan in both
    run_both(ours, theirs, arrays)


@pytest.mark.parametrize(
    "name, output_size, shape",
    [
        ("adaptive_max_pool1d", 3, (2, 3, 7)),
        ("adaptive_max_pool1d", 2, (3, 5)),
        ("adaptive_max_pool3d", (2, 3, 2), (2, 2, 5, 4, 3)),
        ("adaptive_max_pool3d", (3, 1, 2), (2, 4, 5, 3)),
    ],
)
def test_adaptive_max_pool_return_indices_match_torch(name, output_size, shape) -> None:
    x = _r(*shape)
    values, index = getattr(F, name)(axon.tensor(x), output_size, return_indices=True)
    want_values, want_index = getattr(TF, name)(torch.tensor(x), output_size, return_indices=True)
    np.testing.assert_array_equal(values.numpy(), want_values.numpy())
    np.testing.assert_array_equal(index.numpy(), want_index.numpy())
    module = getattr(nn, name.replace("adaptive_max_pool", "AdaptiveMaxPool"))
    got = module(output_size, return_indices=True)(axon.tensor(x))
    np.testing.assert_array_equal(got[1].numpy(), want_index.numpy())


def test_adaptive_max_pool3d_gradient_goes_to_the_maxima() -> None:
    run_both(
        lambda x: F.adaptive_max_pool3d(x, (2, 2, 3)),
        lambda x: TF.adaptive_max_pool3d(x, (2, 2, 3)),
        [_r(2, 1, 4, 5, 3)],
    )


@pytest.mark.parametrize(
    "ours, theirs, arrays",
    [
        (lambda x: F.pixel_shuffle(x, 2), lambda x: TF.pixel_shuffle(x, 2), [_r(1, 2, 4, 3, 3)]),
        (lambda x: F.pixel_unshuffle(x, 3), lambda x: TF.pixel_unshuffle(x, 3), [_r(2, 1, 3, 6)]),
        (lambda x: F.channel_shuffle(x, 2), lambda x: TF.channel_shuffle(x, 2), [_r(2, 4, 3, 2, 2)]),
        (lambda a, b: F.cosine_similarity(a, b, 0), lambda a, b: TF.cosine_similarity(a, b, 0), [_r(5, 2), _r(5, 2)]),
        (
            lambda a, b: F.pairwise_distance(a, b, 2, 0.1),
            lambda a, b: TF.pairwise_distance(a, b, 2, 0.1),
            [_r(3, 4), _r(3, 4)],
        ),
        (lambda x: F.local_response_norm(x, 1), lambda x: TF.local_response_norm(x, 1), [_r(2, 3, 4)]),
        (lambda x: F.local_response_norm(x, 3), lambda x: TF.local_response_norm(x, 3), [_r(0, 3, 4)]),
        (lambda x: F.lp_pool2d(x, 2, 2), lambda x: TF.lp_pool2d(x, 2, 2), [_r(2, 3, 4, 4)]),
        (lambda x: F.adaptive_avg_pool1d(x, 1), lambda x: TF.adaptive_avg_pool1d(x, 1), [_r(2, 3, 5)]),
    ],
)
def test_shape_functionals_against_torch(ours, theirs, arrays) -> None:
    run_both(ours, theirs, arrays)


def test_cosine_similarity_of_a_zero_vector_matches_torch() -> None:
    a, b = _r(3, 4), _r(3, 4)
    a[1] = 0.0
    run_both(F.cosine_similarity, TF.cosine_similarity, [a, b])


def test_pixel_and_channel_shuffle_on_non_contiguous_and_integer_inputs() -> None:
    x = np.arange(2 * 8 * 3 * 2).reshape(2, 8, 2, 3)
    want = TF.pixel_shuffle(torch.tensor(x).transpose(-1, -2), 2)
    got = F.pixel_shuffle(axon.tensor(x).transpose(-1, -2), 2)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(
        F.channel_shuffle(axon.tensor(x), 4).numpy(), TF.channel_shuffle(torch.tensor(x), 4).numpy()
    )


@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_against_torch_with_weight_and_bias_gradients(bias) -> None:
    theirs = torch.nn.Bilinear(3, 4, 2, bias=bias, dtype=torch.float64)
    ours = nn.Bilinear(3, 4, 2, bias=bias, dtype=axon.float64)
    assert repr(ours) == repr(theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for name, p in theirs.named_parameters():
        getattr(ours, name).data.copy_(axon.tensor(p.detach().numpy()))
    a, b = _r(2, 5, 3), _r(2, 5, 4)
    run_both(ours, theirs, [a, b])
    theirs.zero_grad(), ours.zero_grad()
    out, want = ours(axon.tensor(a), axon.tensor(b)), theirs(torch.tensor(a), torch.tensor(b))
    out.sum().backward(), want.sum().backward()
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(), p.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(
        F.bilinear(axon.tensor(a[0]), axon.tensor(b[0]), ours.weight.data).numpy(),
        TF.bilinear(torch.tensor(a[0]), torch.tensor(b[0]), theirs.weight).detach().numpy(),
        rtol=1e-12,
    )


def test_bilinear_default_init_uses_torchs_bound() -> None:
    axon.manual_seed(0)
    layer = nn.Bilinear(16, 3, 200)
    bound = 1 / np.sqrt(16)
    w, b = layer.weight.data.numpy(), layer.bias.data.numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.95 * bound  # 9600 uniform draws fill the interval
    with pytest.raises(ShapeError, match="bilinear"):
        layer(axon.tensor(_r(2, 15).astype(np.float32)), axon.tensor(_r(2, 3).astype(np.float32)))


@pytest.mark.parametrize(
    "name, kwargs, shape, channels",
    [
        ("BatchNorm3d", {}, (3, 2, 2, 3, 2), 2),
        ("BatchNorm3d", {"momentum": None, "affine": False}, (2, 3, 2, 2, 2), 3),
        ("InstanceNorm1d", {}, (2, 3, 5), 3),
        ("InstanceNorm1d", {"affine": True, "track_running_stats": True}, (3, 6), 3),
        ("InstanceNorm3d", {"affine": True}, (2, 2, 3, 2, 2), 2),
        ("InstanceNorm3d", {"track_running_stats": True}, (2, 3, 2, 2), 2),
    ],
)
def test_norm_modules_against_torch_train_then_eval(name, kwargs, shape, channels) -> None:
    ours = getattr(nn, name)(channels, dtype=axon.float64, **kwargs)
    theirs = getattr(torch.nn, name)(channels, dtype=torch.float64, **kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for step in range(2):
        run_both(ours, theirs, [_r(*shape) + step])
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-10)
    ours.eval(), theirs.eval()
    run_both(ours, theirs, [_r(*shape)])


def test_parameter_list_and_dict_name_state_like_torch() -> None:
    values = [_r(2), _r(3, 1)]

    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.plist = nn.ParameterList([nn.Parameter(axon.tensor(v)) for v in values])
            self.plist.append(axon.tensor(_r(1)))
            self.pdict = nn.ParameterDict({"scale": nn.Parameter(axon.tensor(values[0]))})
            self.pdict["shift"] = axon.tensor(values[1])

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.plist = torch.nn.ParameterList([torch.nn.Parameter(torch.tensor(v)) for v in values])
            self.plist.append(torch.tensor(_r(1)))
            self.pdict = torch.nn.ParameterDict({"scale": torch.nn.Parameter(torch.tensor(values[0]))})
            self.pdict["shift"] = torch.tensor(values[1])

    ours, theirs = Ours(), Theirs()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert len(ours.plist) == 3 and ours.plist[-1] is ours.plist[2] and "shift" in ours.pdict
    # The parameters are trained through the containers.
    x = axon.Variable(axon.tensor(values[0]))
    (ours.plist[0] * ours.pdict["scale"] * x).sum().backward()
    np.testing.assert_allclose(ours.plist[0].grad.numpy(), values[0] * values[0], rtol=1e-12)
    with pytest.raises(TypeError, match="ParameterList"):
        ours.plist.append(3.0)
    with pytest.raises(KeyError, match="nope"):
        ours.pdict["nope"]


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: nn.ReflectionPad2d(1)(axon.tensor(_r(4))), "ReflectionPad2d: expected a 3-d or 4-d input"),
        (lambda: nn.ConstantPad1d((1, 2, 3), 0.0), "ConstantPad1d: padding must be an int or 2 ints"),
        (lambda: F.pixel_shuffle(axon.tensor(_r(1, 6, 2, 2)), 2), "pixel_shuffle"),
        (lambda: F.pixel_unshuffle(axon.tensor(_r(1, 2, 3, 4)), 2), "pixel_unshuffle"),
        (lambda: F.channel_shuffle(axon.tensor(_r(1, 5, 2)), 2), "channel_shuffle"),
        (lambda: nn.Softmax2d()(axon.tensor(_r(3, 4))), "Softmax2d"),
        (lambda: F.local_response_norm(axon.tensor(_r(3, 4)), 2), "local_response_norm"),
        (lambda: F.adaptive_avg_pool3d(axon.tensor(_r(3, 4)), 2), "adaptive_avg_pool3d"),
        (lambda: F.adaptive_max_pool1d(axon.tensor(_r(2, 3, 4)), 0), "adaptive_max_pool1d"),
        (lambda: nn.BatchNorm3d(2)(axon.tensor(_r(2, 2, 3, 3))), "BatchNorm3d"),
        (lambda: nn.InstanceNorm1d(2)(axon.tensor(_r(2, 2, 3, 3))), "InstanceNorm1d"),
        (lambda: F.cosine_similarity(axon.tensor(_r(3, 4)), axon.tensor(_r(2, 4))), "cosine_similarity"),
    ],
)
def test_shape_module_bad_input_is_a_typed_error(call, words) -> None:
    with pytest.raises((ShapeError, ValueError)) as info:
        call()
    assert words in str(info.value)


def test_adaptive_max_pool3d_nan_wins_like_torch() -> None:
    x = _r(2, 1, 4, 5, 3)
    x[0, 0, 0, 0, 1], x[1, 0, 3, 4, 2] = np.nan, np.nan
    values, index = F.adaptive_max_pool3d(axon.tensor(x), 2, return_indices=True)
    want_values, want_index = TF.adaptive_max_pool3d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(index.numpy(), want_index.numpy())
    np.testing.assert_array_equal(values.numpy(), want_values.numpy())


@pytest.mark.parametrize(
    "ours, theirs, shape",
    [
        (lambda x: F.adaptive_max_pool1d(x, 2), lambda x: TF.adaptive_max_pool1d(x, 2), (0, 3, 5)),
        (lambda x: F.adaptive_avg_pool1d(x, 2), lambda x: TF.adaptive_avg_pool1d(x, 2), (0, 3, 5)),
        (lambda x: F.adaptive_max_pool2d(x, 2), lambda x: TF.adaptive_max_pool2d(x, 2), (0, 2, 3, 3)),
        (lambda x: F.adaptive_max_pool3d(x, 2), lambda x: TF.adaptive_max_pool3d(x, 2), (0, 2, 3, 3, 3)),
        (lambda x: F.adaptive_avg_pool3d(x, 2), lambda x: TF.adaptive_avg_pool3d(x, 2), (0, 2, 3, 3, 3)),
        (lambda x: F.pixel_shuffle(x, 2), lambda x: TF.pixel_shuffle(x, 2), (0, 4, 2, 2)),
        (lambda x: F.glu(x, 1), lambda x: TF.glu(x, 1), (0, 4)),
    ],
)
def test_empty_batches_match_torch(ours, theirs, shape) -> None:
    run_both(ours, theirs, [_r(*shape)])


def test_float32_modules_stay_float32() -> None:
    x = _r(2, 4, 6, 6).astype(np.float32)
    for ours, theirs in [
        (nn.LPPool2d(2, 2), torch.nn.LPPool2d(2, 2)),
        (nn.LocalResponseNorm(3), torch.nn.LocalResponseNorm(3)),
        (nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2)),
        (nn.AdaptiveAvgPool3d(2), torch.nn.AdaptiveAvgPool3d(2)),
    ]:
        run_both(ours, theirs, [np.abs(x) + 0.1], tol=1e-5)


CUDA_SIM_CASES = [
    ("multi_margin", lambda x, T: F.multi_margin_loss(x, T(np.array([0, 1, 2, 3])), p=2)),
    ("multilabel_margin", lambda x, T: F.multilabel_margin_loss(x, T(np.array([[1, 2, -1, 0, 0]] * 4)))),
    ("gaussian_nll", lambda x, T: F.gaussian_nll_loss(x, T(np.ones((4, 5))), 0.5, full=True)),
    ("triplet_margin", lambda x, T: F.triplet_margin_loss(x, x * 0.5, T(np.ones((4, 5))), swap=True)),
    ("prelu", lambda x, T: F.prelu(x, T(np.array([0.2, 0.3, 0.4, 0.5, 0.6])))),
    ("threshold", lambda x, T: F.threshold(x, 0.1, 2.0)),
    ("local_response_norm", lambda x, T: F.local_response_norm(x.reshape(1, 4, 5), 3)),
    ("adaptive_max_pool3d", lambda x, T: F.adaptive_max_pool3d(x.reshape(1, 1, 2, 2, 5), (1, 2, 3))),
    ("adaptive_avg_pool3d", lambda x, T: F.adaptive_avg_pool3d(x.reshape(1, 1, 2, 2, 5), (1, 2, 3))),
    ("lp_pool1d", lambda x, T: F.lp_pool1d(x.abs() + 0.1, 2, 2)),
    ("pixel_shuffle", lambda x, T: F.pixel_shuffle(x.reshape(1, 4, 5, 1), 2)),
    ("bilinear", lambda x, T: F.bilinear(x, x, T(np.ones((2, 5, 5))))),
]


@pytest.mark.parametrize("name, op", CUDA_SIM_CASES, ids=[c[0] for c in CUDA_SIM_CASES])
def test_cuda_sim_matches_cpu(name, op) -> None:
    """The ops stay on their input's device: cuda-sim's values and gradients equal the CPU's."""
    a = _r(4, 5)
    results = []
    for device in ("cpu", "cuda-sim"):
        dev = axon.Device(device)
        x = axon.Variable(axon.tensor(a, device=dev), requires_grad=True)
        out = op(x, lambda v, d=dev: axon.tensor(v, device=d))
        assert out.device == dev
        out.sum().backward()
        results.append((out.data.numpy(), x.grad.numpy()))
    for cpu, sim in zip(*results):
        np.testing.assert_allclose(sim, cpu, rtol=1e-12, atol=1e-12)

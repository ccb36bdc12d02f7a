"""axon-nn against PyTorch 2.13 CPU: every layer and loss, forward, input grads, parameter grads.

Each case builds the same layer in both frameworks (the constructors agree), copies PyTorch's
state_dict into axon's, runs both on the same input, back-propagates the same random cotangent
and compares outputs, input gradients, parameter gradients and buffers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import axon_nn as nn  # noqa: E402
import axon_nn.functional as F  # noqa: E402
from axon_autograd import Variable  # noqa: E402
from axon_tensor import tensor  # noqa: E402

pytestmark = pytest.mark.torch


def _inputs(arrays: list[np.ndarray]) -> tuple[list[Any], list[Any]]:
    ax, th = [], []
    for a in arrays:
        differentiable = a.dtype.kind == "f"
        ax.append(Variable(tensor(a), requires_grad=differentiable))
        th.append(torch.tensor(a, requires_grad=differentiable))
    return ax, th


def run_both(
    name: str,
    args: tuple,
    kwargs: dict,
    arrays: list[np.ndarray],
    dtype: str = "float64",
    train: bool = True,
    seed: int = 0,
    tol: float = 1e-9,
    steps: int = 1,
) -> None:
    torch.manual_seed(seed)
    th_mod = getattr(torch.nn, name)(*args, **kwargs).to(getattr(torch, dtype))
    ax_mod = getattr(nn, name)(*args, **kwargs).to(dtype)
    ax_mod.load_state_dict({k: v.detach().numpy() for k, v in th_mod.state_dict().items()})
    assert repr(ax_mod) == repr(th_mod)
    assert [p for p, _ in ax_mod.named_parameters()] == [p for p, _ in th_mod.named_parameters()]
    th_mod.train(train)
    ax_mod.train(train)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        ax_in, th_in = _inputs(arrays)
        th_out = th_mod(*th_in)
        ax_out = ax_mod(*ax_in)
        if isinstance(th_out, tuple):
            np.testing.assert_array_equal(ax_out[1].numpy(), th_out[1].numpy())
            th_out, ax_out = th_out[0], ax_out[0]
        np.testing.assert_allclose(
            ax_out.detach().numpy(), th_out.detach().numpy(), rtol=tol, atol=tol, err_msg=f"{name} forward"
        )
        cotangent = rng.standard_normal(tuple(th_out.shape)).astype(dtype)
        th_out.backward(torch.tensor(cotangent))
        ax_out.backward(tensor(cotangent))
        for k, (a, t) in enumerate(zip(ax_in, th_in)):
            if t.grad is not None:
                np.testing.assert_allclose(
                    a.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol, err_msg=f"{name} grad of input {k}"
                )
        th_params = dict(th_mod.named_parameters())
        for pname, param in ax_mod.named_parameters():
            expected = th_params[pname].grad
            np.testing.assert_allclose(
                param.grad.numpy(), expected.numpy(), rtol=tol, atol=tol, err_msg=f"{name} grad of {pname}"
            )
        th_buffers = dict(th_mod.named_buffers())
        for bname, buffer in ax_mod.named_buffers():
            np.testing.assert_allclose(
                buffer.numpy(), th_buffers[bname].numpy(), rtol=tol, atol=tol, err_msg=f"{name} buffer {bname}"
            )


rng = np.random.default_rng(42)


def randn(*shape: int, dtype: str = "float64") -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


LAYERS = [
    ("Linear", (5, 3), {}, [(2, 4, 5)]),
    ("Linear", (5, 3), {"bias": False}, [(7, 5)]),
    ("Identity", (), {}, [(3, 4)]),
    ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}, [(2, 4, 11)]),
    ("Conv1d", (3, 2, 4), {"padding": "same", "padding_mode": "reflect"}, [(2, 3, 9)]),
    ("Conv2d", (3, 4, 3), {}, [(2, 3, 7, 6)]),
    (
        "Conv2d",
        (4, 6, (3, 2)),
        {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2, "bias": False},
        [(2, 4, 8, 9)],
    ),
    ("Conv2d", (2, 4, 4), {"padding": "same", "dilation": 2}, [(1, 2, 9, 8)]),
    ("Conv2d", (2, 3, 3), {"padding": "valid"}, [(1, 2, 5, 5)]),
    ("Conv2d", (2, 3, 3), {"padding": 2, "padding_mode": "reflect"}, [(2, 2, 5, 6)]),
    ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "replicate"}, [(2, 2, 5, 6)]),
    ("Conv2d", (2, 3, 3), {"padding": (1, 2), "padding_mode": "circular"}, [(2, 2, 5, 6)]),
    ("Conv2d", (4, 4, 3), {"groups": 4, "padding": 1}, [(2, 4, 5, 5)]),
    ("ConvTranspose2d", (4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2}, [(2, 4, 5, 4)]),
    ("ConvTranspose2d", (3, 2, (2, 3)), {"stride": (1, 2), "dilation": 2, "bias": False}, [(2, 3, 4, 5)]),
    # output_padding >= stride (dilation > stride): folded in full, then cropped / zero-extended.
    ("ConvTranspose2d", (2, 3, 3), {"dilation": 2, "output_padding": 1, "padding": (0, 1)}, [(2, 2, 4, 5)]),
    (
        "ConvTranspose2d",
        (2, 2, 3),
        {"stride": (1, 2), "dilation": (3, 1), "output_padding": (2, 1), "padding": 2},
        [(1, 2, 5, 4)],
    ),
    ("Conv2d", (2, 3, (4, 2)), {"padding": "same"}, [(2, 2, 6, 5)]),
    ("Conv2d", (2, 3, 3), {"padding": 1}, [(0, 2, 5, 5)]),
    # Wide layers on small images: the weight gradient takes its one-GEMM-per-group branch.
    ("Conv2d", (8, 16, 3), {"groups": 2, "padding": 1}, [(2, 8, 2, 2)]),
    ("ConvTranspose2d", (8, 6, 3), {"stride": 2, "groups": 2}, [(2, 8, 1, 2)]),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "return_indices": True}, [(2, 3, 10)]),
    ("MaxPool2d", (2,), {}, [(2, 3, 6, 8)]),
    (
        "MaxPool2d",
        (3,),
        {"stride": 2, "padding": 1, "dilation": 1, "ceil_mode": True, "return_indices": True},
        [(2, 3, 8, 7)],
    ),
    ("MaxPool2d", ((2, 3),), {"stride": (1, 2), "dilation": (2, 1)}, [(1, 2, 7, 9)]),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, [(2, 3, 10)]),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1}, [(2, 3, 7, 8)]),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False, "ceil_mode": True}, [(2, 3, 8, 7)]),
    ("AvgPool2d", (2,), {"divisor_override": 3}, [(2, 1, 4, 6)]),
    ("AdaptiveAvgPool2d", ((3, 5),), {}, [(2, 3, 7, 11)]),
    ("AdaptiveAvgPool2d", ((None, 2),), {}, [(1, 2, 5, 7)]),
    ("AdaptiveMaxPool2d", ((3, 4),), {"return_indices": True}, [(2, 3, 7, 10)]),
    ("BatchNorm1d", (4,), {}, [(8, 4)]),
    ("BatchNorm1d", (3,), {"momentum": None}, [(5, 3, 6)]),
    ("BatchNorm2d", (3,), {"momentum": 0.3}, [(4, 3, 5, 5)]),
    ("BatchNorm2d", (3,), {"affine": False}, [(4, 3, 2, 3)]),
    ("BatchNorm2d", (3,), {"track_running_stats": False}, [(4, 3, 2, 3)]),
    ("BatchNorm2d", (3,), {"bias": False}, [(4, 3, 2, 3)]),
    ("BatchNorm1d", (4,), {"bias": False, "momentum": None}, [(6, 4)]),
    ("LayerNorm", ((4, 5),), {}, [(3, 4, 5)]),
    ("LayerNorm", (6,), {"elementwise_affine": False, "eps": 1e-3}, [(2, 3, 6)]),
    ("LayerNorm", (6,), {"bias": False}, [(2, 6)]),
    ("RMSNorm", (6,), {}, [(2, 3, 6)]),
    ("RMSNorm", ((3, 6),), {"eps": 1e-4}, [(2, 3, 6)]),
    ("GroupNorm", (2, 6), {}, [(3, 6, 4, 2)]),
    ("GroupNorm", (3, 3), {"affine": False}, [(2, 3, 5)]),
    ("GroupNorm", (2, 6), {"bias": False}, [(3, 6, 4, 2)]),
    ("InstanceNorm2d", (3,), {}, [(2, 3, 4, 5)]),
    ("InstanceNorm2d", (3,), {"affine": True, "track_running_stats": True}, [(2, 3, 4, 5)]),
    ("InstanceNorm2d", (3,), {"affine": True, "bias": False}, [(2, 3, 4, 5)]),
    ("InstanceNorm2d", (3,), {}, [(3, 4, 5)]),
    ("GroupNorm", (4, 4, 1e-3), {}, [(2, 4, 3, 3)]),
    ("GroupNorm", (1, 4), {}, [(0, 4, 3)]),
    ("ReLU", (), {}, [(4, 5)]),
    ("LeakyReLU", (0.2,), {}, [(4, 5)]),
    ("ELU", (0.5,), {}, [(4, 5)]),
    ("GELU", (), {}, [(4, 5)]),
    ("GELU", ("tanh",), {}, [(4, 5)]),
    ("SiLU", (), {}, [(4, 5)]),
    ("Mish", (), {}, [(4, 5)]),
    ("Softplus", (2.0, 1.5), {}, [(4, 5)]),
    ("Sigmoid", (), {}, [(4, 5)]),
    ("Tanh", (), {}, [(4, 5)]),
    ("Softmax", (1,), {}, [(3, 4, 5)]),
    ("LogSoftmax", (-1,), {}, [(3, 4, 5)]),
    ("Flatten", (), {}, [(2, 3, 4)]),
    ("Unflatten", (1, (3, 4)), {}, [(2, 12)]),
]


@pytest.mark.parametrize("name, args, kwargs, shapes", LAYERS, ids=[f"{c[0]}-{i}" for i, c in enumerate(LAYERS)])
def test_layer_matches_torch(name, args, kwargs, shapes):
    arrays = [randn(*s) for s in shapes]
    if name.startswith(("MaxPool", "AdaptiveMax")):
        # Distinct values: ties would let the frameworks pick different (equally valid) maxima.
        arrays = [rng.permutation(a.size).reshape(a.shape).astype(np.float64) / a.size for a in arrays]
    run_both(name, args, kwargs, arrays, steps=2 if "Norm" in name else 1)


@pytest.mark.parametrize(
    "name, args, kwargs, shapes",
    [
        c
        for c in LAYERS
        if c[0] in ("Linear", "Conv2d", "BatchNorm2d", "LayerNorm", "ConvTranspose2d", "MaxPool2d", "AvgPool2d")
    ][:8],
)
def test_layer_matches_torch_float32(name, args, kwargs, shapes):
    arrays = [randn(*s, dtype="float32") for s in shapes]
    if name.startswith("MaxPool"):
        arrays = [rng.permutation(a.size).reshape(a.shape).astype(np.float32) for a in arrays]
    run_both(name, args, kwargs, arrays, dtype="float32", tol=2e-5)


@pytest.mark.parametrize("name, args, kwargs, shapes", [c for c in LAYERS if c[0] in ("GroupNorm", "InstanceNorm2d")])
def test_group_and_instance_norm_float32(name, args, kwargs, shapes):
    run_both(
        name, args, kwargs, [randn(*s, dtype="float32") * 3 + 1 for s in shapes], dtype="float32", tol=2e-5, steps=2
    )


def test_batchnorm_eval_uses_running_stats():
    arrays = [randn(6, 3, 4, 4)]
    torch.manual_seed(0)
    th = torch.nn.BatchNorm2d(3).double()
    ax = nn.BatchNorm2d(3).to("float64")
    for _ in range(3):
        th(torch.tensor(randn(6, 3, 4, 4) * 2 + 1))
    ax.load_state_dict({k: v.numpy() for k, v in th.state_dict().items()})
    th.weight.data.uniform_()
    ax.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    run_state = {k: v.detach().numpy().copy() for k, v in th.state_dict().items()}
    th.eval()
    ax.eval()
    ax_in, th_in = _inputs(arrays)
    th_out, ax_out = th(th_in[0]), ax(ax_in[0])
    np.testing.assert_allclose(ax_out.detach().numpy(), th_out.detach().numpy(), rtol=1e-10, atol=1e-10)
    th_out.sum().backward()
    ax_out.sum().backward()
    np.testing.assert_allclose(ax_in[0].grad.numpy(), th_in[0].grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ax.weight.grad.numpy(), th.weight.grad.numpy(), rtol=1e-10, atol=1e-10)
    for key, value in ax.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), run_state[key], err_msg=f"eval mode changed {key}")


def test_embedding_matches_torch():
    torch.manual_seed(0)
    th = torch.nn.Embedding(7, 4, padding_idx=3).double()
    ax = nn.Embedding(7, 4, padding_idx=3).to("float64")
    ax.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    idx = np.array([[0, 3, 6, 3], [2, 2, 1, 5]])
    th_out, ax_out = th(torch.tensor(idx)), ax(tensor(idx))
    np.testing.assert_array_equal(ax_out.detach().numpy(), th_out.detach().numpy())
    cot = randn(2, 4, 4)
    th_out.backward(torch.tensor(cot))
    ax_out.backward(tensor(cot))
    np.testing.assert_allclose(ax.weight.grad.numpy(), th.weight.grad.numpy(), atol=1e-12)


def _loss_case(
    name: str, kwargs: dict, x: np.ndarray, t: np.ndarray, target_grad: bool = False, rtol: float = 1e-9
) -> None:
    th_fn = getattr(torch.nn, name)(
        **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    )
    ax_fn = getattr(nn, name)(**{k: tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    ax_x, th_x = Variable(tensor(x), requires_grad=True), torch.tensor(x, requires_grad=True)
    grad_t = target_grad and t.dtype.kind == "f"
    ax_t = Variable(tensor(t), requires_grad=grad_t)
    th_t = torch.tensor(t, requires_grad=grad_t)
    th_out, ax_out = th_fn(th_x, th_t), ax_fn(ax_x, ax_t)
    np.testing.assert_allclose(
        ax_out.detach().numpy(), th_out.detach().numpy(), rtol=1e-10, atol=1e-10, err_msg=f"{name} {kwargs} forward"
    )
    cot = rng.standard_normal(tuple(th_out.shape))
    th_out.backward(torch.tensor(cot))
    ax_out.backward(tensor(cot))
    np.testing.assert_allclose(
        ax_x.grad.numpy(), th_x.grad.numpy(), rtol=rtol, atol=1e-10, err_msg=f"{name} {kwargs} input grad"
    )
    if grad_t:
        np.testing.assert_allclose(
            ax_t.grad.numpy(), th_t.grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=f"{name} {kwargs} target grad"
        )


REDUCTIONS = ["none", "mean", "sum"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses(reduction):
    x, t = randn(4, 5), randn(4, 5)
    _loss_case("MSELoss", {"reduction": reduction}, x, t, target_grad=True)
    _loss_case("L1Loss", {"reduction": reduction}, x, t, target_grad=True)
    for beta in (1.0, 0.3, 0.0):
        _loss_case("SmoothL1Loss", {"reduction": reduction, "beta": beta}, x, t, target_grad=True)
    for delta in (1.0, 0.4):
        _loss_case("HuberLoss", {"reduction": reduction, "delta": delta}, x, t, target_grad=True)
    _loss_case("MSELoss", {"reduction": reduction}, randn(3, 1, 4), randn(2, 4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses(reduction):
    p, t = rng.uniform(0.01, 0.99, (4, 5)), rng.random((4, 5))
    _loss_case("BCELoss", {"reduction": reduction}, p, t)
    _loss_case("BCELoss", {"reduction": reduction, "weight": rng.random(5)}, p, np.round(t))
    x = randn(4, 5) * 3
    _loss_case("BCEWithLogitsLoss", {"reduction": reduction}, x, t, target_grad=True)
    _loss_case(
        "BCEWithLogitsLoss",
        {"reduction": reduction, "weight": rng.random(5), "pos_weight": rng.random(5) * 3},
        x,
        t,
        target_grad=True,
    )


def test_bce_saturated_probabilities():
    p = np.array([0.0, 1.0, 0.5, 1e-30])
    t = np.array([1.0, 0.0, 1.0, 1.0])
    # Gradients near 1e12 (the 1e-12 clamp): compare relatively.
    _loss_case("BCELoss", {"reduction": "none"}, p, t, rtol=1e-7)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
def test_kl_div(reduction):
    logp = np.log(rng.dirichlet(np.ones(5), 4))
    q = rng.dirichlet(np.ones(5), 4)
    q[0, 1] = 0.0
    _loss_case("KLDivLoss", {"reduction": reduction}, logp, q)
    _loss_case(
        "KLDivLoss",
        {"reduction": reduction, "log_target": True},
        logp,
        np.log(rng.dirichlet(np.ones(5), 4)),
        target_grad=True,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
def test_cross_entropy(reduction, smoothing):
    x = randn(6, 5) * 2
    t = np.array([0, 4, 2, -100, 1, 4])
    base = {"reduction": reduction, "label_smoothing": smoothing}
    _loss_case("CrossEntropyLoss", base, x, t)
    _loss_case("CrossEntropyLoss", {**base, "weight": rng.random(5) + 0.1}, x, t)
    _loss_case("CrossEntropyLoss", {**base, "ignore_index": 4}, x, np.where(t < 0, 0, t))
    xs, ts = randn(2, 5, 3, 4), rng.integers(0, 5, (2, 3, 4))
    ts[0, 1, 2] = -100
    _loss_case("CrossEntropyLoss", {**base, "weight": rng.random(5) + 0.1}, xs, ts)
    probs = rng.dirichlet(np.ones(5), 6)
    _loss_case("CrossEntropyLoss", base, x, probs, target_grad=True)
    _loss_case("CrossEntropyLoss", {**base, "weight": rng.random(5) + 0.1}, x, probs, target_grad=True)
    _loss_case("CrossEntropyLoss", base, randn(5), np.array(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    logp = np.log(rng.dirichlet(np.ones(4), 5))
    t = np.array([0, 3, 1, 1, 2])
    _loss_case("NLLLoss", {"reduction": reduction}, logp, t)
    _loss_case("NLLLoss", {"reduction": reduction, "weight": rng.random(4) + 0.1, "ignore_index": 1}, logp, t)
    _loss_case("NLLLoss", {"reduction": reduction}, randn(2, 4, 3), rng.integers(0, 4, (2, 3)))


def test_cross_entropy_all_ignored_is_nan_like_torch():
    x, t = randn(3, 4), np.full(3, -100)
    out = F.cross_entropy(Variable(tensor(x)), tensor(t))
    expected = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert np.isnan(out.item()) and torch.isnan(expected)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_matches_torch(mode):
    x = randn(2, 3, 5, 6)
    widths = (2, 1, 1, 3) if mode != "reflect" else (2, 1, 1, 4)
    ax_x, th_x = Variable(tensor(x), requires_grad=True), torch.tensor(x, requires_grad=True)
    ax_out = F.pad(ax_x, widths, mode=mode)
    th_out = torch.nn.functional.pad(th_x, widths, mode=mode)
    np.testing.assert_array_equal(ax_out.detach().numpy(), th_out.detach().numpy())
    cot = randn(*th_out.shape)
    th_out.backward(torch.tensor(cot))
    ax_out.backward(tensor(cot))
    np.testing.assert_allclose(ax_x.grad.numpy(), th_x.grad.numpy(), atol=1e-12)


def test_init_statistics_and_gains_match_torch():
    import axon_nn.init as init

    for nonlinearity, param in [
        ("relu", None),
        ("leaky_relu", 0.2),
        ("tanh", None),
        ("selu", None),
        ("linear", None),
        ("sigmoid", None),
    ]:
        assert init.calculate_gain(nonlinearity, param) == pytest.approx(
            torch.nn.init.calculate_gain(nonlinearity, param)
        )
    # Same bounds as PyTorch: compare the spread of large draws.
    shape = (256, 128, 3, 3)
    ax_w, th_w = tensor(np.zeros(shape, dtype=np.float32)), torch.empty(shape)
    for ax_fn, th_fn, kwargs in [
        (init.kaiming_uniform_, torch.nn.init.kaiming_uniform_, {"a": 0.1, "mode": "fan_out"}),
        (init.kaiming_normal_, torch.nn.init.kaiming_normal_, {"nonlinearity": "relu"}),
        (init.xavier_uniform_, torch.nn.init.xavier_uniform_, {"gain": 2.0}),
        (init.xavier_normal_, torch.nn.init.xavier_normal_, {}),
        (init.trunc_normal_, torch.nn.init.trunc_normal_, {"std": 0.5, "a": -0.4, "b": 0.9}),
    ]:
        ax_fn(ax_w, **kwargs)
        th_fn(th_w, **kwargs)
        a, t = ax_w.numpy().astype(np.float64), th_w.numpy().astype(np.float64)
        assert a.std() == pytest.approx(t.std(), rel=0.01), ax_fn.__name__
        assert a.mean() == pytest.approx(t.mean(), abs=0.01 * t.std() + 1e-4), ax_fn.__name__
        if "normal" not in ax_fn.__name__ or ax_fn is init.trunc_normal_:
            # Bounded distributions: the same support.
            assert a.min() >= t.min() - 0.01 * t.std() and a.max() <= t.max() + 0.01 * t.std(), ax_fn.__name__
    q = tensor(np.zeros((6, 10)))
    init.orthogonal_(q, gain=1.5)
    np.testing.assert_allclose(q.numpy() @ q.numpy().T, 2.25 * np.eye(6), atol=1e-12)


def test_model_repr_matches_torch():
    """A model printed by axon reads exactly as PyTorch prints the same model."""

    def build(lib):
        return lib.Sequential(
            lib.Conv2d(1, 6, 5, padding=2, bias=False),
            lib.BatchNorm2d(6, bias=False),
            lib.ReLU(),
            lib.MaxPool2d(2),
            lib.Flatten(),
            lib.Linear(1176, 10),
            lib.LayerNorm(10, eps=1e-6),
            lib.GELU(approximate="tanh"),
            lib.Embedding(10, 4, padding_idx=0),
            lib.ModuleDict({"skip": lib.Identity()}),
            lib.ModuleList([lib.LeakyReLU(0.2), lib.Softmax(dim=-1)]),
            lib.AdaptiveAvgPool2d(3),
            lib.AvgPool2d(3, count_include_pad=False),
            lib.AvgPool1d(3, 2, 1),
            lib.GroupNorm(2, 6, bias=False),
            lib.InstanceNorm2d(6),
            lib.RMSNorm(6),
            lib.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1),
            lib.Unflatten(1, (2, 5)),
            lib.CrossEntropyLoss(label_smoothing=0.1),
            lib.MaxPool1d(3, stride=2, ceil_mode=True),
            lib.Conv1d(2, 3, 3, dilation=2, padding="same"),
            lib.Conv2d(2, 3, 3, padding="valid", padding_mode="reflect"),
            lib.Softplus(beta=2),
            lib.ELU(),
            lib.BatchNorm1d(5, affine=False, track_running_stats=False),
        )

    assert repr(build(nn)) == repr(build(torch.nn))

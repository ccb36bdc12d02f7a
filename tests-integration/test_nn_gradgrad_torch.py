"""Double backward of axon-nn's functional ops against PyTorch 2.13 CPU, in float64.

Each case runs the same op in both frameworks on the same values, takes the first gradients
with ``create_graph=True`` (against a random cotangent that itself requires grad), then the
gradient of a random linear functional of those first gradients with respect to the inputs,
the parameters and the cotangent, and compares both orders with ``torch.autograd.grad``. A few
cases are also checked by :func:`axon_autograd.gradgradcheck` (finite differences of the first
gradient), which needs no torch.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as TF  # noqa: E402

import axon_autograd as ag  # noqa: E402
import axon_nn.functional as AF  # noqa: E402
from axon_autograd import Variable  # noqa: E402
from axon_tensor import tensor  # noqa: E402

pytestmark = pytest.mark.torch


def _axon_const(a: np.ndarray) -> Any:
    return Variable(tensor(a), requires_grad=False)


def _torch_const(a: np.ndarray) -> Any:
    return torch.tensor(a)


rng = np.random.default_rng(1234)


def randn(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def uniform(low: float, high: float, *shape: int) -> np.ndarray:
    return rng.uniform(low, high, shape)


IDX = np.array([0, 3, -100, 2, 4])
IDX_4D = rng.integers(0, 3, (2, 2, 3))
CLASS_W = uniform(0.5, 2.0, 5)
PROBS = rng.dirichlet(np.ones(5), 5)
RUN_MEAN, RUN_VAR = randn(3), uniform(0.5, 2.0, 3)
RUN_MEAN6, RUN_VAR6 = randn(6), uniform(0.5, 2.0, 6)

#: (id, op(F, const, *inputs) with F the functional module and const making a constant tensor,
#: the float64 inputs (all differentiable)).
CASES: list[tuple[str, Callable[..., Any], list[np.ndarray]]] = []
for red in ("mean", "sum", "none"):
    CASES += [
        (f"mse-{red}", lambda F, c, x, t, r=red: F.mse_loss(x, t, reduction=r), [randn(4, 5), randn(4, 5)]),
        (f"mse-broadcast-{red}", lambda F, c, x, t, r=red: F.mse_loss(x, t, reduction=r), [randn(4, 5), randn(5)]),
        (f"l1-{red}", lambda F, c, x, t, r=red: F.l1_loss(x, t, reduction=r), [randn(4, 5), randn(4, 5)]),
        (
            f"smooth_l1-{red}",
            lambda F, c, x, t, r=red: F.smooth_l1_loss(x, t, reduction=r, beta=0.7),
            [randn(4, 5), randn(4, 5)],
        ),
        (
            f"huber-{red}",
            lambda F, c, x, t, r=red: F.huber_loss(x, t, reduction=r, delta=0.6),
            [randn(4, 5), randn(4, 5)],
        ),
        (
            f"bce-{red}",
            lambda F, c, p, t, r=red: F.binary_cross_entropy(p, t, weight=c(CLASS_W), reduction=r),
            [uniform(0.05, 0.95, 4, 5), uniform(0, 1, 4, 5)],
        ),
        (
            f"bce_logits-{red}",
            lambda F, c, x, t, r=red: F.binary_cross_entropy_with_logits(x, t, reduction=r),
            [randn(4, 5), uniform(0, 1, 4, 5)],
        ),
        (
            f"bce_logits-pos_weight-{red}",
            lambda F, c, x, t, r=red: F.binary_cross_entropy_with_logits(x, t, reduction=r, pos_weight=c(CLASS_W)),
            [randn(4, 5), uniform(0, 1, 4, 5)],
        ),
        (
            f"kl_div-{red}",
            lambda F, c, x, t, r=red: F.kl_div(x, t, reduction=r),
            [randn(4, 5), uniform(0.1, 1, 4, 5)],
        ),
        (
            f"kl_div-log_target-{red}",
            lambda F, c, x, t, r=red: F.kl_div(x, t, reduction=r, log_target=True),
            [randn(4, 5), randn(4, 5)],
        ),
        (
            f"cross_entropy-{red}",
            lambda F, c, x, r=red: F.cross_entropy(x, c(IDX), reduction=r),
            [randn(5, 5)],
        ),
        (
            f"cross_entropy-weight-smoothing-ignore-{red}",
            lambda F, c, x, r=red: F.cross_entropy(x, c(IDX), weight=c(CLASS_W), reduction=r, label_smoothing=0.2),
            [randn(5, 5)],
        ),
        (
            f"cross_entropy-probabilities-{red}",
            lambda F, c, x, t, r=red: F.cross_entropy(x, t, weight=c(CLASS_W), reduction=r, label_smoothing=0.1),
            [randn(5, 5), PROBS],
        ),
        (
            f"nll_loss-weight-ignore-{red}",
            lambda F, c, x, r=red: F.nll_loss(x, c(IDX), weight=c(CLASS_W), reduction=r),
            [randn(5, 5)],
        ),
    ]
CASES += [
    # input and target from one leaf: the composite's gradients must be partial derivatives
    ("mse-shared-graph", lambda F, c, x: F.mse_loss(x.tanh(), x * 2.0), [randn(4, 5)]),
    (
        "layer_norm-shared-graph",
        lambda F, c, x, w: F.layer_norm(x * w, (5,), w, w.sin()),
        [randn(4, 5), randn(5)],
    ),
    ("kl_div-batchmean", lambda F, c, x, t: F.kl_div(x, t, reduction="batchmean"), [randn(4, 5), uniform(0, 1, 4, 5)]),
    ("cross_entropy-4d", lambda F, c, x: F.cross_entropy(x, c(IDX_4D), label_smoothing=0.1), [randn(2, 3, 2, 3)]),
    ("cross_entropy-1d", lambda F, c, x: F.cross_entropy(x, c(np.array(2))), [randn(5)]),
    ("layer_norm", lambda F, c, x, w, b: F.layer_norm(x, (5,), w, b), [randn(4, 3, 5), randn(5), randn(5)]),
    ("layer_norm-2d", lambda F, c, x, w, b: F.layer_norm(x, (3, 5), w, b), [randn(4, 3, 5), randn(3, 5), randn(3, 5)]),
    ("layer_norm-no-affine", lambda F, c, x: F.layer_norm(x, (5,), eps=1e-3), [randn(4, 5)]),
    ("rms_norm", lambda F, c, x, w: F.rms_norm(x, (5,), w, eps=1e-6), [randn(4, 3, 5), randn(5)]),
    (
        "batch_norm-train",
        lambda F, c, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [randn(4, 3, 2, 2), randn(3), randn(3)],
    ),
    (
        "batch_norm-train-running",
        lambda F, c, x, w, b: F.batch_norm(x, c(RUN_MEAN.copy()), c(RUN_VAR.copy()), w, b, training=True),
        [randn(4, 3, 2), randn(3), randn(3)],
    ),
    (
        "batch_norm-eval",
        lambda F, c, x, w, b: F.batch_norm(x, c(RUN_MEAN), c(RUN_VAR), w, b, training=False, eps=1e-3),
        [randn(4, 3, 2, 2), randn(3), randn(3)],
    ),
    ("batch_norm-1d-no-affine", lambda F, c, x: F.batch_norm(x, None, None, training=True), [randn(6, 3)]),
    ("group_norm", lambda F, c, x, w, b: F.group_norm(x, 3, w, b), [randn(2, 6, 3, 2), randn(6), randn(6)]),
    ("group_norm-no-affine", lambda F, c, x: F.group_norm(x, 2, eps=1e-3), [randn(3, 6, 4)]),
    (
        "instance_norm",
        lambda F, c, x, w, b: F.instance_norm(x, weight=w, bias=b),
        [randn(2, 6, 3, 2), randn(6), randn(6)],
    ),
    (
        "instance_norm-running",
        lambda F, c, x, w, b: F.instance_norm(x, c(RUN_MEAN6), c(RUN_VAR6), w, b, use_input_stats=False),
        [randn(2, 6, 3), randn(6), randn(6)],
    ),
]

CONV_W, CONV_X = randn(6, 2, 3, 2), randn(2, 4, 5, 4)
CASES += [
    ("conv2d", lambda F, c, x, w, b: F.conv2d(x, w, b), [randn(2, 4, 6, 5), randn(6, 4, 3, 2), randn(6)]),
    (
        "conv2d-stride-padding-dilation-groups",
        lambda F, c, x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
        [randn(2, 4, 6, 5), CONV_W, randn(6)],
    ),
    ("conv2d-same", lambda F, c, x, w: F.conv2d(x, w, padding="same"), [randn(2, 4, 5, 5), randn(3, 4, 3, 3)]),
    ("conv2d-input-only", lambda F, c, x: F.conv2d(x, c(CONV_W), groups=2), [randn(1, 4, 5, 4)]),
    ("conv2d-weight-only", lambda F, c, w: F.conv2d(c(CONV_X), w, stride=2), [randn(3, 4, 2, 2)]),
    (
        "conv1d",
        lambda F, c, x, w, b: F.conv1d(x, w, b, stride=2, padding=1),
        [randn(2, 4, 7), randn(3, 4, 3), randn(3)],
    ),
    (
        "conv1d-same-dilation",
        lambda F, c, x, w: F.conv1d(x, w, padding="same", dilation=2),
        [randn(2, 4, 7), randn(3, 4, 3)],
    ),
    (
        "conv_transpose2d-stride-output_padding-groups",
        lambda F, c, x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2),
        [randn(2, 4, 3, 4), randn(4, 3, 3, 2), randn(6)],
    ),
    ("conv_transpose2d", lambda F, c, x, w: F.conv_transpose2d(x, w), [randn(2, 4, 3, 4), randn(4, 2, 2, 3)]),
    (
        "conv_transpose2d-output_padding-over-stride",
        lambda F, c, x, w, b: F.conv_transpose2d(x, w, b, padding=(1, 0), output_padding=(1, 1), dilation=2),
        [randn(2, 4, 3, 4), randn(4, 3, 3, 2), randn(3)],
    ),
]

CASES += [
    ("linear", lambda F, c, x, w, b: F.linear(x, w, b), [randn(2, 3, 4), randn(5, 4), randn(5)]),
    ("linear-no-bias", lambda F, c, x, w: F.linear(x, w), [randn(3, 4), randn(2, 4)]),
    ("linear-cubed", lambda F, c, x, w: F.linear(x, w) ** 3, [randn(3, 4), randn(2, 4)]),
]

EMB_IDX = np.array([[0, 3, 3], [5, 1, 0]])
CASES += [
    ("embedding", lambda F, c, w: F.embedding(c(EMB_IDX), w), [randn(6, 4)]),
    ("embedding-padding_idx", lambda F, c, w: F.embedding(c(EMB_IDX), w, padding_idx=3), [randn(6, 4)]),
    ("embedding-cubed", lambda F, c, w: F.embedding(c(EMB_IDX), w, padding_idx=0) ** 3, [randn(6, 4)]),
]
#: Pooling is linear in its input for fixed windows (max: the winners): the second derivative
#: with respect to the input is 0 and with respect to the cotangent the pooling itself, as
#: PyTorch's; the "-cubed" cases put a curved op after the pooling.
POOLS = [
    ("max_pool2d", lambda F, x: F.max_pool2d(x, 3, stride=2, padding=1)),
    ("max_pool2d-dilation-ceil", lambda F, x: F.max_pool2d(x, 2, stride=2, dilation=2, ceil_mode=True)),
    ("avg_pool2d", lambda F, x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)),
    ("avg_pool2d-divisor", lambda F, x: F.avg_pool2d(x, 2, divisor_override=3)),
    ("adaptive_max_pool2d", lambda F, x: F.adaptive_max_pool2d(x, (3, 4))),
    ("adaptive_avg_pool2d", lambda F, x: F.adaptive_avg_pool2d(x, (3, 4))),
]
for name, pool in POOLS:
    CASES += [
        (name, lambda F, c, x, p=pool: p(F, x), [randn(2, 3, 7, 6)]),
        (f"{name}-unbatched", lambda F, c, x, p=pool: p(F, x), [randn(3, 7, 6)]),
        (f"{name}-cubed", lambda F, c, x, p=pool: p(F, x) ** 3, [randn(2, 3, 7, 6)]),
    ]
CASES += [
    ("max_pool1d", lambda F, c, x: F.max_pool1d(x, 3, stride=2, padding=1), [randn(2, 3, 9)]),
    ("avg_pool1d", lambda F, c, x: F.avg_pool1d(x, 3, stride=2, padding=1), [randn(2, 3, 9)]),
    ("max_pool1d-cubed", lambda F, c, x: F.max_pool1d(x, 2) ** 3, [randn(2, 3, 9)]),
]
# Issue 22's nn surface: Variable-op compositions, so twice differentiable through their ops.
SIGNS = np.sign(randn(5))
CASES += [
    (
        "cosine_embedding",
        lambda F, c, a, b: F.cosine_embedding_loss(a, b, c(SIGNS), margin=-0.5),
        [randn(5, 4), randn(5, 4)],
    ),
    ("soft_margin", lambda F, c, x: F.soft_margin_loss(x, c(SIGNS), reduction="none"), [randn(5)]),
    (
        "multilabel_soft_margin",
        lambda F, c, x, t: F.multilabel_soft_margin_loss(x, t),
        [randn(4, 5), uniform(0, 1, 4, 5)],
    ),
    (
        "gaussian_nll",
        lambda F, c, x, t, v: F.gaussian_nll_loss(x, t, v, full=True),
        [randn(4, 3), randn(4, 3), uniform(0.2, 2, 4, 3)],
    ),
    ("poisson_nll", lambda F, c, x, t: F.poisson_nll_loss(x, t, reduction="sum"), [randn(4, 3), uniform(0.5, 4, 4, 3)]),
    (
        "triplet_margin",
        lambda F, c, a, p, n: F.triplet_margin_loss(a, p, n, margin=3.0, swap=True),
        [randn(4, 3), randn(4, 3), randn(4, 3)],
    ),
    ("glu", lambda F, c, x: F.glu(x, 1), [randn(3, 6)]),
    ("tanhshrink", lambda F, c, x: F.tanhshrink(x), [randn(3, 4)]),
    ("prelu", lambda F, c, x, w: F.prelu(x, w) ** 2, [randn(2, 3, 4), uniform(0.1, 0.5, 3)]),
    (
        "bilinear",
        lambda F, c, a, b, w, bias: F.bilinear(a, b, w, bias),
        [randn(4, 3), randn(4, 2), randn(5, 3, 2), randn(5)],
    ),
    ("cosine_similarity", lambda F, c, a, b: F.cosine_similarity(a, b), [randn(4, 5), randn(4, 5)]),
    ("pairwise_distance", lambda F, c, a, b: F.pairwise_distance(a, b, 3.0), [randn(4, 5), randn(4, 5)]),
    ("local_response_norm", lambda F, c, x: F.local_response_norm(x, 3, alpha=0.5), [randn(2, 5, 3)]),
    ("lp_pool2d", lambda F, c, x: F.lp_pool2d(x, 2, 2), [uniform(0.5, 2, 2, 2, 4, 4)]),
    ("adaptive_avg_pool3d-cubed", lambda F, c, x: F.adaptive_avg_pool3d(x, (2, 3, 2)) ** 3, [randn(1, 2, 5, 4, 3)]),
    ("adaptive_max_pool1d-cubed", lambda F, c, x: F.adaptive_max_pool1d(x, 3) ** 3, [randn(2, 3, 7)]),
    ("pixel_shuffle-cubed", lambda F, c, x: F.pixel_shuffle(x, 2) ** 3, [randn(1, 8, 2, 3)]),
]


def _grads(lib: str, op: Callable[..., Any], arrays: list[np.ndarray], cotangent: np.ndarray, probe: list) -> tuple:
    """First gradients (create_graph) and the gradients of ``Σ probe_i * first_i`` with respect to
    the inputs and the cotangent, as NumPy arrays (zeros where a gradient is absent)."""
    if lib == "torch":
        inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
        out = op(TF, _torch_const, *inputs)
        g_out = torch.tensor(cotangent, requires_grad=True)
        first = torch.autograd.grad(out, inputs, g_out, create_graph=True, allow_unused=True)
        to_np = lambda t: t.detach().numpy(force=True)  # noqa: E731 (l1's second gradient is a ZeroTensor)
        autograd_grad = torch.autograd.grad
    else:
        inputs = [Variable(tensor(a), requires_grad=True) for a in arrays]
        out = op(AF, _axon_const, *inputs)
        g_out = Variable(tensor(cotangent), requires_grad=True)
        first = ag.grad(out, inputs, g_out, create_graph=True, allow_unused=True)
        to_np = lambda t: t.data.numpy()  # noqa: E731
        autograd_grad = ag.grad
    first_np = [np.zeros(a.shape) if g is None else to_np(g) for g, a in zip(first, arrays)]
    terms = [
        (g * (torch.tensor(u) if lib == "torch" else _axon_const(u))).sum()
        for g, u in zip(first, probe)
        if g is not None
    ]
    terms = [t for t in terms if t.requires_grad]
    wrt = inputs + [g_out]
    if not terms:
        return first_np, [np.zeros(v.shape) for v in arrays + [cotangent]]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    second = autograd_grad(total, wrt, allow_unused=True)
    shapes = arrays + [cotangent]
    return first_np, [np.zeros(s.shape) if g is None else to_np(g) for g, s in zip(second, shapes)]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_double_backward_matches_torch(case):
    name, op, arrays = case
    out_shape = tuple(op(TF, _torch_const, *[torch.tensor(a) for a in arrays]).shape)
    local = np.random.default_rng(7)
    cotangent = local.standard_normal(out_shape)
    probe = [local.standard_normal(a.shape) for a in arrays]
    first_ax, second_ax = _grads("axon", op, arrays, cotangent, probe)
    first_th, second_th = _grads("torch", op, arrays, cotangent, probe)
    for i, (a, t) in enumerate(zip(first_ax, first_th)):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-11, err_msg=f"{name}: first gradient {i}")
    labels = [f"input {i}" for i in range(len(arrays))] + ["cotangent"]
    for label, a, t in zip(labels, second_ax, second_th):
        np.testing.assert_allclose(a, t, rtol=1e-8, atol=1e-10, err_msg=f"{name}: second gradient, {label}")


def test_second_gradient_is_nonzero_where_torch_says_so():
    """Guards the comparison above against both sides being trivially zero: the cases with a
    curved loss must have a non-zero second gradient with respect to their first input."""
    curved = [c for c in CASES if c[0].split("-")[0] in ("mse", "bce", "bce_logits", "cross_entropy", "layer_norm")]
    curved += [c for c in CASES if c[0] in ("gaussian_nll", "glu", "cosine_similarity", "local_response_norm")]
    curved += [c for c in CASES if c[0].startswith("conv") and len(c[2]) > 1]
    curved += [c for c in CASES if c[0].endswith("-cubed")]
    for name, op, arrays in curved:
        local = np.random.default_rng(7)
        out_shape = tuple(op(TF, _torch_const, *[torch.tensor(a) for a in arrays]).shape)
        cotangent = local.standard_normal(out_shape)
        probe = [local.standard_normal(a.shape) for a in arrays]
        _, second = _grads("axon", op, arrays, cotangent, probe)
        assert np.abs(second[0]).max() > 1e-6, name


GRADGRAD = [
    "linear",
    "embedding-padding_idx",
    "max_pool2d-cubed",
    "avg_pool2d",
    "conv2d-stride-padding-dilation-groups",
    "conv_transpose2d-stride-output_padding-groups",
    "mse-mean",
    "bce_logits-sum",
    "cross_entropy-weight-smoothing-ignore-mean",
    "layer_norm",
    "batch_norm-train",
    "group_norm",
]


@pytest.mark.parametrize("name", GRADGRAD)
def test_gradgradcheck(name):
    _, op, arrays = next(c for c in CASES if c[0] == name)
    inputs = tuple(Variable(tensor(a), requires_grad=True) for a in arrays)
    assert ag.gradgradcheck(lambda *xs: op(AF, _axon_const, *xs), inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


def _torch_layer_norm_composite(x: Any, weight: Any) -> Any:
    # torch's fused layer_norm is not right at third order (its first and second derivatives
    # agree with this composite of torch's own ops to 1e-13, its third differed by 5e5 on a
    # [3, 4] input), so the third-order oracle is torch on this composite.
    centred = x - x.mean(-1, keepdim=True)
    return centred * ((centred * centred).mean(-1, keepdim=True) + 1e-5).rsqrt() * weight


def test_third_order_matches_torch():
    """A third derivative through conv2d, layer_norm and cross_entropy (grad of grad of grad)."""
    x0, w0, lw = randn(2, 3, 5, 5), randn(4, 3, 3, 3), randn(4)
    target = np.array([[1, 0, 2], [3, 3, 0]])

    def run(lib: str) -> list[np.ndarray]:
        F, make, grad = (TF, torch.tensor, torch.autograd.grad) if lib == "torch" else (AF, tensor, ag.grad)
        wrap = (
            (lambda a: torch.tensor(a, requires_grad=True))
            if lib == "torch"
            else (lambda a: Variable(tensor(a), requires_grad=True))
        )
        x, w, ln_w = wrap(x0), wrap(w0), wrap(lw)
        y = F.conv2d(x, w, padding=1)
        y = y.permute(0, 2, 3, 1)
        y = _torch_layer_norm_composite(y, ln_w) if lib == "torch" else F.layer_norm(y, (4,), ln_w)
        y = y.permute(0, 3, 1, 2)
        loss = F.cross_entropy(y[:, :, 0, :3], make(target))
        (gx,) = grad(loss, [x], create_graph=True)
        (gxx,) = grad((gx * gx).sum(), [w], create_graph=True)
        third = grad((gxx * gxx).sum(), [x, w, ln_w])
        return [t.detach().numpy() if lib == "torch" else t.data.numpy() for t in third]

    for a, t in zip(run("axon"), run("torch")):
        np.testing.assert_allclose(a, t, rtol=1e-7, atol=1e-10)

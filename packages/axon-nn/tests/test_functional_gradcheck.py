"""Finite-difference gradchecks in float64 of every backward rule in axon_nn.functional."""

from __future__ import annotations

import numpy as np
import pytest

import axon_nn.functional as F

rng = np.random.default_rng(1234)


def randn(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


# Points away from the kinks of relu-like functions so central differences are exact enough.
def away_from_zero(*shape: int) -> np.ndarray:
    x = randn(*shape)
    return np.where(np.abs(x) < 0.1, 0.5, x)


@pytest.mark.parametrize(
    "name, fn",
    [
        ("relu", F.relu),
        ("leaky_relu", lambda x: F.leaky_relu(x, 0.2)),
        ("elu", lambda x: F.elu(x, 0.7)),
        ("gelu", F.gelu),
        ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
        ("silu", F.silu),
        ("mish", F.mish),
        ("softplus", lambda x: F.softplus(x, beta=2.0, threshold=3.0)),
        ("sigmoid", F.sigmoid),
        ("tanh", F.tanh),
        ("softmax", lambda x: F.softmax(x, dim=-1)),
        ("softmax_dim0", lambda x: F.softmax(x, dim=0)),
        ("log_softmax", lambda x: F.log_softmax(x, dim=1)),
    ],
)
def test_activations(gradcheck, name, fn):
    gradcheck(fn, away_from_zero(3, 4))


def test_linear(gradcheck):
    gradcheck(F.linear, randn(2, 3, 4), randn(5, 4), randn(5))
    gradcheck(lambda x, w: F.linear(x, w), randn(3, 4), randn(2, 4))


def test_embedding(gradcheck):
    idx = np.array([[0, 2, 2], [3, 1, 0]])
    gradcheck(lambda i, w: F.embedding(i, w), idx, randn(4, 3))


def test_embedding_padding_idx_gets_no_gradient():
    from axon_autograd import Variable
    from axon_tensor import tensor

    weight = Variable(tensor(randn(4, 3)), requires_grad=True)
    F.embedding(tensor(np.array([[0, 2, 2], [3, 1, 0]])), weight, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [[2, 2, 2], [1, 1, 1], [0, 0, 0], [1, 1, 1]])


@pytest.mark.parametrize(
    "kwargs, wshape",
    [
        ({}, (4, 2, 3, 3)),
        ({"stride": 2, "padding": 1}, (4, 2, 3, 2)),
        ({"dilation": 2, "padding": (2, 1)}, (4, 2, 2, 3)),
        ({"groups": 2, "padding": "same"}, (4, 1, 3, 2)),
    ],
)
def test_conv2d(gradcheck, kwargs, wshape):
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kwargs), randn(2, 2, 5, 6), randn(*wshape), randn(wshape[0]))


def test_conv1d(gradcheck):
    gradcheck(
        lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
        randn(2, 4, 7),
        randn(2, 2, 3),
        randn(2),
    )


@pytest.mark.parametrize(
    "kwargs", [{}, {"stride": 2, "padding": 1, "output_padding": 1}, {"groups": 2, "dilation": 2, "stride": 2}]
)
def test_conv_transpose2d(gradcheck, kwargs):
    gradcheck(
        lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
        randn(2, 4, 3, 4),
        randn(4, 3, 3, 2),
        randn(6 if kwargs.get("groups") else 3),
    )


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad(gradcheck, mode):
    gradcheck(lambda x: F.pad(x, (2, 1, 1, 2), mode=mode), randn(2, 3, 4, 5))


def test_pad_negative_crops(gradcheck):
    gradcheck(lambda x: F.pad(x, (-1, 2, 0, -1)), randn(2, 4, 5))


def _distinct(*shape: int) -> np.ndarray:
    # Well-separated values so the max of every window is unambiguous under perturbation.
    return rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) * 0.1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1},
        {"kernel_size": 2, "dilation": 2, "ceil_mode": True, "stride": 2},
    ],
)
def test_max_pool2d(gradcheck, kwargs):
    gradcheck(lambda x: F.max_pool2d(x, **kwargs), _distinct(2, 2, 5, 6))


def test_max_pool1d(gradcheck):
    gradcheck(lambda x: F.max_pool1d(x, 3, stride=2, padding=1), _distinct(2, 3, 8))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
        {"kernel_size": 3, "stride": 2, "ceil_mode": True},
        {"kernel_size": 2, "divisor_override": 3},
    ],
)
def test_avg_pool2d(gradcheck, kwargs):
    gradcheck(lambda x: F.avg_pool2d(x, **kwargs), randn(2, 2, 5, 6))


def test_avg_pool1d(gradcheck):
    gradcheck(lambda x: F.avg_pool1d(x, 3, stride=2, padding=1, ceil_mode=True), randn(2, 3, 8))


def test_adaptive_pools(gradcheck):
    gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 4)), randn(2, 2, 5, 7))
    gradcheck(lambda x: F.adaptive_max_pool2d(x, (2, 3)), _distinct(2, 2, 5, 7))


def test_batch_norm_training(gradcheck):
    gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), randn(4, 3, 2, 2), randn(3), randn(3))
    gradcheck(lambda x: F.batch_norm(x, None, None, training=True), randn(5, 3))


def test_batch_norm_eval(gradcheck):
    from axon_tensor import tensor

    mean, var = tensor(randn(3)), tensor(np.abs(randn(3)) + 0.5)
    gradcheck(lambda x, w, b: F.batch_norm(x, mean, var, w, b, training=False), randn(4, 3, 5), randn(3), randn(3))


def test_layer_norm(gradcheck):
    gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), randn(2, 3, 4), randn(3, 4), randn(3, 4))


def test_rms_norm(gradcheck):
    gradcheck(lambda x, w: F.rms_norm(x, 4, w, eps=1e-6), randn(2, 3, 4), randn(4))


def test_group_norm(gradcheck):
    gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), randn(2, 4, 3, 2), randn(4), randn(4))


def test_instance_norm(gradcheck):
    gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), randn(2, 3, 3, 4), randn(3), randn(3))


def test_dropout_gradient_is_the_mask(gradcheck):
    from axon_tensor import Generator

    gradcheck(lambda x: F.dropout(x, 0.3, training=True, generator=Generator(7)), randn(4, 5))
    gradcheck(lambda x: F.dropout2d(x, 0.5, training=True, generator=Generator(7)), randn(3, 4, 2, 2))
    gradcheck(lambda x: F.alpha_dropout(x, 0.2, training=True, generator=Generator(7)), randn(4, 5))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_pointwise_losses(gradcheck, reduction):
    x, t = randn(3, 4), randn(3, 4)
    gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), x, t)
    gradcheck(lambda a, b: F.l1_loss(a, b, reduction=reduction), x, t)
    gradcheck(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.7), x, t)
    gradcheck(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=0.6), x, t)
    weight = target_t(rng.random(4))
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight, reduction=reduction), x, rng.random((3, 4)))
    p = rng.uniform(0.05, 0.95, (3, 4))
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), p, rng.random((3, 4)))
    logp = np.log(rng.dirichlet(np.ones(4), 3))
    gradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction), logp, rng.dirichlet(np.ones(4), 3))
    gradcheck(
        lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=True), logp, np.log(rng.dirichlet(np.ones(4), 3))
    )


def test_bce_with_logits_pos_weight(gradcheck):
    from axon_tensor import tensor

    pos_weight = tensor(rng.random(4) + 0.5)
    gradcheck(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pos_weight), randn(3, 4), rng.random((3, 4))
    )


def test_kl_div_batchmean(gradcheck):
    gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"), randn(3, 4), rng.dirichlet(np.ones(4), 3))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_indices(gradcheck, reduction, smoothing):
    target = np.array([0, 3, -100, 2, 1])
    weight = target_t(rng.random(4) + 0.5)
    gradcheck(
        lambda x: F.cross_entropy(x, target_t(target), weight, reduction=reduction, label_smoothing=smoothing),
        randn(5, 4),
    )
    target_nd = np.array([[0, 2, 1], [2, -1, 0]])
    gradcheck(
        lambda x: F.cross_entropy(
            x, target_t(target_nd), ignore_index=-1, reduction=reduction, label_smoothing=smoothing
        ),
        randn(2, 3, 3),
    )


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probabilities(gradcheck, smoothing):
    weight = target_t(rng.random(4) + 0.5)
    gradcheck(
        lambda x, t: F.cross_entropy(x, t, weight, label_smoothing=smoothing),
        randn(3, 4, 2),
        rng.dirichlet(np.ones(4), (3, 2)).transpose(0, 2, 1).copy(),
    )


def test_cross_entropy_unbatched(gradcheck):
    gradcheck(lambda x: F.cross_entropy(x, target_t(np.array(2))), randn(5))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_nll_loss(gradcheck, reduction):
    weight = target_t(rng.random(3) + 0.5)
    gradcheck(
        lambda x: F.nll_loss(x, target_t(np.array([1, 0, 2, 2])), weight, ignore_index=0, reduction=reduction),
        randn(4, 3),
    )


def target_t(array: np.ndarray):
    from axon_tensor import tensor

    return tensor(array)

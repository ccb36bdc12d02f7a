"""The named fusion patterns, written with axon_tensor ops as a user would, and an ulp measure."""

import math

import numpy as np

import axon_tensor as at


def bias_gelu_tanh(x, b):
    return (x + b).gelu(approximate="tanh")


def bias_gelu_erf(x, b):
    return (x + b).gelu()


def bias_gelu_tanh_formula(x, b):
    # GELU's tanh form written out (GPT-2's), not the library op
    h = x + b
    return 0.5 * h * (1.0 + (math.sqrt(2.0 / math.pi) * (h + 0.044715 * h * h * h)).tanh())


def bias_gelu_erf_formula(x, b):
    h = x + b
    return 0.5 * h * (1.0 + (h * (1.0 / math.sqrt(2.0))).erf())


def residual_layer_norm(x, residual, weight, bias, eps=1e-5):
    h = x + residual
    mean = h.mean(-1, keepdim=True)
    centered = h - mean
    var = (centered * centered).mean(-1, keepdim=True)
    return centered * (var + eps).rsqrt() * weight + bias, h


def adam_update(param, grad, m, v, step=3, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)
    return param - lr * m_hat / (v_hat.sqrt() + eps), m, v


def softmax(x):
    shifted = x - x.amax(-1, keepdim=True)
    e = shifted.exp()
    return e / e.sum(-1, keepdim=True)


def softmax_cross_entropy(logits, one_hot):
    """Mean-free per-row loss ``-sum(one_hot * log_softmax(logits))``: [rows, classes] -> [rows]."""
    shifted = logits - logits.amax(-1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(-1, keepdim=True).log()
    return -(one_hot * log_probs).sum(-1)


def ulps(a, b):
    """Largest distance in units in the last place between two float arrays of one dtype
    (the count of representable floats between them; NaN must match NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    nan = np.isnan(a)
    assert np.array_equal(nan, np.isnan(b))
    signed = np.int32 if a.dtype == np.float32 else np.int64
    ia, ib = a[~nan].view(signed).astype(np.int64), b[~nan].view(signed).astype(np.int64)
    # map the sign-magnitude bit patterns onto one ordered integer line
    low = np.iinfo(signed).min
    ia = np.where(ia < 0, low - ia, ia)
    ib = np.where(ib < 0, low - ib, ib)
    return int(np.abs(ia - ib).max(initial=0))


def inputs(*shapes, dtype=at.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [at.tensor(rng.standard_normal(s).astype(dtype.np)) for s in shapes]

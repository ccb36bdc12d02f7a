"""Each optimizer's first steps against a float64 NumPy re-computation of its formulas."""

from __future__ import annotations

import numpy as np
import pytest

import axon_optim as ao
import axon_tensor as at

RNG = np.random.default_rng(7)
P0 = RNG.standard_normal((3, 4)).astype(np.float32)
GRADS = [RNG.standard_normal((3, 4)).astype(np.float32) for _ in range(5)]


def sgd_reference(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False):
    p, buf, out = P0.astype(np.float64), None, []
    for g in GRADS:
        g = -g.astype(np.float64) if maximize else g.astype(np.float64)
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return out


def adam_reference(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False, fused=None):
    p = P0.astype(np.float64)
    m, v, vmax, out = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(GRADS, 1):
        g = g.astype(np.float64)
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        vmax = np.maximum(vmax, v)
        second = vmax if amsgrad else v
        p = p - lr / (1 - betas[0] ** t) * m / (np.sqrt(second) / np.sqrt(1 - betas[1] ** t) + eps)
        out.append(p)
    return out


def rmsprop_reference(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    p = P0.astype(np.float64)
    v, mean, buf, out = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), []
    for g in GRADS:
        g = g.astype(np.float64) + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            mean = alpha * mean + (1 - alpha) * g
            avg = np.sqrt(v - mean * mean) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
        out.append(p)
    return out


def lamb_reference(lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, p0=P0):
    p = p0.astype(np.float64)
    m, v, out = np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(GRADS, 1):
        g = g.astype(np.float64)
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        r = (m / (1 - betas[0] ** t)) / (np.sqrt(v / (1 - betas[1] ** t)) + eps) + weight_decay * p
        w_norm, r_norm = np.linalg.norm(p), np.linalg.norm(r)
        trust = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        p = p - lr * trust * r
        out.append(p)
    return out


CASES = [
    (ao.SGD, dict(lr=0.1), sgd_reference),
    (ao.SGD, dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.05), sgd_reference),
    (ao.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05), sgd_reference),
    (ao.SGD, dict(lr=0.1, momentum=0.5, maximize=True), sgd_reference),
    (ao.Adam, dict(lr=0.01), adam_reference),
    (ao.Adam, dict(lr=0.01, betas=(0.8, 0.9), eps=1e-4, weight_decay=0.1, amsgrad=True), adam_reference),
    (ao.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True), lambda **k: adam_reference(decoupled=True, **k)),
    (ao.Adam, dict(lr=0.01, weight_decay=0.1, fused=True), adam_reference),
    (
        ao.AdamW,
        dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True, fused=True),
        lambda **k: adam_reference(decoupled=True, **k),
    ),
    (ao.RMSprop, dict(lr=0.01), rmsprop_reference),
    (ao.RMSprop, dict(lr=0.01, alpha=0.9, centered=True, momentum=0.8, weight_decay=0.1), rmsprop_reference),
    (ao.LAMB, dict(lr=0.01), lamb_reference),
    (ao.LAMB, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.1), lamb_reference),
]


@pytest.mark.parametrize("optimizer_cls, options, reference", CASES, ids=lambda x: getattr(x, "__name__", None))
def test_first_steps_match_numpy(make_param, optimizer_cls, options, reference) -> None:
    p = make_param(P0)
    opt = optimizer_cls([p], **options)
    for step, (g, expected) in enumerate(zip(GRADS, reference(**options))):
        p.grad = at.tensor(g)
        opt.step()
        np.testing.assert_allclose(p.data.numpy(), expected, rtol=2e-6, atol=2e-6, err_msg=f"step {step}")


def test_lamb_trust_ratio_is_one_for_a_zero_parameter(make_param) -> None:
    zero = np.zeros((3, 4), np.float32)
    p = make_param(zero)
    opt = ao.LAMB([p], lr=0.01)
    for g, expected in zip(GRADS, lamb_reference(lr=0.01, p0=zero)):
        p.grad = at.tensor(g)
        opt.step()
        np.testing.assert_allclose(p.data.numpy(), expected, rtol=2e-6, atol=2e-6)

"""``Adam(fused=...)``: the backend's ``adam_step`` against the protocol's ``xp`` reference, on a real model.

On the CPU the backend's choice is that reference itself, so the comparison runs where the two
differ: under ``AXON_DEFAULT_DEVICE=cuda-sim`` (the CUDA kernel) and on a GPU.
"""

from __future__ import annotations

import numpy as np
import pytest

import axon_optim as ao
import axon_tensor as at
from axon_autograd import Variable
from axon_core import Backend, get_default_device
from axon_nn import Linear, ReLU, Sequential
from axon_nn import functional as F

RNG = np.random.default_rng(11)
X = at.tensor(RNG.standard_normal((16, 5)).astype(np.float32))
Y = at.tensor(RNG.integers(0, 3, 16))


def model() -> Sequential:
    net = Sequential(Linear(5, 8), ReLU(), Linear(8, 3))
    state = np.random.default_rng(5)
    net.load_state_dict(
        {k: (state.standard_normal(v.shape) * 0.5).astype(np.float32) for k, v in net.state_dict().items()}
    )
    return net


def train(optimizer_cls, steps: int, **options) -> list[list[np.ndarray]]:
    net = model()
    opt = optimizer_cls(net.parameters(), **options)
    trajectory = []
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(Variable(X)), Y).backward()
        opt.step()
        trajectory.append([p.data.numpy().copy() for p in net.parameters()])
    return trajectory


CASES = [
    (ao.Adam, dict(lr=1e-2)),
    (ao.Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True)),
    (ao.Adam, dict(lr=1e-2, maximize=True)),
    (ao.Adam, dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    (ao.AdamW, dict(lr=1e-2)),
    (ao.AdamW, dict(lr=1e-2, weight_decay=0.3, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("optimizer_cls, options", CASES, ids=lambda x: getattr(x, "__name__", None))
def test_fused_matches_unfused(optimizer_cls, options) -> None:
    if type(get_default_device().backend).adam_step is Backend.adam_step:
        pytest.skip("this backend's adam_step is the reference itself")
    fused, unfused = train(optimizer_cls, 60, fused=True, **options), train(optimizer_cls, 60, fused=False, **options)
    for step, (a, b) in enumerate(zip(fused, unfused)):
        for pa, pb in zip(a, b):
            # Different float32 operation orders: a few ulps per step, normwise.
            assert np.max(np.abs(pa - pb)) <= 2e-5 * np.max(np.abs(pb)), f"step {step}"


class _CountingAdamStep:
    def __init__(self, monkeypatch) -> None:
        backend_cls = type(get_default_device().backend)
        self.calls, original = [], backend_cls.adam_step

        def counted(backend, param, *args, **kwargs):
            self.calls.append(param.shape)
            return original(backend, param, *args, **kwargs)

        monkeypatch.setattr(backend_cls, "adam_step", counted)


def test_fused_calls_the_backend_once_per_parameter(monkeypatch) -> None:
    counter = _CountingAdamStep(monkeypatch)
    train(ao.AdamW, 3, fused=True)
    assert counter.calls == [(8, 5), (8,), (3, 8), (3,)] * 3
    counter.calls.clear()
    # None leaves the choice to the backend too (every device); fused=False takes the protocol's
    # reference and never the backend's own method.
    train(ao.Adam, 2)
    assert counter.calls == [(8, 5), (8,), (3, 8), (3,)] * 2
    counter.calls.clear()
    train(ao.Adam, 2, fused=False)
    assert counter.calls == []
    assert ao.Adam(model().parameters()).param_groups[0]["fused"] is None


def test_fused_updates_zero_d_empty_and_non_contiguous_parameters(make_param) -> None:
    base = at.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    params = [make_param(2.0, grad=0.5), make_param(np.zeros((0, 3)), grad=np.zeros((0, 3)))]
    view = params[0].__class__(base.transpose(0, 1))
    view.grad = at.tensor(np.full((3, 2), -1.0, np.float32))
    ao.Adam(params + [view], lr=0.1, fused=True).step()
    # Adam's first step moves every element by lr * sign(g) (up to eps).
    np.testing.assert_allclose(params[0].data.numpy(), 1.9, rtol=1e-6)
    assert params[1].data.shape == (0, 3)
    np.testing.assert_allclose(base.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3) + 0.1, rtol=1e-6)

"""GradScaler: skipped steps on inf/NaN and the scale trajectory, against torch.amp.GradScaler."""

from __future__ import annotations

import numpy as np
import pytest

from axon_autograd import GradScaler, Variable
from axon_tensor import tensor


class PlainSGD:
    """The smallest optimizer the scaler needs: param_groups and step()."""

    def __init__(self, params, lr):
        self.param_groups = [{"params": list(params), "lr": lr}]

    def step(self):
        for p in self.param_groups[0]["params"]:
            p.data.array[...] -= self.param_groups[0]["lr"] * p.grad.data.array


# Raw (unscaled) gradients of each step; inf/nan mark overflowing steps.
STEPS = [
    [1.0, -2.0],
    [0.5, 0.5],
    [np.inf, 1.0],
    [0.25, -0.5],
    [1.0, 1.0],
    [1.0, 2.0],
    [2.0, np.nan],
    [0.1, 0.2],
    [0.3, 0.1],
    [0.2, 0.2],
    [0.5, -0.5],
    [-np.inf, 0.0],
    [0.4, 0.4],
    [0.1, 0.1],
]


def run_axon(init_scale, growth_interval):
    p = Variable(tensor(np.array([1.0, 1.0], dtype=np.float32)), requires_grad=True)
    opt = PlainSGD([p], lr=0.1)
    scaler = GradScaler(init_scale=init_scale, growth_interval=growth_interval)
    scales, params = [], []
    for raw in STEPS:
        p.grad = tensor(np.array(raw, dtype=np.float32) * np.float32(scaler.get_scale()))
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        params.append(p.data.numpy().copy())
    return scales, params


def run_torch(torch, init_scale, growth_interval):
    p = torch.nn.Parameter(torch.ones(2))
    opt = torch.optim.SGD([p], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=init_scale, growth_interval=growth_interval)
    scales, params = [], []
    for raw in STEPS:
        opt.zero_grad()
        scaler.scale((p * torch.tensor(raw, dtype=torch.float32)).sum()).backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        params.append(p.detach().numpy().copy())
    return scales, params


@pytest.mark.parametrize("init_scale, growth_interval", [(8.0, 3), (2.0**16, 2), (1.0, 1)])
def test_scale_trajectory_and_skipped_steps_match_torch(init_scale, growth_interval):
    torch = pytest.importorskip("torch")
    ours_scales, ours_params = run_axon(init_scale, growth_interval)
    torch_scales, torch_params = run_torch(torch, init_scale, growth_interval)
    assert ours_scales == torch_scales
    np.testing.assert_allclose(np.array(ours_params), np.array(torch_params), rtol=1e-6)


def test_scale_multiplies_loss_and_unscale_twice_raises():
    scaler = GradScaler(init_scale=4.0)
    loss = Variable(tensor(np.array(1.5)), requires_grad=True)
    np.testing.assert_allclose((scaler.scale(loss)).data.numpy(), 6.0)
    p = Variable(tensor(np.array([8.0])), requires_grad=True)
    p.grad = tensor(np.array([8.0]))
    opt = PlainSGD([p], lr=1.0)
    scaler.unscale_(opt)
    np.testing.assert_allclose(p.grad.numpy(), [2.0])
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)


def test_state_dict_round_trip_and_disabled_scaler():
    scaler = GradScaler(init_scale=16.0, growth_interval=5)
    other = GradScaler()
    other.load_state_dict(scaler.state_dict())
    assert other.get_scale() == 16.0 and other.get_growth_interval() == 5
    off = GradScaler(enabled=False)
    loss = Variable(tensor(np.array(2.0)))
    assert off.scale(loss) is loss and off.get_scale() == 1.0


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        GradScaler(growth_factor=1.0)
    with pytest.raises(ValueError):
        GradScaler(backoff_factor=1.5)

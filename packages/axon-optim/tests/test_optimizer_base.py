"""Param groups, validation, zero_grad, closures, state dicts and odd shapes."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import axon_optim as ao
import axon_tensor as at
from axon_autograd import is_grad_enabled, no_grad
from axon_core import DTypeError
from axon_nn import Linear, Parameter


def test_groups_take_defaults_and_per_group_options(make_param) -> None:
    a, b = make_param([1.0]), make_param([2.0])
    opt = ao.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0.0, 0.9]
    assert opt.param_groups[1]["params"] == [b]


def test_add_param_group_and_duplicates(make_param) -> None:
    a, b = make_param([1.0]), make_param([2.0])
    opt = ao.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "betas": (0.5, 0.6)})
    assert opt.param_groups[1]["betas"] == (0.5, 0.6) and opt.param_groups[1]["lr"] == 0.1
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="more than one"):
        ao.SGD([a, a], lr=0.1)


def test_bad_inputs_raise_clear_errors(make_param) -> None:
    a = make_param([1.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        ao.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="set"):
        ao.SGD({a}, lr=0.1)
    with pytest.raises(TypeError, match="single"):
        ao.SGD(a, lr=0.1)
    with pytest.raises(TypeError, match="parameters"):
        ao.SGD([np.zeros(3)], lr=0.1)
    integer = Parameter(at.tensor([1, 2]), requires_grad=False)
    with pytest.raises(DTypeError, match="floating-point"):
        ao.SGD([integer], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        ao.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        ao.Adam([a], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="learning rate"):
        ao.RMSprop([a], lr=-1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        ao.LAMB([a], weight_decay=-0.1)


def test_gradient_shape_and_dtype_mismatch(make_param) -> None:
    p = make_param(np.ones((3, 2)), grad=np.ones((3, 2)))
    p.data = at.tensor(np.ones((2, 3), np.float32))  # replacing .data keeps the old gradient
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        ao.SGD([p], lr=0.1).step()
    p = make_param(np.ones(3), grad=np.ones(3))
    p.grad.data = at.tensor(np.ones(3, np.float64))
    with pytest.raises(DTypeError, match="float64"):
        ao.Adam([p]).step()


def test_zero_grad_and_parameters_without_grad(make_param) -> None:
    a, b = make_param([1.0, 2.0], grad=[0.5, 0.5]), make_param([3.0])
    opt = ao.SGD([a, b], lr=0.1)
    opt.step()
    np.testing.assert_allclose(a.data.numpy(), [0.95, 1.95], rtol=1e-6)
    np.testing.assert_array_equal(b.data.numpy(), [3.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.data.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None


def test_step_returns_the_closure_loss(make_param) -> None:
    p = make_param([2.0])
    calls = []

    def closure():
        calls.append(1)
        p.grad = at.tensor(np.asarray([2 * p.data.item()], np.float32))
        return p.data.item() ** 2

    assert ao.SGD([p], lr=0.25).step(closure) == 4.0
    assert calls == [1] and p.data.item() == 1.0


def test_closure_runs_with_gradients_enabled_under_no_grad() -> None:
    """As in torch: ``step(closure)`` re-enables autograd so the closure can call backward()."""
    rng = np.random.default_rng(0)
    layer = Linear(3, 1)
    x = at.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    weight0, bias0 = layer.weight.data.numpy().copy(), layer.bias.data.numpy().copy()
    opt = ao.SGD(layer.parameters(), lr=0.1)
    seen = []

    def closure():
        seen.append(is_grad_enabled())
        opt.zero_grad()
        loss = (layer(x) ** 2).mean()
        loss.backward()
        return loss

    with no_grad():
        loss = opt.step(closure)
        assert not is_grad_enabled()
    assert seen == [True]
    out = x.numpy() @ weight0.T + bias0
    np.testing.assert_allclose(loss.item(), np.mean(out**2), rtol=1e-6)
    expected_grad = 2 / 4 * (out.T @ x.numpy())
    np.testing.assert_allclose(layer.weight.grad.numpy(), expected_grad, rtol=1e-5)
    np.testing.assert_allclose(layer.weight.data.numpy(), weight0 - 0.1 * expected_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(), (0,), (0, 3)])
def test_zero_d_and_empty_parameters(make_param, shape) -> None:
    p = make_param(np.full(shape, 2.0), grad=np.full(shape, 0.5))
    ao.Adam([p], lr=0.1).step()
    # Adam's first step moves every element by lr * sign(g) (up to eps).
    np.testing.assert_allclose(p.data.numpy(), np.full(shape, 1.9), rtol=1e-6)


def test_non_contiguous_parameter_updates_its_storage(make_param) -> None:
    base = at.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    p = Parameter(base.transpose(0, 1))
    assert p.data._base is base and not p.data.is_contiguous()
    p.grad = at.tensor(np.ones((3, 2), np.float32))
    ao.SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(base.numpy(), np.arange(6, dtype=np.float32).reshape(2, 3) - 0.5)


def test_state_dict_layout_and_resume(make_param) -> None:
    params = [make_param(np.ones(3)), make_param(np.ones(2)), make_param(np.ones(1))]
    opt = ao.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.1, amsgrad=True)
    for p in params:
        p.grad = at.tensor(np.arange(p.data.numel(), dtype=np.float32) + 1)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert set(sd["state"]) == {0, 1, 2}
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"].item() == 1.0 and sd["state"][0]["step"].dtype == at.float32
    saved = copy.deepcopy(sd)
    clones = [make_param(p.data.numpy().copy()) for p in params]
    fresh = ao.Adam([{"params": clones[:2]}, {"params": clones[2:]}], lr=0.1, amsgrad=True)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[1]["lr"] == 0.5
    for p, c in zip(params, clones):
        c.grad = p.grad
    opt.step()
    fresh.step()
    for p, c in zip(params, clones):
        np.testing.assert_array_equal(p.data.numpy(), c.data.numpy())
    assert fresh.state[clones[0]]["exp_avg"] is not saved["state"][0]["exp_avg"]


def test_load_state_dict_rejects_mismatched_groups(make_param) -> None:
    opt = ao.SGD([make_param([1.0]), make_param([2.0])], lr=0.1)
    other = ao.SGD([make_param([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 2 parameters"):
        other.load_state_dict(opt.state_dict())
    two_groups = ao.SGD([{"params": [make_param([1.0])]}, {"params": [make_param([1.0])]}], lr=0.1)
    with pytest.raises(ValueError, match="2 parameter groups"):
        other.load_state_dict(two_groups.state_dict())

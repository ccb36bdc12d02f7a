"""Schedulers against their closed forms, written out here in plain Python."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import axon_optim as ao


@pytest.fixture
def opt(make_param):
    return ao.SGD(
        [{"params": [make_param([0.0])], "lr": 0.1}, {"params": [make_param([0.0])], "lr": 0.02}], momentum=0.9
    )


def lrs_over(scheduler, steps):
    out = [scheduler.get_last_lr()]
    for _ in range(steps):
        scheduler.step()
        out.append(scheduler.get_last_lr())
    return out


def test_step_lr_closed_form(opt) -> None:
    got = lrs_over(ao.StepLR(opt, step_size=7, gamma=0.5), 40)
    for epoch, lrs in enumerate(got):
        np.testing.assert_allclose(lrs, [base * 0.5 ** (epoch // 7) for base in (0.1, 0.02)], rtol=1e-12)


def test_multistep_lr_closed_form_with_repeated_milestone(opt) -> None:
    got = lrs_over(ao.MultiStepLR(opt, milestones=[5, 9, 9], gamma=0.1), 12)
    passed = [sum(epoch >= m for m in (5, 9, 9)) for epoch in range(13)]
    for lrs, n in zip(got, passed):
        np.testing.assert_allclose(lrs, [0.1 * 0.1**n, 0.02 * 0.1**n], rtol=1e-12)


def test_exponential_lr_closed_form(opt) -> None:
    for epoch, lrs in enumerate(lrs_over(ao.ExponentialLR(opt, gamma=0.9), 30)):
        np.testing.assert_allclose(lrs, [0.1 * 0.9**epoch, 0.02 * 0.9**epoch], rtol=1e-12)


def test_cosine_closed_form_over_two_periods(opt) -> None:
    got = lrs_over(ao.CosineAnnealingLR(opt, T_max=10, eta_min=1e-3), 40)
    for epoch, lrs in enumerate(got):
        expected = [1e-3 + (b - 1e-3) * (1 + math.cos(math.pi * epoch / 10)) / 2 for b in (0.1, 0.02)]
        np.testing.assert_allclose(lrs, expected, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_one_cycle_key_points_and_momentum(opt, strategy) -> None:
    sched = ao.OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.3, anneal_strategy=strategy)
    got = lrs_over(sched, 99)
    assert got[0][0] == pytest.approx(1.0 / 25)
    assert got[29][0] == pytest.approx(1.0)
    assert got[99][0] == pytest.approx(1.0 / 25 / 1e4)
    assert all(a[0] <= b[0] for a, b in zip(got[:29], got[1:30]))
    assert all(a[0] >= b[0] for a, b in zip(got[29:99], got[30:]))
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)
    sched.step()
    with pytest.raises(ValueError, match="total_steps is 100"):
        sched.step()


def test_one_cycle_three_phase_returns_to_the_start(opt) -> None:
    got = lrs_over(ao.OneCycleLR(opt, max_lr=1.0, total_steps=100, three_phase=True), 99)
    assert got[29][0] == pytest.approx(1.0)
    assert got[58][0] == pytest.approx(1.0 / 25)
    assert got[99][0] == pytest.approx(1.0 / 25 / 1e4)


def test_reduce_lr_on_plateau_trace(opt) -> None:
    sched = ao.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.02)
    metrics = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5]
    trace = []
    for m in metrics:
        sched.step(m)
        trace.append(sched.get_last_lr()[0])
    # bad epochs: 0,0,1,2->cut (cooldown 1),skip,1,2->cut,improve
    assert trace == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]
    assert opt.param_groups[1]["lr"] == 0.02


def test_linear_warmup_ramps_then_hands_over(opt) -> None:
    after = ao.StepLR(opt, step_size=5, gamma=0.5)
    got = lrs_over(ao.LinearWarmup(after, warmup_steps=4, start_factor=0.2), 14)
    for epoch in range(4):
        assert got[epoch][0] == pytest.approx(0.1 * (0.2 + 0.8 * epoch / 4))
    for epoch in range(4, 15):
        assert got[epoch][0] == pytest.approx(0.1 * 0.5 ** ((epoch - 4) // 5))


def test_scheduler_errors(opt, make_param) -> None:
    with pytest.raises(TypeError, match="not an Optimizer"):
        ao.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="step_size"):
        ao.StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        ao.LinearWarmup(ao.ReduceLROnPlateau(opt), warmup_steps=3)
    with pytest.raises(ValueError, match="factor"):
        ao.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="total_steps"):
        ao.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        ao.ExponentialLR(ao.SGD([make_param([0.0])], lr=0.1), gamma=0.5, last_epoch=3)


def test_scheduler_state_dict_round_trip(opt, make_param) -> None:
    sched = ao.CosineAnnealingLR(opt, T_max=8)
    for _ in range(5):
        sched.step()
    opt_state, sched_state = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    resumed = ao.SGD(
        [{"params": [make_param([0.0])], "lr": 0.1}, {"params": [make_param([0.0])], "lr": 0.02}], momentum=0.9
    )
    resumed.load_state_dict(opt_state)
    resumed_sched = ao.CosineAnnealingLR(resumed, T_max=8)
    resumed_sched.load_state_dict(sched_state)
    assert lrs_over(resumed_sched, 6)[1:] == lrs_over(sched, 6)[1:]

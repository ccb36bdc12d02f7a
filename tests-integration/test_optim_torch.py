"""axon-optim against torch.optim (PyTorch 2.13 CPU): 200-step trajectories and lr sequences.

Both sides train the same 2-layer MLP (tanh hidden layer, MSE loss) on fixed random data from
identical initial weights. Gradients at each side's current weights come from one float32
NumPy backward pass, so the comparison isolates the optimizer arithmetic; parameters are
compared after every step. Schedulers are compared lr by lr (float64, exactly).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import axon_optim as ao
import axon_tensor as at
from axon_nn import Parameter

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.slow, pytest.mark.torch]

STEPS = 200
# Normwise agreement per tensor: max|ours - torch| <= RTOL * max|torch|. PyTorch's CPU kernels
# fuse multiply-adds and its float32 sqrt is not correctly rounded, so single steps differ by
# a few ulps; these tolerances bound the drift those ulps cause over 200 steps.
RTOL = 5e-6
# LAMB's trust ratio divides two norms reduced in a different order by NumPy and torch, and
# OneCycleLR moves Adam's beta1 every step: both amplify the same ulps a little more.
LOOSE_RTOL = 2e-5


RNG = np.random.default_rng(1234)
X = RNG.standard_normal((32, 6)).astype(np.float32)
Y = RNG.standard_normal((32, 3)).astype(np.float32)
INIT = [
    (RNG.standard_normal((10, 6)) * 0.4).astype(np.float32),
    (RNG.standard_normal(10) * 0.1).astype(np.float32),
    (RNG.standard_normal((3, 10)) * 0.4).astype(np.float32),
    (RNG.standard_normal(3) * 0.1).astype(np.float32),
]


def mlp_grads(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """Loss and gradients of ``mean((tanh(X w1^T + b1) w2^T + b2 - Y)^2)`` in float32."""
    h = np.tanh(X @ w1.T + b1)
    y = h @ w2.T + b2
    dy = (np.float32(2.0 / y.size) * (y - Y)).astype(np.float32)
    dz = (dy @ w2) * (1 - h * h)
    loss = float(np.mean((y - Y) ** 2))
    return loss, [dz.T @ X, dz.sum(0), dy.T @ h, dy.sum(0)]


class Pair:
    """The axon and torch copies of the MLP's parameters, fed identical gradient functions."""

    def __init__(self) -> None:
        self.ours = [Parameter(at.tensor(a.copy())) for a in INIT]
        self.theirs = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in INIT]

    def backward(self, negate: bool = False) -> float:
        """Set gradients of the loss (of minus the loss with ``negate``, for ``maximize``)."""
        loss, grads = mlp_grads(*[p.data.numpy() for p in self.ours])
        for p, g in zip(self.ours, grads):
            p.grad = at.tensor(-g if negate else g)
        _, grads = mlp_grads(*[p.detach().numpy() for p in self.theirs])
        for p, g in zip(self.theirs, grads):
            p.grad = torch.from_numpy(np.ascontiguousarray(-g if negate else g))
        return loss

    def assert_close(self, step: int, rtol: float = RTOL) -> float:
        worst = 0.0
        for index, (a, t) in enumerate(zip(self.ours, self.theirs)):
            ours, theirs = a.data.numpy(), t.detach().numpy()
            error = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
            assert error <= rtol, f"step {step}, parameter {index}: normwise error {error:.3g} > {rtol}"
            worst = max(worst, error)
        return worst


def groups_of(params: list, per_group: list[dict] | None) -> list:
    if per_group is None:
        return params
    return [{**options, "params": params[2 * i : 2 * i + 2]} for i, options in enumerate(per_group)]


OPTIMIZERS = {
    "sgd": (ao.SGD, torch.optim.SGD, dict(lr=0.1)),
    "sgd-momentum": (ao.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    "sgd-momentum-dampening-wd": (
        ao.SGD,
        torch.optim.SGD,
        dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=1e-2),
    ),
    "sgd-nesterov-wd": (ao.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    "sgd-maximize": (ao.SGD, torch.optim.SGD, dict(lr=0.05, momentum=0.5, maximize=True)),
    "adam-maximize": (ao.Adam, torch.optim.Adam, dict(lr=1e-2, maximize=True)),
    "rmsprop-maximize": (ao.RMSprop, torch.optim.RMSprop, dict(lr=1e-3, eps=1e-3, maximize=True)),
    "adam": (ao.Adam, torch.optim.Adam, dict(lr=1e-2)),
    "adam-amsgrad": (ao.Adam, torch.optim.Adam, dict(lr=1e-2, amsgrad=True)),
    "adam-l2-betas-eps": (ao.Adam, torch.optim.Adam, dict(lr=5e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "adam-decoupled": (ao.Adam, torch.optim.Adam, dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    "adamw": (ao.AdamW, torch.optim.AdamW, dict(lr=1e-2)),
    "adamw-amsgrad-wd": (ao.AdamW, torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.3, amsgrad=True)),
    # fused=True: ours runs the backend's adam_step, torch its fused CPU kernel.
    "adam-fused": (ao.Adam, torch.optim.Adam, dict(lr=1e-2, fused=True)),
    "adam-fused-l2-amsgrad-maximize": (
        ao.Adam,
        torch.optim.Adam,
        dict(lr=5e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True, maximize=True, fused=True),
    ),
    "adamw-fused": (ao.AdamW, torch.optim.AdamW, dict(lr=1e-2, fused=True)),
    "adamw-fused-amsgrad-wd": (ao.AdamW, torch.optim.AdamW, dict(lr=1e-2, weight_decay=0.3, amsgrad=True, fused=True)),
    # RMSprop's step g / sqrt(v) turns gradients that are rounding noise (saturated tanh units)
    # into full-size steps, and centering subtracts two nearly equal numbers; a tiny eps makes
    # the 200-step trajectory chaotic in both libraries, so these runs use a larger eps.
    "rmsprop": (ao.RMSprop, torch.optim.RMSprop, dict(lr=1e-3, eps=1e-3)),
    "rmsprop-centered": (ao.RMSprop, torch.optim.RMSprop, dict(lr=1e-3, eps=1e-3, centered=True)),
    "rmsprop-momentum-wd": (ao.RMSprop, torch.optim.RMSprop, dict(lr=1e-3, eps=1e-3, momentum=0.9, weight_decay=1e-2)),
    "rmsprop-centered-momentum-alpha": (
        ao.RMSprop,
        torch.optim.RMSprop,
        dict(lr=1e-3, eps=1e-2, alpha=0.95, centered=True, momentum=0.5),
    ),
}
SHORT_RUNS = {"rmsprop-default-eps": (ao.RMSprop, torch.optim.RMSprop, dict(lr=1e-3))}


def run_pair(ours_cls, torch_cls, options, per_group=None, steps=STEPS, rtol=RTOL) -> tuple[Pair, float]:
    pair = Pair()
    ours = ours_cls(groups_of(pair.ours, per_group), **options)
    theirs = torch_cls(groups_of(pair.theirs, per_group), **options, foreach=False)
    worst = 0.0
    for step in range(steps):
        pair.backward(negate=options.get("maximize", False))
        ours.step()
        theirs.step()
        worst = max(worst, pair.assert_close(step, rtol))
    return pair, worst


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_trajectory_matches_torch(name: str) -> None:
    ours_cls, torch_cls, options = OPTIMIZERS[name]
    _, worst = run_pair(ours_cls, torch_cls, options)
    print(f"{name}: worst normwise error over {STEPS} steps {worst:.3g}")


@pytest.mark.parametrize("name", sorted(SHORT_RUNS))
def test_default_eps_rmsprop_matches_torch_before_chaos(name: str) -> None:
    ours_cls, torch_cls, options = SHORT_RUNS[name]
    run_pair(ours_cls, torch_cls, options, steps=60)


@pytest.mark.parametrize(
    "ours_cls, torch_cls, per_group, defaults",
    [
        (
            ao.SGD,
            torch.optim.SGD,
            [{"lr": 0.1, "momentum": 0.9}, {"weight_decay": 0.05, "nesterov": True, "momentum": 0.5}],
            {"lr": 0.02},
        ),
        (
            ao.Adam,
            torch.optim.Adam,
            [{"betas": (0.5, 0.9), "amsgrad": True}, {"lr": 3e-3, "weight_decay": 0.1}],
            {"lr": 1e-2},
        ),
        (ao.AdamW, torch.optim.AdamW, [{"weight_decay": 0.0}, {"lr": 2e-2, "eps": 1e-5}], {"lr": 1e-2}),
        (
            ao.RMSprop,
            torch.optim.RMSprop,
            [{"centered": True}, {"momentum": 0.9, "alpha": 0.95}],
            {"lr": 1e-3, "eps": 1e-3},
        ),
    ],
    ids=["sgd", "adam", "adamw", "rmsprop"],
)
def test_param_groups_with_per_group_options(ours_cls, torch_cls, per_group, defaults) -> None:
    run_pair(ours_cls, torch_cls, defaults, per_group=per_group)


def lamb_reference(
    params: list, grads: list, state: list[dict], step: int, lr: float, betas, eps: float, wd: float
) -> None:
    """LAMB (You et al. 2020, Algorithm 2 with bias correction) written with torch ops."""
    beta1, beta2 = betas
    for p, g, s in zip(params, grads, state):
        if not s:
            s["m"], s["v"] = torch.zeros_like(p), torch.zeros_like(p)
        s["m"].lerp_(g, 1 - beta1)
        s["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (s["v"].sqrt() / math.sqrt(1 - beta2**step)).add_(eps)
        update = (s["m"] / (1 - beta1**step)) / denom + wd * p
        w_norm, u_norm = p.norm(), update.norm()
        trust = w_norm / u_norm if w_norm > 0 and u_norm > 0 else torch.tensor(1.0)
        p.sub_(lr * trust * update)


@pytest.mark.parametrize("options", [dict(lr=3e-3), dict(lr=2e-3, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.05)])
def test_lamb_matches_a_torch_written_reference(options) -> None:
    pair = Pair()
    ours = ao.LAMB(pair.ours, **options)
    state: list[dict] = [{} for _ in pair.theirs]
    full = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0) | options
    for step in range(1, STEPS + 1):
        pair.backward()
        ours.step()
        with torch.no_grad():
            lamb_reference(
                pair.theirs,
                [p.grad for p in pair.theirs],
                state,
                step,
                full["lr"],
                full["betas"],
                full["eps"],
                full["weight_decay"],
            )
        pair.assert_close(step, LOOSE_RTOL)


def snapshot(state_dict: dict) -> dict:
    """A deep copy of an optimizer state dict, as saving and loading it would make."""
    return {
        "state": {
            i: {
                k: (at.tensor(v.numpy().copy()) if isinstance(v, at.Tensor) else copy.deepcopy(v)) for k, v in s.items()
            }
            for i, s in state_dict["state"].items()
        },
        "param_groups": copy.deepcopy(state_dict["param_groups"]),
    }


@pytest.mark.parametrize(
    "name", ["sgd-nesterov-wd", "adam-amsgrad", "adamw", "adamw-fused-amsgrad-wd", "rmsprop-centered-momentum-alpha"]
)
def test_state_dict_round_trip_resumes_bit_for_bit(name: str) -> None:
    ours_cls, torch_cls, options = OPTIMIZERS[name]
    per_group = [{}, {"lr": options["lr"] / 2}]
    pair = Pair()
    ours = ours_cls(groups_of(pair.ours, per_group), **options)
    theirs = torch_cls(groups_of(pair.theirs, per_group), **options, foreach=False)
    for _ in range(STEPS // 2):
        pair.backward()
        ours.step()
        theirs.step()
    saved, ours_sd, theirs_sd = snapshot(ours.state_dict()), ours.state_dict(), theirs.state_dict()
    # Same layout as torch: indices, per-parameter state keys and the step counter's value.
    assert [g["params"] for g in ours_sd["param_groups"]] == [g["params"] for g in theirs_sd["param_groups"]]
    assert ours_sd["state"].keys() == theirs_sd["state"].keys()
    for index, state in theirs_sd["state"].items():
        assert set(ours_sd["state"][index]) == set(state)
        for key, value in state.items():
            np.testing.assert_allclose(ours_sd["state"][index][key].numpy(), value.numpy(), rtol=1e-3, atol=1e-5)

    resumed = [Parameter(at.tensor(p.data.numpy().copy())) for p in pair.ours]
    fresh = ours_cls(groups_of(resumed, [{}, {}]), **options)
    fresh.load_state_dict(saved)
    assert [g["lr"] for g in fresh.param_groups] == [g["lr"] for g in ours.param_groups]
    for _ in range(STEPS // 2):
        pair.backward()
        _, grads = mlp_grads(*[p.data.numpy() for p in resumed])
        for p, g in zip(resumed, grads):
            p.grad = at.tensor(g)
        ours.step()
        fresh.step()
        for a, b in zip(pair.ours, resumed):
            np.testing.assert_array_equal(a.data.numpy(), b.data.numpy())


def test_one_cycle_driving_adam_matches_torch() -> None:
    """lr and beta1 set by the scheduler flow into the update exactly as in torch."""
    pair = Pair()
    ours = ao.Adam(pair.ours, lr=1e-2)
    theirs = torch.optim.Adam(pair.theirs, lr=1e-2, foreach=False)
    ours_sched = ao.OneCycleLR(ours, max_lr=1e-2, total_steps=STEPS)
    theirs_sched = torch.optim.lr_scheduler.OneCycleLR(theirs, max_lr=1e-2, total_steps=STEPS)
    for step in range(STEPS - 1):
        pair.backward()
        ours.step()
        theirs.step()
        ours_sched.step()
        theirs_sched.step()
        pair.assert_close(step, LOOSE_RTOL)
        assert ours.param_groups[0]["betas"] == theirs.param_groups[0]["betas"]


# -- schedulers -------------------------------------------------------------------------------


def sgd_pair(lrs=(0.1, 0.03), momentum=0.9):
    ours = ao.SGD([{"params": [Parameter(at.zeros(2))], "lr": lr} for lr in lrs], momentum=momentum)
    theirs = torch.optim.SGD(
        [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs], momentum=momentum
    )
    return ours, theirs


def adam_pair(lrs=(0.1, 0.03)):
    ours = ao.Adam([{"params": [Parameter(at.zeros(2))], "lr": lr} for lr in lrs])
    theirs = torch.optim.Adam([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs])
    return ours, theirs


SCHEDULERS = {
    "step": lambda m, o: m.StepLR(o, step_size=30, gamma=0.5),
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[20, 50, 50, 120], gamma=0.3),
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.98),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=50, eta_min=1e-4),
    "cosine-long": lambda m, o: m.CosineAnnealingLR(o, T_max=300),
    "onecycle-cos": lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=STEPS + 1),
    "onecycle-linear": lambda m, o: m.OneCycleLR(
        o, max_lr=0.4, epochs=4, steps_per_epoch=51, anneal_strategy="linear", pct_start=0.25
    ),
    "onecycle-three-phase": lambda m, o: m.OneCycleLR(
        o, max_lr=0.4, total_steps=STEPS + 1, three_phase=True, div_factor=10.0, final_div_factor=100.0
    ),
    "onecycle-no-momentum": lambda m, o: m.OneCycleLR(o, max_lr=0.4, total_steps=STEPS + 1, cycle_momentum=False),
}


def torch_scheduler(name: str, optimizer):
    return SCHEDULERS[name](torch.optim.lr_scheduler, optimizer)


def _assert_same_lrs(ours, theirs, ours_sched, theirs_sched, step: int) -> None:
    assert ours_sched.get_last_lr() == theirs_sched.get_last_lr(), f"step {step}"
    assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups], f"step {step}"
    for key in ("momentum", "betas"):
        if key in theirs.param_groups[0]:
            assert [g[key] for g in ours.param_groups] == [g[key] for g in theirs.param_groups], f"{key} at step {step}"


@pytest.mark.parametrize("optimizers", [sgd_pair, adam_pair], ids=["sgd", "adam"])
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_lrs_match_torch(name: str, optimizers) -> None:
    ours, theirs = optimizers()
    ours_sched, theirs_sched = SCHEDULERS[name](ao, ours), torch_scheduler(name, theirs)
    _assert_same_lrs(ours, theirs, ours_sched, theirs_sched, 0)
    for step in range(1, STEPS + 1):
        ours.step()
        theirs.step()
        ours_sched.step()
        theirs_sched.step()
        _assert_same_lrs(ours, theirs, ours_sched, theirs_sched, step)


@pytest.mark.parametrize("name", ["step", "multistep", "exponential", "cosine", "onecycle-three-phase"])
def test_scheduler_state_dict_round_trip_matches_torch(name: str) -> None:
    ours, theirs = sgd_pair()
    ours_sched, theirs_sched = SCHEDULERS[name](ao, ours), torch_scheduler(name, theirs)
    for _ in range(STEPS // 2):
        ours_sched.step()
        theirs_sched.step()
    optimizer_state, scheduler_state = copy.deepcopy(ours.state_dict()), copy.deepcopy(ours_sched.state_dict())
    resumed, _ = sgd_pair()
    resumed.load_state_dict(optimizer_state)
    resumed_sched = SCHEDULERS[name](ao, resumed)
    resumed_sched.load_state_dict(scheduler_state)
    resumed.param_groups  # the lrs come from the optimizer state, as in torch
    for step in range(STEPS // 2, STEPS):
        resumed_sched.step()
        theirs_sched.step()
        _assert_same_lrs(resumed, theirs, resumed_sched, theirs_sched, step)


def test_chained_schedulers_compose_like_torch() -> None:
    ours, theirs = sgd_pair()
    ours_scheds = [
        ao.ExponentialLR(ours, gamma=0.99),
        ao.StepLR(ours, step_size=25, gamma=0.5),
        ao.CosineAnnealingLR(ours, T_max=40),
    ]
    theirs_scheds = [
        torch.optim.lr_scheduler.ExponentialLR(theirs, gamma=0.99),
        torch.optim.lr_scheduler.StepLR(theirs, step_size=25, gamma=0.5),
        torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=40),
    ]
    for step in range(STEPS):
        for a, b in zip(ours_scheds, theirs_scheds):
            a.step()
            b.step()
        assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups], f"step {step}"


@pytest.mark.parametrize(
    "after, warmup_steps, start_factor",
    [
        ("cosine", 10, 0.1),
        ("step", 25, 1.0 / 3),
        ("exponential", 1, 0.5),
        ("multistep", 60, 0.01),
        ("onecycle-cos", 5, 0.2),
    ],
)
def test_linear_warmup_matches_linear_lr_then_sequential_lr(after: str, warmup_steps: int, start_factor: float) -> None:
    ours, theirs = sgd_pair()
    ours_after = SCHEDULERS[after](ao, ours)
    ours_sched = ao.LinearWarmup(ours_after, warmup_steps=warmup_steps, start_factor=start_factor)
    warm = torch.optim.lr_scheduler.LinearLR(
        theirs, start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps
    )
    theirs_sched = torch.optim.lr_scheduler.SequentialLR(
        theirs, [warm, torch_scheduler(after, theirs)], milestones=[warmup_steps]
    )
    steps = STEPS - warmup_steps if after.startswith("onecycle") else STEPS
    _assert_same_lrs(ours, theirs, ours_sched, theirs_sched, 0)
    for step in range(1, steps + 1):
        ours_sched.step()
        theirs_sched.step()
        _assert_same_lrs(ours, theirs, ours_sched, theirs_sched, step)
        if step == steps // 2:
            state = copy.deepcopy(ours_sched.state_dict())
            rebuilt_after = SCHEDULERS[after](ao, ours)
            ours_sched = ao.LinearWarmup(rebuilt_after, warmup_steps=warmup_steps, start_factor=start_factor)
            ours_sched.load_state_dict(state)
            for group, lr in zip(ours.param_groups, theirs_sched.get_last_lr()):
                group["lr"] = lr


def plateau_metrics(n: int = STEPS) -> list[float]:
    """A loss that improves, stalls, wiggles and jumps, to exercise patience and cooldown."""
    values = []
    for i in range(n):
        base = 1.0 / (1 + i / 10) if i < 60 else (0.14 if i < 120 else 0.14 - 0.0005 * (i - 120))
        values.append(base + 0.002 * math.sin(i * 1.7) + (0.3 if i % 37 == 0 else 0.0))
    return values


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(mode="min", factor=0.5, patience=3, threshold=1e-3, cooldown=2),
        dict(mode="min", factor=0.5, patience=2, threshold=0.01, threshold_mode="abs", min_lr=[1e-3, 5e-3]),
        dict(mode="max", factor=0.7, patience=4, cooldown=3, min_lr=2e-3),
        dict(mode="max", factor=0.9, patience=0, threshold=0.005, threshold_mode="abs", eps=1e-3),
    ],
)
def test_reduce_lr_on_plateau_matches_torch(options: dict) -> None:
    ours, theirs = sgd_pair()
    ours_sched = ao.ReduceLROnPlateau(ours, **options)
    theirs_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **options)
    sign = -1.0 if options.get("mode") == "max" else 1.0
    for step, metric in enumerate(plateau_metrics()):
        ours_sched.step(sign * metric)
        theirs_sched.step(sign * metric)
        assert ours_sched.get_last_lr() == theirs_sched.get_last_lr(), f"step {step}"
        assert (ours_sched.num_bad_epochs, ours_sched.cooldown_counter, ours_sched.best) == (
            theirs_sched.num_bad_epochs,
            theirs_sched.cooldown_counter,
            theirs_sched.best,
        ), f"step {step}"
    assert ours_sched.get_last_lr() != [0.1, 0.03], "the metric sequence should trigger reductions"


# -- gradient clipping ------------------------------------------------------------------------


def grad_pair(arrays: list[np.ndarray]):
    ours, theirs = [], []
    for a in arrays:
        p = Parameter(at.tensor(np.zeros_like(a)))
        p.grad = at.tensor(a.copy())
        ours.append(p)
        t = torch.nn.Parameter(torch.zeros(a.shape))
        t.grad = torch.from_numpy(a.copy())
        theirs.append(t)
    return ours, theirs


GRADS = [
    (RNG.standard_normal((7, 5)) * 3).astype(np.float32),
    RNG.standard_normal(11).astype(np.float32),
    np.array(RNG.standard_normal(), dtype=np.float32),
    np.zeros((0, 4), np.float32),
    (RNG.standard_normal((4, 6)).T * 0.1).astype(np.float32),
]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, 0.5, math.inf, -math.inf, 0.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(norm_type: float, max_norm: float) -> None:
    arrays = [g for g in GRADS if g.size] if math.isinf(norm_type) else GRADS
    ours, theirs = grad_pair(arrays)
    total = ao.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=False)
    np.testing.assert_allclose(total.numpy(), expected.numpy(), rtol=2e-6)
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.data.numpy(), t.grad.numpy(), rtol=2e-6, atol=1e-7)


def test_clip_grad_inf_norm_of_an_empty_gradient_fails_like_torch() -> None:
    ours, theirs = grad_pair([GRADS[1], GRADS[3]])
    with pytest.raises(RuntimeError, match="empty"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=math.inf)
    with pytest.raises(RuntimeError, match="empty"):
        ao.clip_grad_norm_(ours, 1.0, norm_type=math.inf)


def test_clip_grad_norm_nonfinite_matches_torch() -> None:
    arrays = [GRADS[0].copy(), GRADS[1].copy()]
    arrays[1][3] = np.nan
    ours, theirs = grad_pair(arrays)
    total = ao.clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert np.isnan(total.item()) and np.isnan(expected.item())
    for a, t in zip(ours, theirs):
        np.testing.assert_array_equal(np.isnan(a.grad.data.numpy()), np.isnan(t.grad.numpy()))
    ours, theirs = grad_pair([np.array([np.inf, 1.0], np.float32)])
    with pytest.raises(RuntimeError, match="non-finite"):
        ao.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("clip_value", [0.0, 0.3, 2.5])
def test_clip_grad_value_matches_torch(clip_value: float) -> None:
    arrays = [g.copy() for g in GRADS]
    arrays[1][0] = np.nan
    ours, theirs = grad_pair(arrays)
    ao.clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value, foreach=False)
    for a, t in zip(ours, theirs):
        np.testing.assert_array_equal(a.grad.data.numpy(), t.grad.numpy())

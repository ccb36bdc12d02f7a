"""An MLP and a small CNN trained side by side with PyTorch on identical data and initial weights.

axon trains with axon-optim, PyTorch with the same torch.optim optimizer (Adam for the MLP, SGD
with momentum for the CNN), float32, 25 steps. The loss curves must agree to a relative 2e-4 per
step (float32 round-off compounding over the steps), and the final weights to 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import axon_nn as nn  # noqa: E402
import axon_nn.functional as F  # noqa: E402
import axon_optim  # noqa: E402
from axon_autograd import Variable  # noqa: E402
from axon_tensor import tensor  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]

STEPS = 25


def _mlp(lib):
    return lib.Sequential(lib.Linear(20, 32), lib.ReLU(), lib.Linear(32, 32), lib.Tanh(), lib.Linear(32, 5))


def _cnn(lib):
    return lib.Sequential(
        lib.Conv2d(1, 4, 3, padding=1),
        lib.BatchNorm2d(4),
        lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Conv2d(4, 8, 3),
        lib.ReLU(),
        lib.AvgPool2d(2),
        lib.Flatten(),
        lib.Linear(8 * 2 * 2, 5),
    )


def _train_both(build, x_shape, optimizer: str, **options):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    th_model, ax_model = build(torch.nn), build(nn)
    ax_model.load_state_dict({k: v.detach().numpy() for k, v in th_model.state_dict().items()})
    th_opt = getattr(torch.optim, optimizer)(th_model.parameters(), **options, foreach=False)
    ax_opt = getattr(axon_optim, optimizer)(ax_model.parameters(), **options)
    batches = [(rng.standard_normal((16, *x_shape)).astype(np.float32), rng.integers(0, 5, 16)) for _ in range(STEPS)]
    th_losses, ax_losses = [], []
    for x, y in batches:
        th_opt.zero_grad()
        th_loss = torch.nn.functional.cross_entropy(th_model(torch.tensor(x)), torch.tensor(y))
        th_loss.backward()
        th_opt.step()
        ax_opt.zero_grad()
        ax_loss = F.cross_entropy(ax_model(Variable(tensor(x))), tensor(y))
        ax_loss.backward()
        ax_opt.step()
        th_losses.append(th_loss.item())
        ax_losses.append(ax_loss.item())
    np.testing.assert_allclose(ax_losses, th_losses, rtol=2e-4)
    assert ax_losses[-1] < ax_losses[0]
    th_state = th_model.state_dict()
    for name, value in ax_model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), th_state[name].numpy(), rtol=1e-4, atol=1e-4, err_msg=name)


def test_mlp_loss_curve_matches_torch():
    _train_both(_mlp, (20,), "Adam", lr=3e-3)


def test_cnn_loss_curve_matches_torch():
    # SGD, not Adam: the first conv's bias feeds a BatchNorm, so its true gradient is 0 and
    # Adam would turn the round-off left in it into full-size (framework-dependent) steps.
    _train_both(_cnn, (1, 12, 12), "SGD", lr=0.05, momentum=0.9)

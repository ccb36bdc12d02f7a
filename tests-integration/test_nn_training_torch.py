"""An MLP and a small CNN trained side by side with PyTorch on identical data and initial weights.

Both use the same plain SGD update (axon-optim is a separate package), float32, 25 steps. The
loss curves must agree to a relative 2e-4 per step (float32 round-off compounding over the
steps), and the final weights to 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import axon_nn as nn  # noqa: E402
import axon_nn.functional as F  # noqa: E402
from axon_autograd import Variable, no_grad  # noqa: E402
from axon_tensor import tensor  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]

STEPS, LR = 25, 0.05


def _mlp(lib):
    return lib.Sequential(lib.Linear(20, 32), lib.ReLU(), lib.Linear(32, 32), lib.Tanh(), lib.Linear(32, 5))


def _cnn(lib):
    return lib.Sequential(
        lib.Conv2d(1, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(), lib.MaxPool2d(2),
        lib.Conv2d(4, 8, 3), lib.ReLU(), lib.AvgPool2d(2), lib.Flatten(), lib.Linear(8 * 2 * 2, 5),
    )


def _train_both(build, x_shape):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    th_model, ax_model = build(torch.nn), build(nn)
    ax_model.load_state_dict({k: v.detach().numpy() for k, v in th_model.state_dict().items()})
    batches = [(rng.standard_normal((16, *x_shape)).astype(np.float32), rng.integers(0, 5, 16)) for _ in range(STEPS)]
    th_losses, ax_losses = [], []
    for x, y in batches:
        th_loss = torch.nn.functional.cross_entropy(th_model(torch.tensor(x)), torch.tensor(y))
        th_model.zero_grad()
        th_loss.backward()
        with torch.no_grad():
            for p in th_model.parameters():
                p -= LR * p.grad
        ax_loss = F.cross_entropy(ax_model(Variable(tensor(x))), tensor(y))
        ax_model.zero_grad()
        ax_loss.backward()
        with no_grad():
            for p in ax_model.parameters():
                p.data._data -= LR * p.grad.data._data
        th_losses.append(th_loss.item())
        ax_losses.append(ax_loss.item())
    np.testing.assert_allclose(ax_losses, th_losses, rtol=2e-4)
    assert ax_losses[-1] < ax_losses[0]
    th_state = th_model.state_dict()
    for name, value in ax_model.state_dict().items():
        np.testing.assert_allclose(value.numpy(), th_state[name].numpy(), rtol=1e-4, atol=1e-4, err_msg=name)


def test_mlp_loss_curve_matches_torch():
    _train_both(_mlp, (20,))


def test_cnn_loss_curve_matches_torch():
    _train_both(_cnn, (1, 12, 12))

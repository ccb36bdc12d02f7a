"""The umbrella re-exports: one object per module whichever name imports it."""

from __future__ import annotations

import numpy as np


def test_submodules_are_the_distributions_own_modules() -> None:
    import axon
    import axon.nn as nn
    import axon.nn.functional as F
    import axon.optim.lr_scheduler as lr_scheduler
    import axon_nn
    import axon_nn.functional
    import axon_optim.lr_scheduler

    assert nn is axon_nn and axon.nn is axon_nn
    assert F is axon_nn.functional and lr_scheduler is axon_optim.lr_scheduler
    assert axon.optim.Adam is __import__("axon_optim").Adam
    assert axon.data.DataLoader is __import__("axon_data").DataLoader
    assert axon.Variable is __import__("axon_autograd").Variable


def test_top_level_names_compute_like_numpy() -> None:
    import axon

    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = axon.tensor(values)
    np.testing.assert_array_equal((x * 2 + axon.ones(3)).numpy(), values * 2 + 1)
    with axon.no_grad():
        y = axon.Variable(x, requires_grad=True) * 3
    assert not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), values * 3)


def test_top_level_functions_record_gradients_for_variables() -> None:
    import pytest

    import axon
    import axon_tensor

    x_values, w_values = np.array([1.0, -2.0, 3.0], np.float32), np.array([0.5, 0.25, 2.0], np.float32)
    x = axon.Variable(axon.tensor(x_values), requires_grad=True)
    w = axon.Variable(axon.tensor(w_values), requires_grad=True)
    (w * axon.relu(x)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), w_values * (x_values > 0))  # d relu / dx is the step
    np.testing.assert_array_equal(w.grad.numpy(), np.maximum(x_values, 0))

    y = axon.Variable(axon.tensor([1.0, 2.0]), requires_grad=True)
    (axon.cat([y, axon.tensor([3.0])]) * axon.tensor([2.0, 5.0, 7.0])).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [2.0, 5.0])

    assert isinstance(axon.relu(axon.tensor([1.0, -1.0])), axon.Tensor)
    with pytest.raises(AttributeError, match="_"):
        axon_tensor.relu(x)  # the Tensor-only function refuses a Variable instead of detaching it

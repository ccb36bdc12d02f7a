"""Optimizer tests run on real ``axon_nn.Parameter``s."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_nn import Parameter


def float32_tensor(array) -> at.Tensor:
    return at.tensor(np.asarray(array, dtype=np.float32))


@pytest.fixture
def make_param():
    """``make_param(array, grad=None)``: a float32 Parameter, with ``grad`` set when given."""

    def make(array, grad=None) -> Parameter:
        p = Parameter(float32_tensor(array))
        if grad is not None:
            p.grad = float32_tensor(grad)
        return p

    return make

"""Stand-in parameters until axon-nn lands: ``.data`` and ``.grad.data`` are axon Tensors."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at


class Param:
    def __init__(self, array: np.ndarray) -> None:
        self.data = at.tensor(np.asarray(array))
        self.grad: Grad | None = None


class Grad:
    def __init__(self, array: np.ndarray) -> None:
        self.data = at.tensor(np.asarray(array))


@pytest.fixture
def make_param():
    def make(array, grad=None):
        p = Param(np.asarray(array, dtype=np.float32))
        if grad is not None:
            p.grad = Grad(np.asarray(grad, dtype=np.float32))
        return p

    return make

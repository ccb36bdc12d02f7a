"""Small models and data shared by the DDP / FSDP / pipeline / checkpoint tests (float64 unless
asked), and :func:`world_of_one`, which joins a plain pytest process to MPI as a world of one
rank (every collective then runs for real on it). Test modules load this file by path."""

from __future__ import annotations

import numpy as np

import axon_distributed as dist
import axon_nn as nn
import axon_nn.functional as F
from axon_autograd import Variable
from axon_tensor import manual_seed, tensor


def mlp(seed: int = 0, dtype: str = "float64") -> nn.Sequential:
    """6 -> 16 -> 16 -> 3 with tanh: five layers, six parameters."""
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3))
    return model.to(dtype=dtype)


def batch(n: int = 8, seed: int = 1, dtype: str = "float64") -> tuple[Variable, Variable]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(dtype)
    y = rng.standard_normal((n, 3)).astype(dtype)
    return Variable(tensor(x)), Variable(tensor(y))


def mse(model, x, y) -> Variable:
    return F.mse_loss(model(x), y)


def state(model) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def world_of_one() -> None:
    if not dist.is_initialized():
        dist.init_process_group("mpi")

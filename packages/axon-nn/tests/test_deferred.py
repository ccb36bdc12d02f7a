"""deferred_init / materialize: structure without storage, then storage and PyTorch's initialisation."""

from __future__ import annotations

import resource

import numpy as np

import axon
import axon_nn as nn


def test_deferred_parameters_have_shapes_but_no_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with nn.deferred_init():
        model = nn.Sequential(nn.Linear(30000, 30000), nn.Embedding(60000, 4096), nn.LayerNorm(4096))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    # 900M + 246M float32 values would take 4.6 GB; a deferred parameter holds one element.
    assert grown_mib < 100
    assert [tuple(p.shape) for p in model.parameters()] == [(30000, 30000), (30000,), (60000, 4096), (4096,), (4096,)]
    assert all(nn.is_deferred(p) for p in model.parameters())


def test_materialize_allocates_and_initialises_like_an_eager_build():
    axon.manual_seed(3)
    eager = nn.Linear(64, 32)
    with nn.deferred_init():
        deferred = nn.Linear(64, 32)
    axon.manual_seed(3)
    nn.materialize(deferred)
    assert not nn.is_deferred(deferred.weight)
    # reset_parameters draws in the same order as the constructor: the same values
    np.testing.assert_array_equal(deferred.weight.detach().numpy(), eager.weight.detach().numpy())
    np.testing.assert_array_equal(deferred.bias.detach().numpy(), eager.bias.detach().numpy())
    x = axon.randn(5, 64)
    np.testing.assert_allclose(deferred(x).detach().numpy(), eager(x).detach().numpy(), rtol=1e-6)


def test_initialisers_outside_the_block_still_write():
    layer = nn.Linear(4, 4)
    nn.init.zeros_(layer.weight)
    assert not layer.weight.detach().numpy().any()

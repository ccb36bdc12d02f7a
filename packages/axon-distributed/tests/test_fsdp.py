"""FullyShardedDataParallel in one process (a world of one MPI rank): every strategy trains like
the unwrapped model, the modules hold view leaves that FULL_SHARD empties after each unit's
forward, full and sharded state dicts and the full optimizer state round-trip, CPU offload with
compute on cuda-sim, gradient clipping, and the construction errors. Sharding across 2 and 4
processes (equal training, memory falling as 1/world_size) is in
tests-integration/test_distributed_parallel.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import axon_nn as nn
import axon_optim as optim
from axon_autograd import Variable
from axon_distributed import CPUOffload, FullyShardedDataParallel, ModuleWrapPolicy, ShardingStrategy

_spec = importlib.util.spec_from_file_location("_models", Path(__file__).with_name("_models.py"))
M = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(M)

STRATEGIES = list(ShardingStrategy)


@pytest.fixture(scope="module", autouse=True)
def _world():
    M.world_of_one()


def wrap(model, strategy=ShardingStrategy.FULL_SHARD, **kwargs):
    return FullyShardedDataParallel(
        model, sharding_strategy=strategy, auto_wrap_policy=ModuleWrapPolicy([nn.Linear]), **kwargs
    )


def train(model, x, y, steps=5, opt=None):
    opt = opt or optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        M.mse(model, x, y).backward()
        opt.step()
    return opt


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: s.name)
def test_training_equals_the_unwrapped_model(strategy):
    x, y = M.batch()
    plain = M.mlp()
    train(plain, x, y)
    fsdp = wrap(M.mlp(), strategy)
    assert len(list(fsdp.parameters())) == 3  # one flat shard per Linear unit
    train(fsdp, x, y)
    full = fsdp.full_state_dict()
    assert list(full) == list(plain.state_dict())
    for key, value in M.state(plain).items():
        np.testing.assert_array_equal(full[key].numpy(), value, err_msg=key)


def test_full_state_dict_loads_into_an_unwrapped_model_and_back():
    x, y = M.batch()
    fsdp = wrap(M.mlp())
    train(fsdp, x, y, steps=2)
    unwrapped = M.mlp(seed=5)
    unwrapped.load_state_dict(fsdp.full_state_dict())
    with fsdp.summon_full_params():
        np.testing.assert_array_equal(fsdp(x).detach().numpy(), unwrapped(x).detach().numpy())
    again = wrap(M.mlp(seed=7), ShardingStrategy.SHARD_GRAD_OP)
    again.load_full_state_dict(unwrapped.state_dict())
    for key, value in again.full_state_dict().items():
        np.testing.assert_array_equal(value.numpy(), unwrapped.state_dict()[key].numpy())
    with pytest.raises(KeyError, match="missing keys"):
        again.load_full_state_dict({})


def test_full_shard_empties_each_unit_after_its_forward_shard_grad_op_keeps_it_until_backward():
    x, y = M.batch()
    for strategy, kept in ((ShardingStrategy.FULL_SHARD, 0), (ShardingStrategy.SHARD_GRAD_OP, 16 * 6)):
        fsdp = wrap(M.mlp(), strategy)
        layer = fsdp.module[0].module  # the first Linear, inside its own unit
        assert layer.weight.numel() == 0  # sharded: the module holds an empty view leaf
        loss = M.mse(fsdp, x, y)
        assert layer.weight.numel() == kept
        loss.backward()
        assert layer.weight.numel() == 0 and layer.weight.grad is None
        assert fsdp.module[0].flat_param.grad is not None
        with fsdp.summon_full_params():
            assert tuple(layer.weight.shape) == (16, 6)


def test_full_optimizer_state_round_trips_and_resumes_exactly():
    x, y = M.batch()
    plain = M.mlp()
    plain_opt = train(plain, x, y, steps=3)
    fsdp = wrap(M.mlp())
    opt = train(fsdp, x, y, steps=3)
    full = fsdp.full_optim_state_dict(opt)
    names = [n for n, _ in plain.named_parameters()]
    assert sorted(full["state"]) == sorted(names)
    plain_state = plain_opt.state_dict()["state"]
    for i, name in enumerate(names):
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(full["state"][name][key].numpy(), plain_state[i][key].numpy())
    # A fresh wrapper and optimizer loaded from the full dicts continue exactly as the original.
    resumed = wrap(M.mlp(seed=3), ShardingStrategy.NO_SHARD)
    resumed.load_full_state_dict(fsdp.full_state_dict())
    resumed_opt = optim.Adam(resumed.parameters(), lr=1e-2)
    resumed.load_full_optim_state_dict(resumed_opt, full)
    train(fsdp, x, y, steps=2, opt=opt)
    train(resumed, x, y, steps=2, opt=resumed_opt)
    a, b = fsdp.full_state_dict(), resumed.full_state_dict()
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_sharded_state_dict_round_trip_and_shape_check():
    x, y = M.batch()
    fsdp = wrap(M.mlp())
    train(fsdp, x, y, steps=1)
    saved = fsdp.sharded_state_dict()
    assert sorted(saved["flat"]) == ["module.0.flat_param", "module.2.flat_param", "module.4.flat_param"]
    other = wrap(M.mlp(seed=9))
    other.load_sharded_state_dict(saved)
    for key, value in other.full_state_dict().items():
        np.testing.assert_array_equal(value.numpy(), fsdp.full_state_dict()[key].numpy())
    whole = FullyShardedDataParallel(M.mlp())  # one unit: other flat parameter names
    with pytest.raises(KeyError, match="units"):
        whole.load_sharded_state_dict(saved)


def test_cpu_offload_keeps_shards_on_the_cpu_and_computes_on_the_device():
    x, y = M.batch()
    plain = M.mlp()
    train(plain, x, y, steps=3)
    fsdp = wrap(M.mlp().to("cuda-sim"), cpu_offload=CPUOffload(offload_params=True))
    xs, ys = Variable(x.data.to("cuda-sim")), Variable(y.data.to("cuda-sim"))
    train(fsdp, xs, ys, steps=3)
    assert {str(p.device) for p in fsdp.parameters()} == {"cpu"}
    assert {str(p.grad.device) for p in fsdp.parameters()} == {"cpu"}
    assert str(fsdp.module[0].module.weight.device) == "cuda-sim"
    for key, value in M.state(plain).items():
        np.testing.assert_array_equal(fsdp.full_state_dict()[key].numpy(), value, err_msg=key)


def test_clip_grad_norm_matches_the_unwrapped_model():
    x, y = M.batch()
    plain, fsdp = M.mlp(), wrap(M.mlp())
    for model in (plain, fsdp):
        (M.mse(model, x, y) * 100).backward()
    expected = optim.clip_grad_norm_(plain.parameters(), 0.5)
    norm = fsdp.clip_grad_norm_(0.5)
    np.testing.assert_allclose(norm.item(), float(expected.item() if hasattr(expected, "item") else expected), 1e-12)
    names = [n for n, _ in plain.named_parameters()]
    plain_grads = {n: p.grad.numpy() for n, p in plain.named_parameters()}
    flat = np.concatenate([p.grad.numpy() for p in fsdp.parameters()])
    np.testing.assert_allclose(flat, np.concatenate([plain_grads[n].reshape(-1) for n in names]), rtol=1e-12)


def test_a_forward_without_backward_is_dropped_an_unfinished_backward_is_named():
    x, y = M.batch()
    fsdp = wrap(M.mlp())
    fsdp(x)  # an evaluation with gradients on: never backpropagated
    loss = M.mse(fsdp, x, y)
    loss.backward()
    assert all(p.grad is not None for p in fsdp.parameters())
    # A backward into the last layer only: the other units never get their gradients.
    M.mse(fsdp, x, y).backward(inputs=[fsdp.module[4].module.weight])
    with pytest.raises(RuntimeError, match="previous backward did not finish"):
        fsdp(x)


def test_construction_errors():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4).double()
            self.b = nn.Linear(4, 4).double()
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    with pytest.raises(ValueError, match="shared with another FSDP unit"):
        FullyShardedDataParallel(Tied(), auto_wrap_policy=lambda m: m is not None and isinstance(m, nn.Linear))
    tied = FullyShardedDataParallel(Tied())  # one unit: the tied weight is flattened once
    assert tied.numel == 16 + 4 + 4
    mixed = nn.Sequential(nn.Linear(2, 2).double(), nn.Linear(2, 2).float())
    with pytest.raises(TypeError, match="one dtype and device"):
        FullyShardedDataParallel(mixed)
    with pytest.raises(TypeError, match="ShardingStrategy"):
        FullyShardedDataParallel(M.mlp(), sharding_strategy="FULL_SHARD")
    nested = wrap(M.mlp())
    with pytest.raises(RuntimeError, match="root unit only"):
        nested.module[0].full_state_dict()

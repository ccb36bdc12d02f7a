"""DistributedDataParallel in one process (a world of one MPI rank: the all-reduces run for real):
bucket layout, the hook-driven posting order (the first bucket goes out before backward ends),
no_sync, unused parameters, and training equal to the unwrapped model. The 2- and 4-process
oracles are in tests-integration/test_distributed_parallel.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import axon_nn as nn
import axon_optim as optim
from axon_autograd import Variable, no_grad
from axon_distributed import DistributedDataParallel

_spec = importlib.util.spec_from_file_location("_models", Path(__file__).with_name("_models.py"))
M = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(M)


@pytest.fixture(scope="module", autouse=True)
def _world():
    M.world_of_one()


def test_buckets_run_backwards_and_the_first_is_capped_at_one_mib():
    model = nn.Sequential(nn.Linear(512, 512), nn.Linear(512, 256), nn.Linear(256, 8)).double()
    ddp = DistributedDataParallel(model, bucket_cap_mb=2.0)
    # Reverse registration order; bucket 0 closes once it holds 1 MiB, later ones at 2 MiB.
    assert ddp.bucket_names() == [["2.bias", "2.weight", "1.bias", "1.weight"], ["0.bias", "0.weight"]]
    sizes = [sum(p.data.nbytes for p in b.params) for b in ddp.buckets]
    assert sizes[0] >= 2**20 and sizes[0] - ddp.buckets[0].params[-1].data.nbytes < 2**20
    one_each = DistributedDataParallel(M.mlp(), bucket_cap_mb=1e-9)
    assert [len(b) for b in one_each.bucket_names()] == [1] * 6


def test_first_bucket_is_posted_before_backward_ends():
    model = M.mlp()
    first_weight = model[0].weight  # the last gradient backward produces
    seen = {}
    # Registered before DDP's own hook, so it runs while that gradient is not yet handed to DDP.
    first_weight.register_post_accumulate_grad_hook(
        lambda p: seen.update(posted=ddp.buckets_posted, first_work=ddp.buckets[0].work)
    )
    ddp = DistributedDataParallel(model, bucket_cap_mb=1e-9)
    x, y = M.batch()
    M.mse(ddp, x, y).backward()
    assert seen["posted"] == len(ddp.buckets) - 1 >= 1
    assert seen["first_work"] is not None  # bucket 0's all_reduce was in flight mid-backward
    assert ddp.buckets_posted == len(ddp.buckets)


@pytest.mark.parametrize("cap", [1e-9, 0.001, 25.0])
def test_training_equals_the_unwrapped_model(cap):
    x, y = M.batch()
    plain, wrapped = M.mlp(), DistributedDataParallel(M.mlp(), bucket_cap_mb=cap)
    for model in (plain, wrapped):
        opt = optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(5):
            opt.zero_grad()
            M.mse(model, x, y).backward()
            opt.step()
    ref = M.state(plain)
    for key, value in M.state(wrapped.module).items():
        np.testing.assert_array_equal(value, ref[key])
    assert list(wrapped.state_dict())[0] == "module.0.weight"


def test_no_sync_accumulates_locally_then_one_synced_backward_averages_the_sum():
    x, y = M.batch()
    plain, ddp = M.mlp(), DistributedDataParallel(M.mlp(), bucket_cap_mb=1e-9)
    for _ in range(2):
        M.mse(plain, x, y).backward()
    with ddp.no_sync():
        M.mse(ddp, x, y).backward()
        assert ddp.buckets_posted == 0 and all(b.work is None for b in ddp.buckets)
    M.mse(ddp, x, y).backward()
    assert ddp.buckets_posted == len(ddp.buckets)
    for (name, p), q in zip(plain.named_parameters(), ddp.module.parameters()):
        np.testing.assert_array_equal(q.grad.numpy(), p.grad.numpy(), err_msg=name)


class _Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(6, 4).double()
        self.left = nn.Linear(4, 3).double()
        self.right = nn.Linear(4, 3).double()

    def forward(self, x, go_left=True):
        h = self.shared(x)
        return self.left(h) if go_left else self.right(h)


def test_unused_parameters_are_found_and_keep_their_grad():
    x, y = M.batch()
    ddp = DistributedDataParallel(_Branches(), find_unused_parameters=True, bucket_cap_mb=1e-9)
    M.mse(lambda v: ddp(v, go_left=True), x, y).backward()
    assert ddp.module.right.weight.grad is None and ddp.module.left.weight.grad is not None
    left = ddp.module.left.weight.grad.numpy().copy()
    M.mse(lambda v: ddp(v, go_left=False), x, y).backward()
    # The second step used only `right`: `left` keeps the gradient it had.
    np.testing.assert_array_equal(ddp.module.left.weight.grad.numpy(), left)
    assert ddp.module.right.weight.grad is not None


def test_an_unused_parameter_without_find_unused_parameters_is_named_at_the_next_forward():
    x, y = M.batch()
    ddp = DistributedDataParallel(_Branches())
    M.mse(lambda v: ddp(v, go_left=True), x, y).backward()
    with pytest.raises(RuntimeError, match=r"right\.weight.*find_unused_parameters=True"):
        ddp(x)


def test_forward_without_backward_and_forward_under_no_grad_are_fine():
    x, y = M.batch()
    ddp = DistributedDataParallel(M.mlp())
    ddp(x)  # evaluation with gradients on, never backpropagated
    with no_grad():
        ddp(x)
    M.mse(ddp, x, y).backward()
    assert all(p.grad is not None for p in ddp.parameters())


def test_bad_arguments():
    with pytest.raises(TypeError, match="axon_nn.Module"):
        DistributedDataParallel(lambda x: x)
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        DistributedDataParallel(M.mlp(), bucket_cap_mb=0)
    frozen = M.mlp().requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter that requires grad"):
        DistributedDataParallel(frozen)
    ddp = DistributedDataParallel(M.mlp())
    x, _ = M.batch()
    out = ddp(x)
    out.sum().backward(retain_graph=True)
    assert isinstance(out, Variable)
    assert "buckets=1" in repr(ddp)


@pytest.mark.parametrize("set_to_none", [True, False])
def test_gradient_as_bucket_view_trains_the_same_without_copies_back(set_to_none):
    x, y = M.batch()
    plain, ddp = M.mlp(), DistributedDataParallel(M.mlp(), bucket_cap_mb=0.001, gradient_as_bucket_view=True)
    for model in (plain, ddp):
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for _ in range(4):
            opt.zero_grad(set_to_none=set_to_none)
            M.mse(model, x, y).backward()
            opt.step()
    for p in ddp.parameters():
        bucket, i = ddp._where[id(p)]
        assert p.grad.data.data_ptr() == bucket.slot(i).data_ptr()  # the gradient is the bucket's memory
    ref = M.state(plain)
    for key, value in M.state(ddp.module).items():
        np.testing.assert_array_equal(value, ref[key])

"""axon_data.DistributedSampler against torch.utils.data.DistributedSampler: the same indices on every
rank, for every epoch, seed, length, world size, shuffle and drop_last."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DistributedSampler as TorchSampler  # noqa: E402

from axon_data import DistributedSampler  # noqa: E402
from axon_data.distributed_sampler import torch_randperm  # noqa: E402

pytestmark = pytest.mark.torch


class Items:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


@pytest.mark.parametrize("n", [1, 2, 5, 10, 17, 64, 1001])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("drop_last", [False, True])
def test_indices_equal_torch(n: int, replicas: int, shuffle: bool, drop_last: bool) -> None:
    for rank in range(replicas):
        kwargs = dict(num_replicas=replicas, rank=rank, shuffle=shuffle, seed=42, drop_last=drop_last)
        ours, theirs = DistributedSampler(Items(n), **kwargs), TorchSampler(Items(n), **kwargs)
        for epoch in range(3):
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert len(ours) == len(theirs)
            assert list(ours) == list(theirs), (rank, epoch)


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**31 - 1, 2**32 + 7, 2**40 + 3])
@pytest.mark.parametrize("n", [2, 3, 100, 50_000])
def test_permutation_equals_torch_randperm(seed: int, n: int) -> None:
    expected = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    np.testing.assert_array_equal(torch_randperm(n, seed), expected)

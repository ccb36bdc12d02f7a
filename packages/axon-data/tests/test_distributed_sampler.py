"""DistributedSampler: the ranks' shares partition the (padded) epoch, set_epoch reshuffles, the
launcher environment supplies rank and world size. (Index-for-index equality with torch's sampler
is in tests-integration/test_data_distributed_sampler_torch.py.)"""

from __future__ import annotations

import pytest

from axon_data import DataLoader, DistributedSampler
from axon_data.distributed_sampler import torch_randperm


class Items:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


@pytest.mark.parametrize("n", [0, 1, 7, 10, 12])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_shares_partition_the_epoch(n: int, replicas: int, shuffle: bool, drop_last: bool) -> None:
    kwargs = dict(shuffle=shuffle, drop_last=drop_last)
    samplers = [DistributedSampler(Items(n), replicas, r, **kwargs) for r in range(replicas)]
    shares = [list(s) for s in samplers]
    lengths = {len(s) for s in shares}
    assert len(lengths) == 1  # every rank takes the same number of steps
    (per_rank,) = lengths
    assert per_rank == len(DistributedSampler(Items(n), replicas, 0, drop_last=drop_last))
    seen = sorted(i for s in shares for i in s)
    if drop_last:
        assert len(set(seen)) == len(seen) == per_rank * replicas <= n
    else:
        assert set(seen) == set(range(n)) and len(seen) == per_rank * replicas  # padded with repeats
    if not shuffle:
        assert shares[0][: min(2, per_rank)] == list(range(0, replicas * min(2, per_rank), replicas))


def test_set_epoch_reshuffles_the_same_way_on_every_rank() -> None:
    samplers = [DistributedSampler(Items(100), 4, r, seed=3) for r in range(4)]
    first = [list(s) for s in samplers]
    assert first == [list(s) for s in samplers]  # no set_epoch: the same order again
    for s in samplers:
        s.set_epoch(1)
    second = [list(s) for s in samplers]
    assert second != first
    assert sorted(i for s in second for i in s) == list(range(100))


def test_rank_and_world_from_the_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SLURM_PROCID", "2")
    monkeypatch.setenv("SLURM_NTASKS", "3")
    sampler = DistributedSampler(Items(9), shuffle=False)
    assert (sampler.rank, sampler.num_replicas, list(sampler)) == (2, 3, [2, 5, 8])
    monkeypatch.delenv("SLURM_PROCID")
    with pytest.raises(ValueError, match="no launcher set them"):
        DistributedSampler(Items(9))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in \[0, 1\]"):
        DistributedSampler(Items(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be at least 1"):
        DistributedSampler(Items(4), num_replicas=0, rank=0)


def test_feeds_a_dataloader() -> None:
    sampler = DistributedSampler(Items(10), num_replicas=2, rank=1, shuffle=False)
    batches = [b.numpy().tolist() for b in DataLoader(Items(10), batch_size=2, sampler=sampler)]
    assert batches == [[1, 3], [5, 7], [9]]


def test_permutation_is_a_permutation() -> None:
    for n in (0, 1, 2, 5, 1000):
        assert sorted(torch_randperm(n, 11).tolist()) == list(range(n))

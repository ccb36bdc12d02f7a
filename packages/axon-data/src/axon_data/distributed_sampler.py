"""``DistributedSampler``: each rank of a data-parallel job visits its own slice of the dataset.

PyTorch's semantics, index for index: with ``shuffle`` the epoch's order is a permutation drawn
from ``seed + epoch`` (call :meth:`DistributedSampler.set_epoch` at the start of every epoch, or
every epoch repeats the same order), padded by repeating its head to a multiple of the number of
replicas (or truncated with ``drop_last``), and rank r takes every ``num_replicas``-th index
starting at r. The permutation is the one ``torch.randperm(n, generator=torch.Generator().manual_seed(s))``
returns (Fisher-Yates over the 32-bit outputs of MT19937 seeded with ``s``, which NumPy's
MT19937 reproduces), so a job moving from torch's sampler to this one sees the same samples.
"""

from __future__ import annotations

import math
import os
from typing import Iterator, Sized

import numpy as np

from .sampler import Sampler

__all__ = ["DistributedSampler"]

# The rank / world-size variables of the launchers, in the order axon_distributed reads them
# (axon-data may not import axon_distributed: SPEC.md's DAG).
_LAUNCHERS = (
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("PMI_RANK", "PMI_SIZE"),
    ("SLURM_PROCID", "SLURM_NTASKS"),
    ("RANK", "WORLD_SIZE"),
)


class DistributedSampler(Sampler[int]):
    """Rank ``rank``'s share of ``dataset``'s indices, out of ``num_replicas`` ranks.

    ``num_replicas`` and ``rank`` default to the launcher's environment (``mpiexec``, ``srun``,
    ``python -m axon_distributed.launch``, torchrun); outside a launcher pass them.
    ``len(sampler)`` is the number of indices this rank yields per epoch: ``ceil(len / replicas)``,
    or ``ceil((len - replicas) / replicas)`` when ``drop_last`` and the length does not divide.
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            env_rank, env_size = _launcher_rank()
            num_replicas = env_size if num_replicas is None else num_replicas
            rank = env_rank if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.epoch = 0
        length = len(dataset)
        if drop_last and length % self.num_replicas:
            self.num_samples = math.ceil((length - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(length / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Draw the next ``__iter__``'s order from ``seed + epoch`` (the same on every rank)."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        length = len(self.dataset)
        if self.shuffle:
            indices = torch_randperm(length, self.seed + self.epoch)
        else:
            indices = np.arange(length, dtype=np.int64)
        if not self.drop_last:
            padding = self.total_size - length
            if padding > 0:
                indices = np.concatenate([indices, np.resize(indices, padding)])
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples


# torch.randperm draws 32-bit numbers below this n (UINT32_MAX / 20), 64-bit ones from it on.
_TORCH_32BIT_LIMIT = (2**32 - 1) // 20


def torch_randperm(n: int, seed: int) -> np.ndarray:
    """The permutation ``torch.randperm(n, generator=torch.Generator().manual_seed(seed))`` gives (CPU, int64).

    torch swaps position i with ``i + u_i % (n - i)`` for i = 0 .. n-2, where u_i are the 32-bit outputs
    of MT19937 seeded with the low 32 bits of ``seed`` (NumPy's legacy seeding of the same engine).
    """
    perm = np.arange(n, dtype=np.int64)
    if n < 2:
        return perm
    if n >= _TORCH_32BIT_LIMIT:
        raise ValueError(
            f"DistributedSampler: shuffling {n} indices: from {_TORCH_32BIT_LIMIT} on torch draws 64-bit numbers, "
            "which this sampler does not reproduce; use shuffle=False and shuffle within shards"
        )
    key, pos = np.random.RandomState(seed & 0xFFFFFFFF).get_state()[1:3]
    engine = np.random.MT19937()
    engine.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}
    steps = np.arange(n - 1, dtype=np.int64)
    targets = (steps + engine.random_raw(n - 1).astype(np.int64) % (n - steps)).tolist()
    values = perm.tolist()
    for i, j in enumerate(targets):
        values[i], values[j] = values[j], values[i]
    return np.asarray(values, dtype=np.int64)


def _launcher_rank() -> tuple[int, int]:
    for rank_var, size_var in _LAUNCHERS:
        if rank_var in os.environ and size_var in os.environ:
            try:
                return int(os.environ[rank_var]), int(os.environ[size_var])
            except ValueError:
                raise ValueError(
                    f"DistributedSampler: {rank_var}={os.environ[rank_var]!r} / {size_var}={os.environ[size_var]!r} "
                    "are not integers"
                ) from None
    raise ValueError(
        "DistributedSampler: num_replicas and rank were not given and no launcher set them "
        "(OMPI_COMM_WORLD_RANK, PMI_RANK, SLURM_PROCID or RANK with the world size); pass them"
    )

"""Samplers: which dataset indices a DataLoader visits, and in what order.

Random samplers draw from an :class:`axon_tensor.Generator`. Each records the generator's state
at the start of its epoch and how many indices it has yielded since, so ``state_dict()`` /
``load_state_dict()`` resume an interrupted epoch exactly where it stopped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Generic, Iterable, Iterator, Sequence, Sized, TypeVar

import numpy as np

from axon_core import ShapeError
from axon_tensor import Generator, Tensor, default_generator

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]

T = TypeVar("T")


class Sampler(Generic[T]):
    """Base class: an iterable of indices (or of index lists, for batch samplers)."""

    def __iter__(self) -> Iterator[T]:
        raise TypeError(f"{type(self).__name__} does not define __iter__")


class SequentialSampler(Sampler[int]):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class _SeededSampler(Sampler[int], ABC):
    """A sampler whose epoch order is drawn in one go from a generator (resumable mid-epoch).

    With ``generator=None`` every epoch takes a fresh seed from axon's default generator, like
    PyTorch; the fresh generator's state is what :meth:`state_dict` records.
    """

    def __init__(self, generator: Generator | None) -> None:
        self.generator = generator
        self._epoch_state: dict[str, Any] | None = None
        self._consumed = 0
        self._resume: dict[str, Any] | None = None

    @abstractmethod
    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        """This epoch's indices, drawn from ``rng``."""

    def __iter__(self) -> Iterator[int]:
        # Eager on purpose: the epoch's order (and the generator state it came from) is fixed the
        # moment iteration starts, so state_dict() is right even before the first index is taken.
        skip = 0
        if self._resume is not None:
            gen = self.generator if self.generator is not None else Generator(0)
            gen.set_state(self._resume["epoch_state"])
            skip = int(self._resume["consumed"])
            self._resume = None
        elif self.generator is not None:
            gen = self.generator
        else:
            gen = Generator(int(default_generator.numpy_generator.integers(0, 2**63 - 1)))
        self._epoch_state = gen.get_state()
        order = self._draw(gen.numpy_generator).tolist()
        self._consumed = skip
        return self._yield(order[skip:])

    def _yield(self, order: list[int]) -> Iterator[int]:
        for index in order:
            self._consumed += 1
            yield index

    def state_dict(self) -> dict[str, Any]:
        """Generator state at the start of the current epoch and the number of indices yielded."""
        if self._epoch_state is None:
            raise RuntimeError(f"{type(self).__name__}.state_dict(): no epoch has started yet")
        return {"epoch_state": self._epoch_state, "consumed": self._consumed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The next ``iter()`` replays the saved epoch's order from its ``consumed``-th index."""
        if "epoch_state" not in state or "consumed" not in state:
            raise KeyError(
                f"{type(self).__name__}.load_state_dict(): expected keys 'epoch_state' and 'consumed', got {sorted(state)}"
            )
        self._resume = {"epoch_state": state["epoch_state"], "consumed": int(state["consumed"])}


class RandomSampler(_SeededSampler):
    """A random permutation of the indices, or ``num_samples`` draws with ``replacement``.

    Without replacement and ``num_samples > len``, whole permutations follow one another.
    """

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        super().__init__(generator)
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        if num_samples is not None and (
            not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0
        ):
            raise ValueError(f"RandomSampler: num_samples must be a positive int, got {num_samples!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        n = len(self.data_source)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        rounds = -(-self.num_samples // n)
        return np.concatenate([rng.permutation(n) for _ in range(rounds)])[: self.num_samples]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_SeededSampler):
    """The given indices in a random order."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        super().__init__(generator)
        self.indices = np.asarray(list(indices), dtype=np.int64)

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        return self.indices[rng.permutation(len(self.indices))]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_SeededSampler):
    """``num_samples`` indices drawn with probability proportional to ``weights`` ``[n]``."""

    def __init__(
        self,
        weights: Sequence[float] | Tensor | np.ndarray,
        num_samples: int,
        replacement: bool = True,
        generator: Generator | None = None,
    ) -> None:
        super().__init__(generator)
        w = np.asarray(weights.numpy() if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ShapeError(f"WeightedRandomSampler: weights must be 1-d, got shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples must be a positive int, got {num_samples!r}")
        if not replacement and num_samples > int(np.count_nonzero(w)):
            raise ValueError(
                f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                f"from {int(np.count_nonzero(w))} non-zero weights"
            )
        self.weights = w
        self.num_samples = num_samples
        self.replacement = bool(replacement)

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        p = self.weights / self.weights.sum()
        return rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p).astype(np.int64)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one may be short)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size must be a positive int, got {batch_size!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        # iter(sampler) runs now, not at the first next(): a random sampler fixes its epoch here.
        return self._batches(iter(self.sampler))

    def _batches(self, indices: Iterator[int]) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in indices:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

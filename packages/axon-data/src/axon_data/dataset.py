"""Datasets: map-style (``len`` + ``__getitem__``) and iterable, and ways to combine them."""

from __future__ import annotations

import bisect
from typing import Generic, Iterable, Iterator, Sequence, TypeVar

from axon_core import ShapeError
from axon_tensor import Tensor
from axon_tensor.tensor import view_of

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "Subset"]

T = TypeVar("T")


class Dataset(Generic[T]):
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__``.

    A subclass may also define ``__getitems__(indices) -> list`` to fetch a whole batch at once;
    the DataLoader uses it when present.
    """

    def __getitem__(self, index: int) -> T:
        raise TypeError(f"{type(self).__name__} does not define __getitem__")

    def __add__(self, other: "Dataset[T]") -> "ConcatDataset[T]":
        return ConcatDataset([self, other])


class IterableDataset(Generic[T]):
    """A stream of samples: subclasses define ``__iter__``.

    With worker processes every worker iterates its own copy; use
    :func:`axon_data.get_worker_info` inside ``__iter__`` to give each worker its own shard.
    """

    def __iter__(self) -> Iterator[T]:
        raise TypeError(f"{type(self).__name__} does not define __iter__")


def _row(t: Tensor, index: int) -> Tensor:
    # Integer indexing of the first dimension as a view (Tensor indexing lives in another package layer).
    return view_of(t.array[index], t)


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are rows of tensors sharing their first dimension: ``ds[i] == (t0[i], t1[i], ...)``."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: expected Tensors, got {type(t).__name__}")
            if t.ndim == 0:
                raise ShapeError("TensorDataset: 0-d tensors have no first dimension to index")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            raise ShapeError(
                f"TensorDataset: tensors must share their first dimension, got shapes {[t.shape for t in tensors]}"
            )
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        n = len(self)
        i = int(index)
        if not -n <= i < n:
            raise IndexError(f"TensorDataset: index {i} is out of range for {n} samples")
        return tuple(_row(t, i) for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class ConcatDataset(Dataset[T]):
    """Datasets one after another: index ``i`` goes to the dataset whose range holds it."""

    def __init__(self, datasets: Iterable[Dataset[T]]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset: iterable datasets have no length; chain them instead")
        self.cumulative_sizes: list[int] = []
        total = 0
        for d in self.datasets:
            total += len(d)  # type: ignore[arg-type]
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> T:
        n = len(self)
        i = int(index)
        if not -n <= i < n:
            raise IndexError(f"ConcatDataset: index {i} is out of range for {n} samples")
        if i < 0:
            i += n
        which = bisect.bisect_right(self.cumulative_sizes, i)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][i - start]


class Subset(Dataset[T]):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Dataset[T], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index: int) -> T:
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: list[int]) -> list[T]:
        inner = [self.indices[i] for i in indices]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(inner)  # type: ignore[attr-defined]
        return [self.dataset[i] for i in inner]

    def __len__(self) -> int:
        return len(self.indices)

"""Random disjoint splits of a dataset."""

from __future__ import annotations

import math
from typing import Sequence, TypeVar

from axon_tensor import Generator, default_generator

from .dataset import Dataset, Subset

__all__ = ["random_split"]

T = TypeVar("T")


def _sizes(total: int, lengths: Sequence[float]) -> list[int]:
    if all(isinstance(x, int) and not isinstance(x, bool) for x in lengths):
        sizes = [int(x) for x in lengths]
        if any(s < 0 for s in sizes):
            raise ValueError(f"random_split: negative length in {list(lengths)}")
        if sum(sizes) != total:
            raise ValueError(f"random_split: lengths {sizes} sum to {sum(sizes)}, the dataset has {total} samples")
        return sizes
    fractions = [float(x) for x in lengths]
    if any(f < 0 or f > 1 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
        raise ValueError(f"random_split: fractions {fractions} must be in [0, 1] and sum to 1")
    sizes = [int(math.floor(total * f)) for f in fractions]
    # Like PyTorch: the remainder goes one sample at a time to the splits in order.
    for k in range(total - sum(sizes)):
        sizes[k % len(sizes)] += 1
    return sizes


def random_split(dataset: Dataset[T], lengths: Sequence[float], generator: Generator | None = None) -> list[Subset[T]]:
    """Split ``dataset`` into disjoint random subsets of the given sizes (or fractions summing to 1)."""
    total = len(dataset)  # type: ignore[arg-type]
    sizes = _sizes(total, lengths)
    order = (default_generator if generator is None else generator).numpy_generator.permutation(total)
    splits, start = [], 0
    for size in sizes:
        splits.append(Subset(dataset, order[start : start + size].tolist()))
        start += size
    return splits

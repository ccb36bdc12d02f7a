"""Fetching one batch from a dataset: the same code runs in the main process and in workers."""

from __future__ import annotations

from typing import Any, Callable, Iterator


class MapFetcher:
    """Fetch ``dataset[i]`` for every index of a batch (or one index without batching), then collate."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any]) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self._getitems = getattr(dataset, "__getitems__", None)

    def fetch(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self._getitems is not None:
            return self.collate_fn(self._getitems(index))
        return self.collate_fn([self.dataset[i] for i in index])


class IterableFetcher:
    """Pull the next batch from an iterable dataset; raises StopIteration when it runs dry."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable[[Any], Any], drop_last: bool) -> None:
        self.iterator: Iterator[Any] = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last

    def fetch(self, batch_size: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        batch = []
        for sample in self.iterator:
            batch.append(sample)
            if len(batch) == batch_size:
                break
        if not batch or (self.drop_last and len(batch) < batch_size):
            raise StopIteration
        return self.collate_fn(batch)


def make_fetcher(
    dataset: Any, is_iterable: bool, auto_collation: bool, collate_fn: Callable[[Any], Any], drop_last: bool
) -> Any:
    if is_iterable:
        return IterableFetcher(dataset, auto_collation, collate_fn, drop_last)
    return MapFetcher(dataset, auto_collation, collate_fn)

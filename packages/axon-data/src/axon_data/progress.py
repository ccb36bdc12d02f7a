"""A rich progress bar over any iterable (a DataLoader, an epoch loop)."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["progress_bar"]

T = TypeVar("T")


def progress_bar(
    iterable: Iterable[T],
    description: str = "batches",
    total: int | None = None,
    console: Console | None = None,
    transient: bool = False,
) -> Iterator[T]:
    """Yield from ``iterable`` while drawing a bar (count, elapsed, remaining, items/s).

    ``total`` defaults to ``len(iterable)`` when it has one; streams show a running count.
    """
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    columns: list[Any] = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[rate]}"),
    ]
    with Progress(*columns, console=console, transient=transient) as progress:
        task = progress.add_task(description, total=total, rate="")
        for item in iterable:
            yield item
            progress.advance(task)
            speed = progress.tasks[0].speed
            progress.update(task, rate=f"{speed:.1f} it/s" if speed else "")

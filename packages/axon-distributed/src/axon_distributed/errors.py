"""The errors of axon-distributed: each names the collective, the group and the ranks involved."""

from __future__ import annotations

__all__ = [
    "CollectiveMismatchError",
    "CollectiveTimeoutError",
    "DistributedError",
    "RankFailureError",
]


class DistributedError(RuntimeError):
    """Base class of axon-distributed's errors (a RuntimeError, as torch.distributed raises)."""


class RankFailureError(DistributedError):
    """Another rank died, exited or stopped answering while this rank needed it.

    ``ranks`` are the global ranks at fault (the dead or hung ones), ``collective`` the operation
    this rank was in (``"all_reduce #12 on group 0"``), or None when it was between operations.
    """

    def __init__(self, message: str, ranks: "tuple[int, ...] | list[int]" = (), collective: str | None = None):
        super().__init__(message)
        self.ranks = tuple(ranks)
        self.collective = collective


class CollectiveTimeoutError(RankFailureError, TimeoutError):
    """An operation did not complete within the process group's timeout; ``ranks`` had not joined it."""


class CollectiveMismatchError(DistributedError, ValueError):
    """The ranks of a group called a collective with different arguments (op, dtype, shape, root, reduce op).

    Raised on every rank of the group, before any data moves, so no rank's memory is overwritten
    by a wrongly sized message.
    """

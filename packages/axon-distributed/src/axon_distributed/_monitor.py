"""Watching the ranks: which are alive, where each is, and failing well when one dies or hangs.

(First version: converts MPI's process-failure errors; the heartbeat monitor follows.)
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from .errors import RankFailureError

__all__ = ["Monitor"]


class Monitor:
    def __init__(self, rank: int, timeout_s: float) -> None:
        self.rank = rank
        self.timeout_s = timeout_s

    def entering(self, group: Any, seq: int, label: str, peers: list[int]) -> None:
        self.check_peers(label, peers)

    def check_peers(self, label: str, peers: list[int]) -> None:
        pass

    @contextlib.contextmanager
    def guard(self, group: Any, label: str, peers: list[int], comm: Any, timeout: Any = None) -> Iterator[None]:
        from mpi4py import MPI

        try:
            yield
        except MPI.Exception as exc:
            raise RankFailureError(f"{label}: MPI failed: {exc.Get_error_string()}", (), label) from exc

    def work_timeout(self, work: Any, timeout: float) -> Exception | None:
        return None

    def close(self, reason: str = "") -> None:
        pass

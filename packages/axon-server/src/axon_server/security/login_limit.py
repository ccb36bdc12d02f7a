"""Brute-force protection: after ``max_failures`` failed logins for one username or from one
client address within ``window_s`` seconds, further attempts are refused until the window passes."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

__all__ = ["LoginLimiter"]


class LoginLimiter:
    def __init__(self, max_failures: int = 5, window_s: float = 60.0):
        self.max_failures, self.window_s = max_failures, window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until an attempt is allowed (0: allowed now)."""
        now = time.monotonic()
        with self._lock:
            waits = [
                self.window_s - (now - times[0])
                for key in (f"user:{username}", f"addr:{address}")
                if len(times := self._recent(key, now)) >= self.max_failures
            ]
        return int(max(waits)) + 1 if waits else 0

    def failed(self, username: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"user:{username}", f"addr:{address}"):
                self._recent(key, now).append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(f"user:{username}", None)

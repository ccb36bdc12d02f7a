"""A generic observer registry: what a profiler listens to, at no cost while nobody listens.

Three kinds of event reach an observer: a tensor op (``"op"``), an autograd backward node
(``"backward"``) and a device kernel launch (``"kernel"``).

- Tensor ops cost nothing while :data:`OBSERVERS` is empty: a package registers an
  *instrumentation* (:func:`add_instrumentation`), a function that swaps its ops for observed
  versions when called with True and puts the very same function objects back with False. The
  first observer added switches every instrumentation on; removing the last switches them off.
  A wrapper with an "is anyone listening" test would cost an extra Python call on every op
  (tools/bench/bench_profile_overhead.py measures how much).
- Backward nodes and kernel launches are rarer and heavier; their call sites test
  ``if OBSERVERS:`` (one global list's truth) and call :func:`observe_call` only when it holds.

An observer has ``enter(kind, name, fn, args, kwargs) -> token`` and ``exit(token, result)``
(``result`` is None when the call raised), and ``kernel(...)`` for a launch (:func:`report_kernel`).
Observers are process-wide, like the ops they watch.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Protocol

__all__ = [
    "OBSERVERS",
    "Observer",
    "add_instrumentation",
    "add_observer",
    "remove_observer",
    "observe_call",
    "observed",
    "report_kernel",
]


class Observer(Protocol):
    def enter(self, kind: str, name: str, fn: Any, args: tuple, kwargs: dict) -> Any: ...

    def exit(self, token: Any, result: Any) -> None: ...

    def kernel(
        self,
        device: str,
        name: str,
        grid: tuple,
        block: tuple,
        start_ns: int,
        end_ns: int,
        device_ms: Callable[[], float],
    ) -> None: ...


#: The active observers; empty when nothing profiles (the one check the call sites make).
OBSERVERS: list[Observer] = []
_instrumentations: list[Callable[[bool], None]] = []
_lock = threading.Lock()


def add_instrumentation(toggle: Callable[[bool], None]) -> None:
    """Register ``toggle(on)``; it is called at once with True when observers are already active."""
    with _lock:
        _instrumentations.append(toggle)
        if OBSERVERS:
            toggle(True)


def add_observer(observer: Observer) -> None:
    """Start delivering events to ``observer`` (the first one switches instrumentations on)."""
    with _lock:
        if not OBSERVERS:
            for toggle in _instrumentations:
                toggle(True)
        OBSERVERS.append(observer)


def remove_observer(observer: Observer) -> None:
    """Stop delivering events to ``observer``; ValueError when it was not added."""
    with _lock:
        if observer not in OBSERVERS:
            raise ValueError("remove_observer: this observer was never added (or was removed already)")
        OBSERVERS.remove(observer)
        if not OBSERVERS:
            for toggle in reversed(_instrumentations):
                toggle(False)


def observe_call(kind: str, name: str, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)`` bracketed by every active observer's enter and exit."""
    observers = tuple(OBSERVERS)
    tokens = [o.enter(kind, name, fn, args, kwargs) for o in observers]
    result = None
    try:
        result = fn(*args, **kwargs)
        return result
    finally:
        for o, token in zip(reversed(observers), reversed(tokens)):
            o.exit(token, result)


def observed(kind: str, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` wrapped so each call goes through :func:`observe_call` (``__wrapped__`` is ``fn``)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return observe_call(kind, name, fn, args, kwargs)

    call.__name__ = getattr(fn, "__name__", name)
    call.__qualname__ = getattr(fn, "__qualname__", name)
    call.__doc__ = getattr(fn, "__doc__", None)
    call.__wrapped__ = fn  # type: ignore[attr-defined]
    for attr in ("defers",):
        if hasattr(fn, attr):
            setattr(call, attr, getattr(fn, attr))
    return call


def report_kernel(
    device: str, name: str, grid: tuple, block: tuple, start_ns: int, end_ns: int, device_ms: Callable[[], float]
) -> None:
    """Tell every observer that kernel ``name`` was launched on ``device`` between host clock
    readings ``start_ns`` and ``end_ns`` (``time.perf_counter_ns``); ``device_ms()`` gives its
    duration on the device (CUDA events on a GPU; the executor's clock under cuda-sim), and may
    block until the kernel is done, so observers call it late (when they stop)."""
    for observer in tuple(OBSERVERS):
        observer.kernel(device, name, grid, block, start_ns, end_ns, device_ms)

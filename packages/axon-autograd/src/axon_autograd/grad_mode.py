"""Whether ops record the graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

The flag is thread-local, as in PyTorch, so a data-loading thread under ``no_grad`` does not
switch recording off for the training thread.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]

F = TypeVar("F", bound=Callable[..., Any])


class _GradState(threading.local):
    enabled = True


grad_state = _GradState()


def is_grad_enabled() -> bool:
    """True when ops on Variables record their backward."""
    return grad_state.enabled


class _GradMode:
    """A context manager and decorator that sets the grad mode and restores it on exit."""

    _mode = True

    def __enter__(self) -> None:
        self._previous = grad_state.enabled
        grad_state.enabled = self._mode

    def __exit__(self, *exc: Any) -> None:
        grad_state.enabled = self._previous

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Ops inside do not record the graph (``with no_grad(): ...`` or ``@no_grad()``)."""

    _mode = False


class enable_grad(_GradMode):
    """Ops inside record the graph, even within ``no_grad``."""

    _mode = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` switches recording off at once; as a context manager it
    restores the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        self._previous = grad_state.enabled
        self._mode = bool(mode)
        grad_state.enabled = self._mode

    def __enter__(self) -> None:
        grad_state.enabled = self._mode

    def __call__(self, fn: F) -> F:
        grad_state.enabled = self._previous
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

"""Mixed precision: ``autocast(dtype=float16 | bfloat16)``.

Inside the context, ops whose Function has ``autocast_policy = "lower"`` (matmul, mm, bmm, dot,
einsum, and nn's linear/conv) cast their floating inputs to the low dtype; ops with
``autocast_policy = "fp32"`` (reductions, softmax, log_softmax, norms, exp/log, losses) cast
low-precision inputs up to float32. The casts are recorded ops, so gradients flow back to the
original (float32) leaves in their own dtype.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable

from axon_core import DTypeError, as_dtype, bfloat16, float16, float32

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "cast_inputs"]


class _AutocastState(threading.local):
    dtype: Any = None


autocast_state = _AutocastState()


def is_autocast_enabled() -> bool:
    return autocast_state.dtype is not None


def get_autocast_dtype() -> Any:
    """The low-precision dtype of the active autocast region, or None outside one."""
    return autocast_state.dtype


class autocast:
    """``with autocast(dtype=axon.bfloat16): ...`` (also a decorator). ``enabled=False`` turns
    autocast off inside an enclosing region."""

    def __init__(self, dtype: Any = float16, enabled: bool = True) -> None:
        chosen = as_dtype(dtype)
        if chosen not in (float16, bfloat16):
            raise DTypeError(f"autocast: dtype must be float16 or bfloat16, got {chosen}")
        self.dtype = chosen
        self.enabled = bool(enabled)

    def __enter__(self) -> "autocast":
        self._previous = autocast_state.dtype
        autocast_state.dtype = self.dtype if self.enabled else None
        return self

    def __exit__(self, *exc: Any) -> None:
        autocast_state.dtype = self._previous

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        dtype, enabled = self.dtype, self.enabled

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with autocast(dtype, enabled):
                return fn(*args, **kwargs)

        return wrapper


def cast_inputs(policy: str, args: tuple) -> tuple:
    """``args`` with floating Variables/Tensors cast for ``policy`` ("lower" or "fp32")."""
    from .functions.conversion import to

    if policy == "lower":
        target = autocast_state.dtype
        wanted = lambda dt: dt.is_floating_point and dt is not target  # noqa: E731
    elif policy == "fp32":
        target = float32
        wanted = lambda dt: dt is float16 or dt is bfloat16  # noqa: E731
    else:
        raise ValueError(f"autocast: unknown policy {policy!r}; use 'lower' or 'fp32'")
    out = []
    for a in args:
        dtype = getattr(a, "dtype", None)
        if dtype is not None and hasattr(a, "shape") and wanted(dtype):
            # The cast itself must not be autocast again.
            previous = autocast_state.dtype
            autocast_state.dtype = None
            try:
                a = to(a, target)
            finally:
                autocast_state.dtype = previous
        out.append(a)
    return tuple(out)

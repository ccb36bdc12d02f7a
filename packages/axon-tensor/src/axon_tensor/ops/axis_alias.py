"""``axis=`` as an alias of ``dim=`` on the reductions and scans, wherever PyTorch accepts it."""

from __future__ import annotations

import functools
from typing import Any, Callable

__all__ = ["AXIS_OPS", "accept_axis", "with_axis"]

#: Ops whose ``dim`` PyTorch also takes as ``axis`` (NumPy's name).
AXIS_OPS = (
    "sum",
    "mean",
    "nansum",
    "nanmean",
    "std",
    "var",
    "std_mean",
    "var_mean",
    "all",
    "any",
    "max",
    "min",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "prod",
    "logsumexp",
    "median",
    "count_nonzero",
    "cumsum",
    "cumprod",
    "cummax",
    "cummin",
    "logcumsumexp",
    "norm",
    "softmax",
    "log_softmax",
    "flip",
    "squeeze",
    "unsqueeze",
    "cat",
    "concat",
    "concatenate",
    "stack",
)


def with_axis(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` taking ``axis=`` for ``dim=`` (both at once is a TypeError naming the op)."""
    if getattr(fn, "accepts_axis", False):
        return fn

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise TypeError(f"{fn.__name__}(): got both dim= and its alias axis=")
            kwargs["dim"] = kwargs.pop("axis")
        return fn(*args, **kwargs)

    call.accepts_axis = True  # type: ignore[attr-defined]
    return call


def accept_axis(cls: type, namespace: dict[str, Any]) -> dict[str, Any]:
    """Wrap the :data:`AXIS_OPS` methods of ``cls`` in place; return ``namespace``'s functions wrapped too."""
    for name in AXIS_OPS:
        method = cls.__dict__.get(name)
        if method is not None:
            setattr(cls, name, with_axis(method))
    return {name: with_axis(namespace[name]) for name in AXIS_OPS if callable(namespace.get(name))}

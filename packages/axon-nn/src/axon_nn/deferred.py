"""Deferred initialisation: build a module's structure without its storage, allocate it later.

Inside ``deferred_init()`` every parameter made by the layers is a zero-strided view of one
element (its shape and dtype are real, its memory is not) and the ``init`` functions write nothing,
so a model of billions of parameters can be built, printed and counted on a small machine, as
with PyTorch's ``meta`` device. ``materialize(module)`` then gives each deferred parameter its own
storage and runs every submodule's ``reset_parameters()``.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

from axon_autograd import tensor_of

__all__ = ["deferred_init", "is_deferred", "materialize"]

_deferring: ContextVar[bool] = ContextVar("deferred_init", default=False)


@contextmanager
def deferred_init() -> Iterator[None]:
    """Within the block, new parameters hold no storage and initialisers do nothing."""
    token = _deferring.set(True)
    try:
        yield
    finally:
        _deferring.reset(token)


def deferring() -> bool:
    """Whether a ``deferred_init()`` block is active (the layer factory and ``init`` ask)."""
    return _deferring.get()


def is_deferred(t: Any) -> bool:
    """Whether ``t`` (a Tensor, Variable or Parameter) was made under ``deferred_init`` and not materialised."""
    array = tensor_of(t).array
    return array.size > 1 and all(stride == 0 for stride in array.strides)


def materialize(module: Any) -> Any:
    """Allocate every deferred parameter and buffer of ``module`` in place (shared ones once) and
    run each submodule's ``reset_parameters()``; returns ``module``."""
    from axon_tensor import empty

    for tensor in [*module.parameters(), *module.buffers()]:
        if is_deferred(tensor):
            data = tensor_of(tensor)
            fresh = empty(*data.shape, dtype=data.dtype, device=data.device)
            if hasattr(tensor, "data") and tensor is not data:
                tensor.data = fresh
            else:
                raise TypeError("materialize: a deferred buffer must be re-registered by its module")
    for sub in module.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()
    return module

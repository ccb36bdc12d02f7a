"""Top-level functions that take Tensors and Variables alike, as PyTorch's do.

``axon.relu(x)`` runs the Tensor op when no argument is a Variable; otherwise it runs the
Variable method of the same name, so the op is recorded for autograd (a Tensor argument next
to a Variable counts as a constant). ``cat``/``stack``/``where``/``einsum`` go to axon-autograd's
versions, which take Variables inside their argument lists.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import axon_autograd
from axon_autograd import Variable
from axon_tensor import Tensor

__all__ = ["dispatching"]

_AUTOGRAD_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "cat": axon_autograd.cat,
    "concat": axon_autograd.cat,
    "concatenate": axon_autograd.cat,
    "stack": axon_autograd.stack,
    "where": axon_autograd.where,
    "einsum": axon_autograd.einsum,
}


def _holds_variable(value: Any) -> bool:
    if isinstance(value, Variable):
        return True
    return isinstance(value, (list, tuple)) and any(isinstance(item, Variable) for item in value)


def dispatching(name: str, tensor_function: Callable[..., Any]) -> Callable[..., Any]:
    """``tensor_function``, routed to autograd when any argument is a Variable."""
    autograd_function = _AUTOGRAD_FUNCTIONS.get(name)
    if autograd_function is None and not callable(getattr(Tensor, name, None)):
        return tensor_function

    @functools.wraps(tensor_function)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not any(map(_holds_variable, args)) and not any(map(_holds_variable, kwargs.values())):
            return tensor_function(*args, **kwargs)
        if autograd_function is not None:
            return autograd_function(*args, **kwargs)
        first = args[0] if args else None
        if isinstance(first, Tensor):
            first = Variable(first)
        if not isinstance(first, Variable):
            raise TypeError(
                f"axon.{name}: expected a Tensor or Variable as the first argument, got {type(first).__name__}"
            )
        return getattr(first, name)(*args[1:], **kwargs)

    return call

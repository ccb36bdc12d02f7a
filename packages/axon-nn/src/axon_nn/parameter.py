"""``Parameter``: a Variable that a Module registers as trainable state."""

from __future__ import annotations

from typing import Any

from axon_autograd import Variable
from axon_tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Variable):
    """A leaf Variable that requires grad (unless told otherwise) and that Modules collect.

    ``Parameter(tensor)`` or ``Parameter(variable)`` (its data is shared, not copied).
    """

    def __init__(self, data: "Tensor | Variable", requires_grad: bool = True) -> None:
        if isinstance(data, Variable):
            data = data.data
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor or Variable, got {type(data).__name__}")
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return f"Parameter containing:\n{self.data!r}"

    def __reduce__(self) -> Any:
        return (Parameter, (self.data, self.requires_grad))

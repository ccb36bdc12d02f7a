"""Nodes of the backward graph.

A :class:`BackwardNode` is created by every recorded op; it is also the ``ctx`` that the op's
``Function.forward`` and ``Function.backward`` receive (one allocation per op, as in PyTorch).
``next_functions`` holds one edge per forward input: ``(node, output_nr)`` of the node that
produced it, or ``None`` where the input needs no gradient. Leaves end in an
:class:`AccumulateGrad` node that adds into the leaf's ``.grad``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from axon_tensor import Tensor

if TYPE_CHECKING:
    from .variable import Variable

__all__ = ["BackwardNode", "AccumulateGrad", "SavedOutput", "RemovableHandle"]

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or to read saved tensors after they "
    "were freed): {name}'s saved tensors were released by an earlier backward. Pass "
    "retain_graph=True to the first backward() if you need to backward twice."
)


class SavedOutput:
    """An output of the node's own op kept for backward (kept as a Tensor to avoid a cycle)."""

    __slots__ = ("tensor", "output_nr")

    def __init__(self, tensor: Any, output_nr: int) -> None:
        self.tensor = tensor
        self.output_nr = output_nr


class RemovableHandle:
    """Returned by ``register_hook``; ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


class BackwardNode:
    """One recorded op. Subclassed once per :class:`~axon_autograd.Function` (``MulBackward``)."""

    _function: Any = None
    # Class-level defaults keep the per-op cost to the attributes an op actually sets.
    next_functions: tuple = ()
    needs_input_grad: tuple = ()
    n_outputs = 1
    output_meta: tuple = ()
    non_differentiable: tuple = ()
    materialize_grads = True
    _to_save: tuple = ()
    _saved: tuple = ()
    _saved_versions: tuple = ()
    _freed = False
    _pre_hooks: "dict[int, list[Callable]] | None" = None
    _retained: "dict[int, Any] | None" = None

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    # -- ctx API used inside Function.forward / backward -----------------------------------------
    def save_for_backward(self, *tensors: Any) -> None:
        """Keep ``tensors`` (inputs or outputs of forward, or None) for backward."""
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The saved values as Variables; inputs keep their graph so double backward works."""
        if self._freed:
            raise RuntimeError(_FREED_MESSAGE.format(name=self.name()))
        make_variable = variable.make_variable
        out = []
        for item, version in zip(self._saved, self._saved_versions):
            kind = item.__class__
            if kind is Tensor:
                item = make_variable(item, False, None)
            elif kind is SavedOutput:
                item = make_variable(item.tensor, True, self, item.output_nr)
            elif version is not None and item._version != version:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an "
                    f"in-place operation: {self.name()} saved a Variable of shape {tuple(item.shape)} at "
                    f"version {version}, it is now at version {item._version}"
                )
            out.append(item)
        return tuple(out)

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """Outputs of forward (Tensors) that get ``requires_grad=False``."""
        self.non_differentiable = tuple(id(t) for t in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """When False, backward receives None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = bool(value)

    # -- engine side ---------------------------------------------------------------------------
    def apply_backward(self, grads: tuple) -> tuple:
        return self._function.backward(self, *grads)

    def release(self) -> None:
        """Free what was saved for backward (after a backward without retain_graph)."""
        if self._saved or self._saved_versions:
            self._saved = ()
            self._saved_versions = ()
        self._freed = True

    def saved_nbytes(self) -> int:
        """Bytes of the tensors this node keeps for backward (for graph inspection)."""
        total = 0
        for item in self._saved:
            # A Variable's Tensor, or a Tensor kept as it is.
            tensor = item.tensor if item.__class__ is SavedOutput else getattr(item, "data", item)
            total += int(getattr(tensor, "nbytes", 0))
        return total

    def saved_count(self) -> int:
        return sum(1 for item in self._saved if item is not None)

    def register_prehook(self, output_nr: int, fn: Callable) -> RemovableHandle:
        """``fn(grad) -> grad | None`` runs on the gradient of output ``output_nr`` before backward."""
        if self._pre_hooks is None:
            self._pre_hooks = {}
        hooks = self._pre_hooks.setdefault(output_nr, [])
        hooks.append(fn)
        return RemovableHandle(hooks, fn)


class AccumulateGrad(BackwardNode):
    """The sink of a leaf: runs the leaf's hooks and adds the gradient into ``leaf.grad``."""

    def __init__(self, variable: "Variable") -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    def release(self) -> None:
        """Nothing is saved: a leaf's accumulator is reused by every backward."""


# Imported last: variable.py imports the classes above (the module is resolved at call time).
from . import variable  # noqa: E402

"""``Function``: an op with its forward and its backward in one class.

``Fn.apply(*args)`` unwraps Variables to Tensors, runs ``Fn.forward(ctx, *tensors)`` and, when
grad mode is on and an input requires grad, wraps the outputs in Variables whose ``grad_fn`` is
``ctx`` (a :class:`~axon_autograd.node.BackwardNode`). ``Fn.backward(ctx, *grads)`` gets one
gradient Variable per output and returns one per forward input (None where not needed).
Backward rules written with Variable ops record a graph under ``create_graph=True``, which is
how double backward works; :func:`once_differentiable` marks rules that compute on raw Tensors.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any, Callable

from axon_tensor import Tensor

from .autocast import autocast_state, cast_inputs
from .grad_mode import grad_state, no_grad
from .node import BackwardNode, SavedOutput
from .variable import Variable, make_variable

__all__ = ["Function", "once_differentiable"]

_sequence = itertools.count(1)


class Function:
    """Base class of differentiable ops. Subclass with ``forward`` and ``backward`` staticmethods.

    ``autocast_policy`` ("lower" or "fp32") says how inputs are cast inside :func:`autocast`.
    """

    autocast_policy: str | None = None
    _backward_cls: type = BackwardNode

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._backward_cls = type(f"{cls.__name__}Backward", (BackwardNode,), {"_function": cls})

    @staticmethod
    def forward(ctx: BackwardNode, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Function subclasses define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: BackwardNode, *grads: Any) -> Any:
        raise NotImplementedError("Function subclasses define backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        if autocast_state.dtype is not None and cls.autocast_policy is not None:
            args = cast_inputs(cls.autocast_policy, args)
        ctx = cls._backward_cls()
        enabled = grad_state.enabled
        raw = []
        edges = []
        needs = []
        requires = False
        for a in args:
            if isinstance(a, Variable):
                raw.append(a.data)
                if enabled and a._requires_grad:
                    requires = True
                    needs.append(True)
                    edges.append(a.grad_edge())
                    continue
            else:
                raw.append(a)
            needs.append(False)
            edges.append(None)
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *raw, **kwargs)
        if not requires:
            if out.__class__ is Tensor:
                return make_variable(out, False, None)
            return tuple(make_variable(o, False, None) if o.__class__ is Tensor else o for o in out)
        ctx.next_functions = tuple(edges)
        ctx.sequence_nr = next(_sequence)
        if out.__class__ is Tensor:
            outputs = (out,)
            result = make_variable(out, _differentiable(out, ctx), ctx, 0)
            if not result._requires_grad:
                result.grad_fn = None
        else:
            outputs = tuple(out)
            ctx.n_outputs = len(outputs)
            ctx.output_meta = tuple((o.shape, o.dtype, o.device) if o.__class__ is Tensor else None for o in outputs)
            result = []
            for i, o in enumerate(outputs):
                if o.__class__ is Tensor:
                    diff = _differentiable(o, ctx)
                    result.append(make_variable(o, diff, ctx if diff else None, i))
                else:
                    result.append(o)
            result = tuple(result)
        if ctx._to_save:
            _store_saved(ctx, args, raw, outputs)
        return result


def _differentiable(out: Tensor, ctx: BackwardNode) -> bool:
    dtype = out.dtype
    return dtype.is_floating_point and id(out) not in ctx.non_differentiable


def _store_saved(ctx: BackwardNode, args: tuple, raw: list, outputs: tuple) -> None:
    # Saved inputs keep their Variable (and its graph, for double backward); saved outputs are
    # rebuilt on unpacking so the node does not hold a Variable that holds the node.
    saved = []
    versions = []
    for t in ctx._to_save:
        item: Any = None
        version = None
        if t is not None:
            for a, r in zip(args, raw):
                if r is t:
                    item = a if isinstance(a, Variable) else make_variable(t, False, None)
                    version = item._version
                    break
            else:
                for i, o in enumerate(outputs):
                    if o is t:
                        item = SavedOutput(t, i)
                        break
                else:
                    item = t if isinstance(t, Variable) else make_variable(t, False, None)
        saved.append(item)
        versions.append(version)
    ctx._saved = tuple(saved)
    ctx._saved_versions = tuple(versions)
    ctx._to_save = ()


class _DelayedError(Function):
    """Identity whose backward raises: marks a gradient computed without a graph."""

    @staticmethod
    def forward(ctx: BackwardNode, x: Tensor, message: str) -> Tensor:
        ctx.message = message
        return x

    @staticmethod
    def backward(ctx: BackwardNode, grad: Any) -> Any:
        raise RuntimeError(ctx.message)


def once_differentiable(backward: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a ``backward`` that computes on raw Tensors: it receives Tensors (and ``ctx``
    whose ``saved_tensors`` are Variables; use ``.data``) and returns Tensors. Under
    ``create_graph=True`` the gradients it returns raise if someone backpropagates through them."""

    @functools.wraps(backward)
    def wrapper(ctx: BackwardNode, *grads: Any) -> Any:
        raw = [g.data if isinstance(g, Variable) else g for g in grads]
        with no_grad():
            result = backward(ctx, *raw)
        single = not isinstance(result, tuple)
        results = (result,) if single else result
        # Under create_graph the gradient depends on the inputs (which require grad) and on the
        # incoming gradients; without a rule for that, backpropagating through it must fail.
        graph_wanted = grad_state.enabled and (any(ctx.needs_input_grad)
                                               or any(isinstance(g, Variable) and g._requires_grad for g in grads))
        wrapped = []
        for r in results:
            if r.__class__ is Tensor:
                v = make_variable(r, False, None)
                if graph_wanted:
                    v = _DelayedError.apply(Variable(r, requires_grad=True),
                                            f"{ctx.name()} is once-differentiable: its backward has no backward (double backward is not supported)")
                r = v
            wrapped.append(r)
        return wrapped[0] if single else tuple(wrapped)

    return wrapper

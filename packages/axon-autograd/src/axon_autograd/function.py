"""``Function``: an op with its forward and its backward in one class.

``Fn.apply(*args)`` unwraps Variables to Tensors, runs ``Fn.forward(ctx, *tensors)`` (or
``Fn.forward(*tensors)`` then ``Fn.setup_context(ctx, inputs, output)``) and, when grad mode is on
and an input requires grad, wraps the outputs in Variables whose ``grad_fn`` is ``ctx`` (a
:class:`~axon_autograd.node.BackwardNode`); otherwise it returns plain Variables and builds no
node. ``Fn.backward(ctx, *grads)`` gets one gradient Variable per output and returns one per
forward input (None where not needed).
Backward rules written with Variable ops record a graph under ``create_graph=True``, which is
how double backward works; :func:`once_differentiable` marks rules that compute on raw Tensors.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from axon_core.observe import add_instrumentation, observe_call
from axon_tensor import Tensor

from .autocast import autocast_state, cast_inputs
from .grad_mode import grad_state, no_grad
from .node import BackwardNode, SavedOutput
from .variable import Variable, make_variable

__all__ = ["Function", "once_differentiable"]


class Function:
    """Base class of differentiable ops. Subclass with ``forward`` and ``backward`` staticmethods.

    Two ways to write ``forward``, as in PyTorch:

    - ``forward(ctx, *args)``: computes the output and fills ``ctx`` for backward;
    - ``forward(*args)`` plus ``setup_context(ctx, inputs, output)``: ``forward`` only computes
      and ``setup_context`` (called only when the op is recorded) fills ``ctx``. Ops that are
      not recorded (``no_grad``, no input requiring grad) then cost little more than the
      Tensor op; every op on the hot path is written this way.

    ``autocast_policy`` ("lower" or "fp32") says how inputs are cast inside :func:`autocast`.

    ``fresh_gradients = True`` promises that ``backward`` returns Tensors it has just allocated
    (or views of them) and keeps no reference to: the engine then hands such a gradient to a
    leaf's empty ``.grad`` as it is instead of copying it (PyTorch steals a gradient whose
    reference count allows the same).
    """

    autocast_policy: str | None = None
    fresh_gradients: bool = False
    setup_context: Callable[[BackwardNode, tuple, Any], None] | None = None
    _backward_cls: type = BackwardNode

    # forward and backward are the subclass's: one missing is a TypeError when the class is made.
    forward: Callable[..., Any]
    backward: Callable[..., Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [name for name in ("forward", "backward") if not callable(getattr(cls, name, None))]
        if missing:
            raise TypeError(f"Function subclass {cls.__name__} must define {' and '.join(missing)} (staticmethods)")
        cls._backward_cls = type(f"{cls.__name__}Backward", (BackwardNode,), {"_function": cls})

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        if autocast_state.dtype is not None and cls.autocast_policy is not None:
            args = cast_inputs(cls.autocast_policy, args)
        enabled = grad_state.enabled
        raw = []
        for a in args:
            if isinstance(a, Variable):
                if enabled and a._requires_grad:
                    return _record(cls, args, kwargs)
                raw.append(a.data)
            else:
                raw.append(a)
        # Nothing to record (no_grad, or no input requires grad): no node outlives the call.
        if cls.setup_context is None:
            ctx = cls._backward_cls()
            ctx.needs_input_grad = (False,) * len(args)
            out = cls.forward(ctx, *raw, **kwargs)
        else:
            out = cls.forward(*raw, **kwargs)
        if out.__class__ is Tensor:
            return make_variable(out, False, None)
        return tuple(make_variable(o, False, None) if o.__class__ is Tensor else o for o in out)


_unobserved_apply = Function.__dict__["apply"]


def _observed_apply(cls: type[Function], *args: Any, **kwargs: Any) -> Any:
    def forward(*args: Any, **kwargs: Any) -> Any:
        return _unobserved_apply.__func__(cls, *args, **kwargs)

    return observe_call("op", cls.__name__, forward, args, kwargs)


def _instrument_apply(on: bool) -> None:
    """While a profiler observes, ``Function.apply`` reports each forward as an op; otherwise it
    is the unobserved classmethod itself (no cost when nobody profiles)."""
    Function.apply = classmethod(_observed_apply) if on else _unobserved_apply  # type: ignore[method-assign]


add_instrumentation(_instrument_apply)


def _record(cls: type[Function], args: tuple, kwargs: dict) -> Any:
    """Run ``cls.forward`` and record its node: some input requires grad and grad mode is on."""
    ctx = cls._backward_cls()
    raw = []
    edges = []
    needs = []
    for a in args:
        if isinstance(a, Variable):
            raw.append(a.data)
            if a._requires_grad:
                fn = a.grad_fn
                edges.append((fn, a.output_nr) if fn is not None else a.grad_edge())
                needs.append(True)
                continue
        else:
            raw.append(a)
        edges.append(None)
        needs.append(False)
    ctx.next_functions = tuple(edges)
    ctx.needs_input_grad = tuple(needs)
    if cls.setup_context is None:
        out = cls.forward(ctx, *raw, **kwargs)
    else:
        out = cls.forward(*raw, **kwargs)
        cls.setup_context(ctx, tuple(raw), out)
    if out.__class__ is Tensor:
        outputs: tuple = (out,)
        if out.dtype.is_floating_point and not ctx.non_differentiable:
            result: Any = make_variable(out, True, ctx, 0)
        else:
            diff = _differentiable(out, ctx)
            result = make_variable(out, diff, ctx if diff else None, 0)
    else:
        outputs = tuple(out)
        ctx.n_outputs = len(outputs)
        ctx.output_meta = tuple((o.shape, o.dtype, o.device) if o.__class__ is Tensor else None for o in outputs)
        wrapped = []
        for i, o in enumerate(outputs):
            if o.__class__ is Tensor:
                diff = _differentiable(o, ctx)
                wrapped.append(make_variable(o, diff, ctx if diff else None, i))
            else:
                wrapped.append(o)
        result = tuple(wrapped)
    if ctx._to_save:
        _store_saved(ctx, args, raw, outputs)
    return result


def _differentiable(out: Tensor, ctx: BackwardNode) -> bool:
    """Float outputs require grad, unless forward marked them non-differentiable."""
    return out.dtype.is_floating_point and (not ctx.non_differentiable or id(out) not in ctx.non_differentiable)


def _store_saved(ctx: BackwardNode, args: tuple, raw: list, outputs: tuple) -> None:
    # Saved input Variables are kept with their version (and their graph, for double backward);
    # plain Tensors are kept as they are and wrapped only when backward unpacks them; outputs
    # are rebuilt on unpacking so the node does not hold a Variable that holds the node.
    saved = []
    versions = []
    for t in ctx._to_save:
        version = None
        if t.__class__ is Tensor:
            for a, r in zip(args, raw):
                if r is t:
                    if a is not r:
                        t = a
                        version = a._version
                    break
            else:
                for i, o in enumerate(outputs):
                    if o is t:
                        t = SavedOutput(t, i)
                        break
        saved.append(t)
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
        graph_wanted = grad_state.enabled and (
            any(ctx.needs_input_grad) or any(isinstance(g, Variable) and g._requires_grad for g in grads)
        )
        if not graph_wanted:
            # Raw Tensors go back to the engine as they are: it wraps them, and it can hand a
            # fresh_gradients result to an empty leaf .grad only while it is still a Tensor.
            return result
        message = (
            f"{ctx.name()} is once-differentiable: its backward has no backward (double backward is not supported)"
        )
        wrapped = tuple(
            _DelayedError.apply(Variable(r, requires_grad=True), message) if r.__class__ is Tensor else r
            for r in results
        )
        return wrapped[0] if single else wrapped

    return wrapper

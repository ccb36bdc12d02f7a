"""The :class:`Variable`: a Tensor that records the ops applied to it for reverse-mode autograd."""

from __future__ import annotations

import warnings
import weakref
from typing import Any, Callable

import numpy as np

from axon_core import DTypeError
from axon_tensor import Tensor, as_tensor

from .grad_mode import grad_state
from .node import AccumulateGrad, RemovableHandle

__all__ = ["Variable", "make_variable", "tensor_of", "variable_method", "NON_DIFFERENTIABLE"]

_new = object.__new__

# Tensor ops whose result carries no gradient (comparisons, indices, predicates, integer math).
NON_DIFFERENTIABLE = frozenset(
    """eq ne lt le gt ge __eq__ __ne__ __lt__ __le__ __gt__ __ge__ equal allclose isclose isnan isinf
    isfinite isposinf isneginf isreal signbit logical_and logical_or logical_xor logical_not
    bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift greater
    greater_equal less less_equal not_equal argwhere __and__ __or__ __xor__ __invert__ __rand__ __ror__
    __rxor__ __lshift__ __rshift__ __rlshift__ __rrshift__ argmax argmin argsort nonzero any all count_nonzero unique
    unique_consecutive bincount histc searchsorted bucketize floor_divide __floordiv__
    __rfloordiv__ eq_ new_zeros new_ones new_full new_empty new_tensor zeros_like ones_like
    empty_like full_like rand_like randn_like randint_like bernoulli multinomial""".split()
)


def make_variable(tensor: Tensor, requires_grad: bool, grad_fn: Any, output_nr: int = 0) -> "Variable":
    """A Variable around ``tensor`` without checks (the hot path of every recorded op)."""
    v = _new(Variable)
    v.data = tensor
    v._grad = None
    v._requires_grad = requires_grad
    v.grad_fn = grad_fn
    v.output_nr = output_nr
    v._version = 0
    v._hooks = None
    v._post_hooks = None
    v._retains_grad = False
    v._acc = None
    return v


def tensor_of(x: Any) -> Any:
    """The Tensor behind a Variable; a Tensor (or anything else) as it is."""
    return x.data if isinstance(x, Variable) else x


def _unwrap(x: Any) -> Any:
    if isinstance(x, Variable):
        return x.data
    if x.__class__ in (list, tuple) and any(isinstance(i, Variable) for i in x):
        return x.__class__(i.data if isinstance(i, Variable) else i for i in x)
    return x


def _wrap_plain(result: Any) -> Any:
    if result.__class__ is Tensor:
        return make_variable(result, False, None)
    if result.__class__ in (list, tuple):
        return result.__class__(_wrap_plain(r) for r in result)
    return result


def _needs_grad(args: tuple) -> bool:
    for a in args:
        if isinstance(a, Variable) and a._requires_grad:
            return True
        if a.__class__ in (list, tuple) and _needs_grad(a):
            return True
    return False


class Variable:
    """A Tensor plus autograd state. ``Variable(tensor, requires_grad=False)``.

    ``data`` is the Tensor; ops on Variables return Variables and, while grad mode is on and an
    input requires grad, record a :class:`~axon_autograd.node.BackwardNode` in ``grad_fn``.
    Leaves (made by the user, ``grad_fn is None``) accumulate into ``.grad`` on ``backward()``;
    non-leaves keep their gradient only after ``retain_grad()``.
    """

    __slots__ = (
        "data",
        "_grad",
        "_requires_grad",
        "grad_fn",
        "output_nr",
        "_version",
        "_hooks",
        "_post_hooks",
        "_retains_grad",
        "_acc",
        "__weakref__",
    )
    __array_priority__ = 1001

    def __init__(self, tensor: Any, requires_grad: bool = False) -> None:
        if isinstance(tensor, Variable):
            tensor = tensor.data
        elif tensor.__class__ is not Tensor:
            tensor = as_tensor(tensor)
        self.data = tensor
        self._grad = None
        self._requires_grad = False
        self.grad_fn = None
        self.output_nr = 0
        self._version = 0
        self._hooks = None
        self._post_hooks = None
        self._retains_grad = False
        self._acc = None
        if requires_grad:
            self.requires_grad = True

    # -- autograd state ------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables; use detach() to get "
                    "a Variable without gradient from a non-leaf"
                )
            return
        if value and not self.data.dtype.is_floating_point:
            raise DTypeError(f"only Variables of floating point dtype can require gradients, got {self.data.dtype}")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Variable":
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        """True for Variables the user made (and every Variable that does not require grad)."""
        return self.grad_fn is None

    @property
    def grad(self) -> "Variable | None":
        """The accumulated gradient (a Variable) or None."""
        if self._grad is None and self.grad_fn is not None and not self._retains_grad:
            warnings.warn(
                "The .grad attribute of a Variable that is not a leaf is being accessed. Its .grad "
                "is not populated during backward(); call .retain_grad() on it first if you want it.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value: "Variable | Tensor | None") -> None:
        if value is not None:
            if value.__class__ is Tensor:
                value = make_variable(value, False, None)
            elif not isinstance(value, Variable):
                raise TypeError(f"grad must be a Variable, a Tensor or None, got {type(value).__name__}")
            if value.shape != self.shape:
                raise ValueError(f"assigned grad has shape {tuple(value.shape)}, the Variable has {tuple(self.shape)}")
        self._grad = value

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf in ``.grad`` after backward (a no-op on leaves)."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on a Variable that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        node = self.grad_fn
        if node._retained is None:
            node._retained = {}
        node._retained[self.output_nr] = weakref.ref(self)

    def register_hook(self, hook: Callable[["Variable"], "Variable | None"]) -> RemovableHandle:
        """``hook(grad)`` runs when this Variable's gradient is computed; returning a Variable
        replaces the gradient. Returns a handle with ``remove()``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a Variable that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn.register_prehook(self.output_nr, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[["Variable"], None]) -> RemovableHandle:
        """``hook(variable)`` runs on a leaf right after ``backward()`` has added this pass's
        gradient into its ``.grad`` (PyTorch's name). Data-parallel wrappers start a gradient's
        all-reduce from it while the rest of backward still runs. Returns a handle with ``remove()``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a Variable that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf Variables")
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return RemovableHandle(self._post_hooks, hook)

    def grad_edge(self) -> tuple:
        """``(node, output_nr)`` through which this Variable's gradient flows."""
        fn = self.grad_fn
        if fn is not None:
            return (fn, self.output_nr)
        acc = self._acc() if self._acc is not None else None
        if acc is None:
            acc = AccumulateGrad(self)
            self._acc = weakref.ref(acc)
        return (acc, 0)

    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False, inputs: Any = None
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (``gradient`` is required unless
        this Variable has one element)."""
        from .engine import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> "Variable":
        """A Variable sharing this one's storage, cut from the graph (``requires_grad=False``)."""
        return make_variable(self.data, False, None)

    def detach_(self) -> "Variable":
        if self.grad_fn is not None and self._retains_grad:
            self._retains_grad = False
        self.grad_fn = None
        self.output_nr = 0
        self._requires_grad = False
        return self

    # -- in-place ------------------------------------------------------------------------------
    def _inplace(self, name: str, args: tuple, kwargs: dict) -> "Variable":
        if grad_state.enabled and (self._requires_grad or _needs_grad(args)):
            kind = (
                "a leaf Variable that requires grad" if self.grad_fn is None else "a Variable that is part of a graph"
            )
            raise RuntimeError(
                f"{name}: in-place op on {kind} (or with an operand that requires grad) is not recorded "
                f"by axon autograd; use the out-of-place op, or run it inside no_grad()"
            )
        getattr(self.data, name)(*[_unwrap(a) for a in args], **kwargs)
        self._version += 1
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        """``v[key] = value`` in place (only where no gradient is involved, like other in-place ops)."""
        self._inplace(
            "__setitem__", (tuple(_unwrap(k) for k in key) if isinstance(key, tuple) else _unwrap(key), value), {}
        )

    def zero_(self) -> "Variable":
        """Set every element to zero in place."""
        if not hasattr(Tensor, "zero_"):
            self._inplace_check("zero_")
            self.data.array.fill(0)
            self._version += 1
            return self
        return self._inplace("zero_", (), {})

    def fill_(self, value: Any) -> "Variable":
        """Set every element to ``value`` in place."""
        if not hasattr(Tensor, "fill_"):
            self._inplace_check("fill_")
            self.data.array.fill(value.item() if isinstance(value, (Variable, Tensor)) else value)
            self._version += 1
            return self
        return self._inplace("fill_", (value,), {})

    def _inplace_check(self, name: str) -> None:
        if grad_state.enabled and self._requires_grad:
            raise RuntimeError(f"{name}: in-place op on a Variable that requires grad; run it inside no_grad()")

    # -- what it is ----------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    @property
    def device(self) -> Any:
        return self.data.device

    @property
    def backend(self) -> Any:
        """The backend of this Variable's device (``self.data.backend``)."""
        return self.data.backend

    @property
    def array(self) -> Any:
        """The backend array of ``data`` (see :attr:`axon_tensor.Tensor.array`), for kernel calls.

        Computing on it records nothing, so, like :meth:`numpy`, it refuses a Variable that
        requires grad: use ``.detach().array``, or write the op as a :class:`Function`, whose
        ``forward`` and ``backward`` get Tensors.
        """
        if self._requires_grad:
            raise RuntimeError("Can't take .array of a Variable that requires grad; use var.detach().array")
        return self.data.array

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None) -> Any:
        return self.data.size(dim)

    def numel(self) -> int:
        return self.data.numel()

    def numpy(self) -> np.ndarray:
        if self._requires_grad:
            raise RuntimeError("Can't call numpy() on a Variable that requires grad; use var.detach().numpy()")
        return self.data.numpy()

    def item(self) -> Any:
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.data.__array__(dtype, copy)

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __index__(self) -> int:
        return self.data.__index__()

    def __hash__(self) -> int:
        return id(self)

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d Variable")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        text = repr(self.data)
        if self.grad_fn is not None:
            return f"{text[:-1]}, grad_fn=<{self.grad_fn.name()}>)"
        if self._requires_grad:
            return f"{text[:-1]}, requires_grad=True)"
        return text

    def __getattr__(self, name: str) -> Any:
        # Reached only for names Variable does not define: Tensor ops with no autograd rule.
        # Private Tensor internals (``_data``...) stay hidden, so code written for Tensors fails
        # loudly on a Variable instead of computing on its raw array and dropping the gradient.
        if name.startswith("_") or name in Variable.__slots__:
            raise AttributeError(f"'Variable' object has no attribute {name!r}")
        attr = getattr(Tensor, name, None)
        if attr is None:
            raise AttributeError(f"'Variable' object has no attribute {name!r}")
        if not callable(attr):
            return _wrap_plain(getattr(self.data, name))
        if name.endswith("_"):
            return lambda *args, **kwargs: self._inplace(name, args, kwargs)
        return lambda *args, **kwargs: call_tensor_op(name, self, args, kwargs)


def call_tensor_op(name: str, input: Variable, args: tuple, kwargs: dict) -> Any:
    """Run Tensor op ``name`` that has no backward rule: fine when no gradient is needed or the
    op is non-differentiable; a clear error otherwise, so no gradient is dropped silently."""
    result = getattr(input.data, name)(*[_unwrap(a) for a in args], **kwargs)
    if (
        name not in NON_DIFFERENTIABLE
        and grad_state.enabled
        and _has_float_tensor(result)
        and (input._requires_grad or _needs_grad(args))
    ):
        raise RuntimeError(
            f"Tensor.{name} has no autograd rule in axon_autograd, and an input requires grad; "
            f"call it on detached Variables (or inside no_grad()) if you do not need its gradient"
        )
    return _wrap_plain(result)


def _has_float_tensor(result: Any) -> bool:
    if result.__class__ is Tensor:
        return result.dtype.is_floating_point
    if result.__class__ in (list, tuple) or isinstance(result, tuple):
        return any(_has_float_tensor(r) for r in result)
    return False


def _nondifferentiable_method(name: str) -> Callable[..., Any]:
    def method(self: Variable, *args: Any, **kwargs: Any) -> Any:
        return _wrap_plain(getattr(self.data, name)(*[_unwrap(a) for a in args], **kwargs))

    method.__name__ = name
    return method


for _name in (
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__and__",
    "__or__",
    "__xor__",
    "__invert__",
    "__rand__",
    "__ror__",
    "__rxor__",
    "__floordiv__",
    "__rfloordiv__",
    "__lshift__",
    "__rshift__",
    "__rlshift__",
    "__rrshift__",
):
    if hasattr(Tensor, _name) and getattr(Tensor, _name) is not getattr(object, _name, None):
        setattr(Variable, _name, _nondifferentiable_method(_name))


def variable_method(*names: str, always: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach ``fn`` to :class:`Variable` under ``names`` that Tensor also has (or ``always``)."""

    def attach(fn: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            if always or hasattr(Tensor, name):
                setattr(Variable, name, fn)
        return fn

    return attach

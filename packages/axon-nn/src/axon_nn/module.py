"""``Module``: the base class of every layer, mirroring ``torch.nn.Module``."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, NamedTuple

from axon_autograd import Variable
from axon_core import AxonError, ShapeError, as_dtype
from axon_tensor import Tensor

from .parameter import Parameter

__all__ = ["Module", "StateDictError", "IncompatibleKeys", "RemovableHandle"]


class StateDictError(AxonError, RuntimeError):
    """``load_state_dict(strict=True)`` found missing or unexpected keys."""


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class RemovableHandle:
    """Returned by hook registration; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: "OrderedDict[int, Callable[..., Any]]") -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class Module:
    """Base class of layers: holds parameters, buffers and sub-modules, found by attribute name.

    Subclasses call ``super().__init__()`` first, assign Parameters / Modules / buffers as
    attributes, and define ``forward``. Calling the module runs the forward pre-hooks,
    ``forward`` and the forward hooks.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    # -- registration ----------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name, keep=params)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter {name!r} (expected a Parameter or None)"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to child module {name!r} (expected a Module or None)"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r} (expected a Tensor or None)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict | None = None) -> None:
        # `keep` is the table about to receive `name`: as in PyTorch, replacing an entry keeps its
        # place in the order (a Sequential's layer swapped in place stays where it was).
        self.__dict__.pop(name, None)
        for table in (self._parameters, self._buffers, self._modules):
            if table is not keep:
                table.pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: parameters, buffers and modules live in tables.
        state = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in state and name in state[table]:
                return state[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (or a None placeholder) under ``name``."""
        _check_name("parameter", name, self)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got {type(param).__name__}")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a non-trainable Tensor (e.g. running statistics); non-persistent ones stay out of state_dict."""
        _check_name("buffer", name, self)
        if isinstance(tensor, Variable):
            tensor = tensor.data
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add a child module under ``name``."""
        _check_name("module", name, self, allow_dots=False)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got {type(module).__name__}")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        """The module at dotted path ``target`` ('' is self)."""
        module: Module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = child
        return module

    # -- traversal -------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, "Module"]]:
        """This module and every descendant, with dotted names (self is ''): each once, or with
        ``remove_duplicate=False`` under every path it is reached by (as PyTorch's)."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def _named_members(self, table: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        owners = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for owner_name, owner in owners:
            for name, value in getattr(owner, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{owner_name}.{name}" if owner_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` pairs; a parameter shared by two modules appears once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call ``fn`` on every child (recursively) and then on self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- modes and gradients ---------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise TypeError(f"train(): mode must be a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's gradient (or zero it in place with ``set_to_none=False``)."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                data = param.grad.data.array
                data[...] = 0

    # -- devices and dtypes ----------------------------------------------------------------
    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> "Module":
        """Move parameters and buffers to ``device`` and/or cast floating ones to ``dtype``, in place.

        ``module.to("cuda-sim")``, ``module.to(axon.float64)``, ``module.to(device, dtype)``.
        Parameters keep their identity (optimizers holding them stay valid).
        """
        for arg in args:
            if _is_dtype(arg):
                dtype = arg
            else:
                device = arg
        target_dtype = None if dtype is None else as_dtype(dtype)
        if target_dtype is not None and not target_dtype.is_floating_point:
            raise TypeError(f"Module.to: dtype must be a floating-point type, got {target_dtype}")

        def convert(t: Tensor) -> Tensor:
            cast = target_dtype if target_dtype is not None and t.dtype.is_floating_point else None
            return t.to(device=device, dtype=cast)

        for module in self.modules():
            for param in module._parameters.values():
                if param is None:
                    continue
                param.data = convert(param.data)
                if param.grad is not None:
                    param.grad = Variable(convert(param.grad.data))
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    module._buffers[name] = convert(buffer)
        return self

    def cpu(self) -> "Module":
        return self.to("cpu")

    def float(self) -> "Module":
        return self.to(dtype="float32")

    def double(self) -> "Module":
        return self.to(dtype="float64")

    # -- state -----------------------------------------------------------------------------
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, Any]":
        """Dotted names -> Tensors of every parameter and persistent buffer (Parameters with ``keep_vars``).

        A module or parameter reached by several paths (``Sequential(layer, layer)``, tied weights)
        is listed under each of them, as in PyTorch, so PyTorch's state dicts load strictly.
        """
        state: OrderedDict[str, Any] = OrderedDict()
        for module_name, module in self.named_modules(prefix=prefix.rstrip("."), remove_duplicate=False):
            base = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if param is not None:
                    state[base + name] = param if keep_vars else param.data
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    state[base + name] = buffer
        return state

    def load_state_dict(self, state_dict: "dict[str, Any]", strict: bool = True) -> IncompatibleKeys:
        """Copy values into parameters and buffers in place (device and dtype of the module kept).

        Returns ``(missing_keys, unexpected_keys)``; with ``strict`` either being non-empty raises
        StateDictError. A shape mismatch raises ShapeError naming the key.
        """
        own = self.state_dict(keep_vars=True)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing key(s): " + ", ".join(repr(k) for k in missing))
            if unexpected:
                parts.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
            raise StateDictError(f"error(s) loading state_dict for {type(self).__name__}: " + "; ".join(parts))
        for key, target in own.items():
            if key not in state_dict:
                continue
            _copy_into(key, target.data if isinstance(target, Variable) else target, state_dict[key])
        return IncompatibleKeys(missing, unexpected)

    # -- printing --------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses; layers override it."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + _indent(repr(module)) for name, module in self._modules.items()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = ([extra] if extra else []) + lines
        return f"{type(self).__name__}(\n  " + "\n  ".join(body) + "\n)"

    # -- hooks -----------------------------------------------------------------------------
    def register_forward_pre_hook(self, hook: Callable[["Module", tuple], Any]) -> RemovableHandle:
        """``hook(module, args)`` runs before forward; returning a value replaces the args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable[["Module", tuple, Any], Any]) -> RemovableHandle:
        """``hook(module, args, output)`` runs after forward; returning a value replaces the output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle


def _check_name(kind: str, name: str, module: Module, allow_dots: bool = False) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
    if not name or (not allow_dots and "." in name):
        raise KeyError(f"{kind} name must be non-empty and contain no '.', got {name!r}")
    if (
        name in module.__dict__
        and name not in module._parameters
        and name not in module._buffers
        and name not in module._modules
    ):
        raise KeyError(f"attribute {name!r} already exists on {type(module).__name__}")


def _is_dtype(arg: Any) -> bool:
    try:
        as_dtype(arg)
    except (TypeError, ValueError, KeyError):
        return False
    return True


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def _copy_into(key: str, target: Tensor, value: Any) -> None:
    """Write ``value`` (Tensor, Variable or NumPy array) into ``target``'s storage."""
    import numpy as np

    if isinstance(value, Variable):
        value = value.data
    host = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if tuple(host.shape) != tuple(target.shape):
        raise ShapeError(
            f"load_state_dict: {key!r} has shape {tuple(host.shape)} in the state dict but {tuple(target.shape)} "
            "in the module"
        )
    target.array[...] = target.device.backend.from_numpy(np.ascontiguousarray(host, dtype=target.dtype.np))

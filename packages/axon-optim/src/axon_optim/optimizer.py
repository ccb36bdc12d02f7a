"""The :class:`Optimizer` base: parameter groups, per-parameter state and state dicts.

Mirrors ``torch.optim.Optimizer``: an optimizer holds ``param_groups`` (dicts with a
``"params"`` list and the group's hyper-parameters, missing ones filled from ``defaults``) and
``state`` (a dict from parameter to that parameter's buffers). ``state_dict()`` replaces
parameters by their position across all groups, so an optimizer built the same way on another
model can ``load_state_dict()`` it and continue bit-for-bit.

Parameters are ``axon_nn.Parameter``s (any object with ``.data``, an axon Tensor updated in
place, and ``.grad``, None or a Variable whose ``.data`` is a Tensor, will do).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from itertools import chain
from typing import Any, Callable, Iterable

import numpy as np

from axon_autograd import enable_grad
from axon_core import DeviceError, DTypeError, ShapeError, float32
from axon_tensor import Tensor, tensor

__all__ = ["Optimizer", "required"]


class _Required:
    """Marks a hyper-parameter that every param group must give (e.g. SGD's ``lr``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class of every optimizer; subclasses implement :meth:`step`.

    ``params``: an iterable of parameters, or of dicts each holding ``"params"`` and
    per-group options that override ``defaults``.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor) or hasattr(params, "data") and isinstance(params.data, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of parameters or of dicts, "
                f"got a single {type(params).__name__}"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{type(self).__name__}: params must be an ordered collection (a list), not a set")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (e.g. a new layer while fine-tuning)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                "optimizer parameters must be an ordered collection (a list), not a set: "
                "a set's order changes between runs, which breaks state_dict"
            )
        group["params"] = [params] if _is_param(params) else list(params)
        for p in group["params"]:
            _check_param(type(self).__name__, p)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    f"{type(self).__name__}: parameter group didn't specify a value of required option {name!r}"
                )
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = [id(p) for p in group["params"]]
        if len(set(ids)) != len(ids) or seen.intersection(ids):
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every gradient (``set_to_none``) or fill it with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data.array[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given.

        ``closure`` re-evaluates the model and returns the loss; it runs before the update,
        with gradients enabled even when ``step`` is called under ``no_grad`` (as in PyTorch).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                _check_grad(type(self).__name__, p)
            if params:
                self._update_group(group, params)
        return loss

    def _update_group(self, group: dict[str, Any], params: list[Any]) -> None:
        """Update ``params`` (the group's parameters that have gradients) with ``group``'s options."""
        raise TypeError(f"{type(self).__name__} does not define _update_group")

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Indices number the parameters across all groups in order. The state holds references
        to the live buffers, as PyTorch's does: copy it (or save it) before stepping again.
        """
        index_of: dict[int, int] = {}
        packed_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            packed_groups.append(packed)
        packed_state = {index_of[id(p)]: value for p, value in self.state.items()}
        return {"state": packed_state, "param_groups": packed_groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state and options saved by :meth:`state_dict` (buffers are copied).

        Floating-point buffers take the dtype and device of their parameter, except ``step``.
        """
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, the optimizer has "
                f"{len(self.param_groups)}"
            )
        for index, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict's parameter group {index} has {len(saved['params'])} parameters, "
                    f"the optimizer's has {len(group['params'])}"
                )
        param_of = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in self.param_groups),
            )
        )
        self.state = defaultdict(dict)
        for index, value in state_dict["state"].items():
            if index not in param_of:
                raise ValueError(f"loaded state dict has state for parameter {index}, which no group lists")
            p = param_of[index]
            self.state[p] = {key: _cast_state(p, key, v) for key, v in value.items()}
        self.param_groups = [
            {**saved, "params": group["params"]} for group, saved in zip(self.param_groups, saved_groups)
        ]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        lines.append(")")
        return "\n".join(lines)


def new_step_counter() -> Tensor:
    """A 0-d float32 CPU tensor counting steps, as PyTorch keeps ``state["step"]``."""
    return tensor(0.0, dtype=float32, device="cpu")


def advance_step(state: dict[str, Any]) -> float:
    """Add one to ``state["step"]`` and return the new count as a Python float."""
    counter = state["step"]
    count = counter.array
    count += 1
    return float(counter.array)


def _is_param(obj: Any) -> bool:
    return isinstance(getattr(obj, "data", None), Tensor)


def _check_param(optimizer: str, p: Any) -> None:
    if not _is_param(p):
        raise TypeError(
            f"{optimizer} can only optimize parameters (objects whose .data is a Tensor), got {type(p).__name__}"
        )
    if not getattr(p, "is_leaf", True):
        raise ValueError(f"{optimizer} can't optimize a non-leaf Variable")
    if not p.data.dtype.is_floating_point:
        raise DTypeError(f"{optimizer} can only optimize floating-point parameters, got {p.data.dtype}")


def _check_grad(optimizer: str, p: Any) -> None:
    grad = p.grad.data
    if grad.shape != p.data.shape:
        raise ValueError(
            f"{optimizer}: gradient of shape {tuple(grad.shape)} for a parameter of shape {tuple(p.data.shape)}"
        )
    if grad.dtype is not p.data.dtype:
        raise DTypeError(f"{optimizer}: gradient of dtype {grad.dtype} for a parameter of dtype {p.data.dtype}")
    if grad.device is not p.data.device:
        raise DeviceError(f"{optimizer}: gradient on {grad.device} for a parameter on {p.data.device}")


# Buffers of the built-in optimizers that have their parameter's shape.
_PARAM_SHAPED = frozenset(("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer", "square_avg", "grad_avg"))


def _cast_state(p: Any, key: str, value: Any) -> Any:
    if key == "step":
        # A step saved as a plain number (or any tensor) becomes PyTorch's float32 CPU counter.
        return tensor(float(value), dtype=float32, device="cpu")
    if key in _PARAM_SHAPED and hasattr(value, "shape") and tuple(value.shape) != tuple(p.shape):
        raise ShapeError(
            f"load_state_dict: state {key!r} has shape {tuple(value.shape)} but its parameter has shape "
            f"{tuple(p.shape)}"
        )
    if isinstance(value, Tensor):
        if value.dtype.is_floating_point:
            return value.to(p.data.device, p.data.dtype, copy=True)
        return value.to(p.data.device, copy=True)
    if isinstance(value, np.ndarray):
        return value.copy()
    return copy.deepcopy(value)

"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any, Iterable

from axon_tensor.tensor import wrap

from .optimizer import Optimizer, required

__all__ = ["SGD"]


class SGD(Optimizer):
    """``torch.optim.SGD``: per step, with ``g`` the gradient,

    ``g += weight_decay * p``; ``buf = momentum * buf + (1 - dampening) * g`` (``buf = g`` the
    first time); ``g = g + momentum * buf`` (Nesterov) or ``g = buf``; ``p -= lr * g``.
    State per parameter: ``momentum_buffer`` (only when ``momentum != 0``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if lr is not required and lr < 0.0:
            raise ValueError(f"SGD: invalid learning rate {lr}")
        if momentum < 0.0:
            raise ValueError(f"SGD: invalid momentum {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"SGD: invalid weight_decay {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any], params: list[Any]) -> None:
        momentum = group["momentum"]
        for p in params:
            param = p.data
            buffer, init_buffer = None, False
            if momentum != 0:
                state = self.state[p]
                if state.get("momentum_buffer") is None:
                    state["momentum_buffer"] = wrap(param.backend.xp.empty_like(param.array), param.device)
                    init_buffer = True
                buffer = state["momentum_buffer"].array
            # One fused pass per parameter (a Numba kernel on the CPU); the backend's reference
            # runs the same arithmetic as separate array ops elsewhere.
            param.backend.sgd_step(
                param.array,
                p.grad.data.array,
                buffer,
                lr=group["lr"],
                momentum=momentum,
                dampening=group["dampening"],
                weight_decay=group["weight_decay"],
                nesterov=group["nesterov"],
                maximize=group["maximize"],
                init_buffer=init_buffer,
            )

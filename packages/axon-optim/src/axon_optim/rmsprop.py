"""RMSprop (with centering and momentum)."""

from __future__ import annotations

from typing import Any, Iterable

from axon_tensor import zeros_like

from ._math import addcdiv_, addcmul_, arrays_of, lerp_, scalar
from .optimizer import Optimizer, advance_step, new_step_counter

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``: per step with gradient ``g`` (plus ``weight_decay * p``),

    ``v = alpha * v + (1 - alpha) * g * g``; ``avg = sqrt(v) + eps``, or when ``centered``
    ``avg = sqrt(v - mean_g^2) + eps`` with ``mean_g = lerp(mean_g, g, 1 - alpha)``;
    ``p -= lr * g / avg``, or with momentum ``buf = momentum * buf + g / avg; p -= lr * buf``.
    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"RMSprop: invalid learning rate {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"RMSprop: invalid epsilon {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"RMSprop: invalid momentum {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"RMSprop: invalid weight_decay {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"RMSprop: invalid alpha {alpha}")
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any], params: list[Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        for p in params:
            xp, param, grad = arrays_of(p, group["maximize"])
            state = self.state[p]
            if not state:
                state["step"] = new_step_counter()
                state["square_avg"] = zeros_like(p.data)
                if momentum > 0:
                    state["momentum_buffer"] = zeros_like(p.data)
                if centered:
                    state["grad_avg"] = zeros_like(p.data)
            advance_step(state)
            if weight_decay != 0:
                grad = grad + scalar(param, weight_decay) * param
            square_avg = state["square_avg"].array
            square_avg *= scalar(param, alpha)
            addcmul_(square_avg, grad, grad, 1 - alpha)
            if centered:
                grad_avg = state["grad_avg"].array
                lerp_(grad_avg, grad, 1 - alpha)
                avg = square_avg.copy()
                addcmul_(avg, grad_avg, grad_avg, -1)
                avg = xp.sqrt(avg)
            else:
                avg = xp.sqrt(square_avg)
            avg += scalar(param, eps)
            if momentum > 0:
                buffer = state["momentum_buffer"].array
                buffer *= scalar(param, momentum)
                addcdiv_(buffer, grad, avg, 1)
                param += scalar(param, -lr) * buffer
            else:
                addcdiv_(param, grad, avg, -lr)

"""LAMB: Adam's update rescaled per parameter by a layer-wise trust ratio."""

from __future__ import annotations

from typing import Any, Iterable

from axon_tensor import zeros_like

from ._math import addcmul_, arrays_of, lerp_, scalar
from .optimizer import Optimizer, advance_step, new_step_counter

__all__ = ["LAMB"]


class LAMB(Optimizer):
    """LAMB (You et al., 2020, "Large Batch Optimization for Deep Learning", Algorithm 2).

    Per step ``t`` and parameter ``p`` with gradient ``g``:
    ``m = lerp(m, g, 1 - beta1)``; ``v = beta2 * v + (1 - beta2) * g * g``;
    ``r = (m / (1 - beta1^t)) / (sqrt(v) / sqrt(1 - beta2^t) + eps) + weight_decay * p``;
    ``trust = ||p|| / ||r||`` (1 when either norm is 0); ``p -= lr * trust * r``.
    Norms are L2 over the whole parameter tensor. State: ``step``, ``exp_avg``, ``exp_avg_sq``.
    PyTorch has no LAMB; the tests check it against a float64 NumPy re-computation.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"LAMB: invalid learning rate {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"LAMB: invalid epsilon {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"LAMB: invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"LAMB: invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"LAMB: invalid weight_decay {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update_group(self, group: dict[str, Any], params: list[Any]) -> None:
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        for p in params:
            xp, param, grad = arrays_of(p)
            state = self.state[p]
            if not state:
                state["step"] = new_step_counter()
                state["exp_avg"] = zeros_like(p.data)
                state["exp_avg_sq"] = zeros_like(p.data)
            step = advance_step(state)
            exp_avg, exp_avg_sq = state["exp_avg"].array, state["exp_avg_sq"].array
            lerp_(exp_avg, grad, 1 - beta1)
            exp_avg_sq *= scalar(param, beta2)
            addcmul_(exp_avg_sq, grad, grad, 1 - beta2)
            denom = xp.sqrt(exp_avg_sq) / scalar(param, (1 - beta2**step) ** 0.5)
            denom += scalar(param, eps)
            update = (exp_avg / scalar(param, 1 - beta1**step)) / denom
            if weight_decay != 0:
                update += scalar(param, weight_decay) * param
            # Norms stay on the device (no host sync): trust is a 0-d array.
            param_norm = xp.sqrt(xp.sum(param * param))
            update_norm = xp.sqrt(xp.sum(update * update))
            usable = (param_norm > 0) & (update_norm > 0)
            trust = xp.where(usable, param_norm / xp.where(usable, update_norm, 1), 1).astype(param.dtype)
            param -= (scalar(param, lr) * trust) * update

"""Adam (with AMSGrad and, for AdamW, decoupled weight decay)."""

from __future__ import annotations

from typing import Any, Iterable

from axon_core import Backend
from axon_tensor import zeros_like

from .optimizer import Optimizer, advance_step, new_step_counter

__all__ = ["Adam"]


class Adam(Optimizer):
    """``torch.optim.Adam``: per step ``t`` with gradient ``g``,

    ``m = lerp(m, g, 1 - beta1)``; ``v = beta2 * v + (1 - beta2) * g * g``;
    ``denom = sqrt(v) / sqrt(1 - beta2^t) + eps`` (``v`` replaced by its running max under
    ``amsgrad``); ``p -= lr / (1 - beta1^t) * m / denom``.
    Weight decay adds ``weight_decay * p`` to ``g`` (L2), or with ``decoupled_weight_decay``
    first scales ``p`` by ``1 - lr * weight_decay`` (AdamW).
    State per parameter: ``step`` (float32 CPU scalar), ``exp_avg``, ``exp_avg_sq`` and
    ``max_exp_avg_sq`` (AMSGrad only).

    Each parameter is updated by its backend's ``adam_step``, which decides how: one kernel
    launch per parameter on cuda and cuda-sim, the torch-ordered ``xp`` update above on the
    CPU. ``fused=False`` asks for that ``xp`` reference on every device (``None`` and ``True``:
    the backend's choice).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        fused: bool | None = None,
    ) -> None:
        name = type(self).__name__
        if not 0.0 <= lr:
            raise ValueError(f"{name}: invalid learning rate {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"{name}: invalid epsilon {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"{name}: invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"{name}: invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"{name}: invalid weight_decay {weight_decay}")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any], params: list[Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
        fused = group.get("fused")
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = new_step_counter()
                state["exp_avg"] = zeros_like(p.data)
                state["exp_avg_sq"] = zeros_like(p.data)
                if amsgrad:
                    state["max_exp_avg_sq"] = zeros_like(p.data)
            step = advance_step(state)
            # The backend decides how: one kernel launch per parameter on cuda and cuda-sim, the
            # torch-ordered array update of the protocol's reference elsewhere; fused=False asks
            # for that reference on every device.
            backend = p.data.backend
            adam_step = Backend.adam_step if fused is False else type(backend).adam_step
            adam_step(
                backend,
                p.data.array,
                p.grad.data.array,
                state["exp_avg"].array,
                state["exp_avg_sq"].array,
                state["max_exp_avg_sq"].array if amsgrad else None,
                step=int(step),
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                eps=eps,
                weight_decay=weight_decay,
                decoupled=group["decoupled_weight_decay"],
                amsgrad=amsgrad,
                maximize=group["maximize"],
            )

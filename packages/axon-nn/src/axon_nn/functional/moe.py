"""Mixture-of-experts routing: top-k gating, the capacity/drop plan, the load-balancing loss.

Tokens are ``[tokens, d_model]`` rows; ``experts [tokens, k]`` holds each token's chosen
experts, best first. An *assignment* is one (token, slot) pair. The dispatch plan lists, per
expert, the tokens it runs on, so each expert sees only its rows (``index_select`` in,
``index_add`` out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from axon_core import ShapeError
from axon_tensor import Tensor
from axon_tensor.tensor import wrap

from ._util import tensor_of, xp_of
from .activation import softmax

__all__ = ["top_k_routing", "expert_capacity", "dispatch_plan", "DispatchPlan", "load_balancing_loss"]


def top_k_routing(router_logits: Any, k: int, normalize: bool = True) -> tuple[Any, Any, Tensor]:
    """Softmax router probabilities and each token's ``k`` best experts.

    ``router_logits [tokens, num_experts]`` -> ``(probs [tokens, E], weights [tokens, k],
    experts [tokens, k] int64)``. With ``normalize`` the ``k`` weights are divided by their sum
    (Mixtral); otherwise they are the raw softmax probabilities (Switch, GShard).
    """
    if len(router_logits.shape) != 2:
        raise ShapeError(
            f"top_k_routing: router_logits must be [tokens, num_experts], got {tuple(router_logits.shape)}"
        )
    num_experts = router_logits.shape[1]
    if not 1 <= k <= num_experts:
        raise ValueError(f"top_k_routing: k must be in [1, {num_experts}] (num_experts), got {k}")
    probs = softmax(router_logits, dim=-1)
    weights, experts = probs.topk(k, dim=-1)
    if normalize:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return probs, weights, tensor_of(experts)


def expert_capacity(tokens: int, k: int, num_experts: int, capacity_factor: float | None) -> int | None:
    """Assignments one expert may take: ``ceil(capacity_factor · tokens · k / num_experts)``
    (Switch Transformer / GShard), or None (unlimited) when ``capacity_factor`` is None."""
    if capacity_factor is None:
        return None
    if capacity_factor <= 0:
        raise ValueError(f"expert_capacity: capacity_factor must be positive, got {capacity_factor}")
    return math.ceil(capacity_factor * tokens * k / num_experts)


@dataclass
class DispatchPlan:
    """Per expert ``e``: ``tokens[e]`` (int64 row indices into the token matrix) and
    ``assignments[e]`` (indices into the slot-major flattening ``weights.T.reshape(-1)``, i.e.
    ``slot * tokens + token``); ``counts[e]`` assignments kept; ``dropped`` assignments over capacity."""

    tokens: list[Tensor]
    assignments: list[Tensor]
    counts: list[int]
    dropped: int


def dispatch_plan(experts: Tensor, num_experts: int, capacity: int | None = None) -> DispatchPlan:
    """Group the assignments of ``experts [tokens, k]`` by expert, keeping at most ``capacity`` each.

    Priority when an expert overflows: every token's first choice before any second choice,
    and within one slot, earlier tokens first (Switch/GShard's order). Dropped assignments
    contribute nothing to the output.
    """
    experts = tensor_of(experts)
    xp = xp_of(experts)
    data = experts.array
    if data.ndim != 2:
        raise ShapeError(f"dispatch_plan: experts must be [tokens, k], got {tuple(data.shape)}")
    tokens = data.shape[0]
    flat = data.T.reshape(-1)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= num_experts):
        raise IndexError(
            f"dispatch_plan: expert ids must be in [0, {num_experts}), got range [{int(flat.min())}, {int(flat.max())}]"
        )
    order = xp.argsort(flat, kind="stable")
    counts = xp.bincount(flat, minlength=num_experts) if flat.size else xp.zeros(num_experts, dtype=xp.int64)
    starts = [0, *xp.cumsum(counts).tolist()]
    plan_tokens, plan_assignments, kept = [], [], []
    dropped = 0
    for e in range(num_experts):
        chosen = order[starts[e] : starts[e + 1]]
        if capacity is not None and chosen.shape[0] > capacity:
            dropped += int(chosen.shape[0]) - capacity
            chosen = chosen[:capacity]
        chosen = chosen.astype(xp.int64, copy=False)
        plan_assignments.append(wrap(chosen, experts.device))
        plan_tokens.append(wrap(chosen % max(tokens, 1), experts.device))
        kept.append(int(chosen.shape[0]))
    return DispatchPlan(plan_tokens, plan_assignments, kept, dropped)


def load_balancing_loss(probs: Any, experts: Any, num_experts: int) -> Any:
    """Switch Transformer's auxiliary loss ``L = N · Σ_i f_i · P_i`` as a 0-d value.

    ``probs [tokens, N]``: router softmax; ``experts [tokens, k]``: the chosen experts.
    ``f_i`` = (assignments to expert ``i``) / tokens, counted before capacity drops, so
    ``Σ f_i = k`` (for ``k = 1`` exactly Switch's fraction of tokens; for ``k > 1`` the
    convention of Mixtral's loss in HF transformers); ``P_i`` = mean router probability of
    expert ``i``. The gradient flows through ``P`` only (``f`` is a count). Uniform routing
    gives ``L = k``; 0 tokens give 0.
    """
    experts = tensor_of(experts)
    xp = xp_of(experts)
    tokens = experts.shape[0]
    if tokens == 0:
        return probs.sum() * 0.0
    counts = xp.bincount(experts.array.reshape(-1), minlength=num_experts)
    fraction = wrap((counts / tokens).astype(tensor_of(probs).array.dtype), experts.device)
    return (probs.mean(dim=0) * fraction).sum() * float(num_experts)

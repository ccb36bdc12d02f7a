"""``MoELayer``: a sparse mixture of SwiGLU experts behind a softmax top-k router."""

from __future__ import annotations

from typing import Any

import axon_tensor
from axon_autograd import Variable
from axon_core import ShapeError

from .. import functional as F
from ..containers import ModuleList
from ..module import Module
from .linear import Linear
from .swiglu import SwiGLUFeedForward

__all__ = ["MoELayer"]


class MoELayer(Module):
    """Mixture of experts: ``[*, d_model] -> [*, d_model]``.

    ``gate`` (``Linear(d_model, num_experts, bias=False)``) scores each token; the softmax of
    the scores picks ``top_k`` experts (weights renormalised over the ``k`` when
    ``normalize_top_k``, as in Mixtral). Each expert (``experts[i]``, a
    :class:`SwiGLUFeedForward`) runs only on the rows routed to it: they are gathered with
    ``index_select`` and its weighted outputs are added back with ``index_add``.

    Capacity: with ``capacity_factor`` set, an expert takes at most
    ``ceil(capacity_factor · tokens · top_k / num_experts)`` assignments; first choices win over
    second choices, earlier tokens over later ones. A dropped assignment contributes zero, so a
    token whose every choice was dropped comes out as zeros: wrap the layer in a residual
    connection (``x + moe(x)``) to pass it through unchanged. ``capacity_factor=None`` drops nothing.

    After each forward, ``aux_loss`` holds the load-balancing loss ``N · Σ f_i · P_i`` (see
    :func:`axon_nn.functional.load_balancing_loss`; add ``coef * layer.aux_loss`` to the training
    loss), ``expert_counts`` the rows each expert ran on and ``dropped`` the assignments dropped.
    """

    def __init__(
        self,
        d_model: int,
        d_hidden: int,
        num_experts: int,
        top_k: int = 2,
        normalize_top_k: bool = True,
        capacity_factor: float | None = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"MoELayer: top_k must be in [1, num_experts={num_experts}], got {top_k}")
        self.d_model, self.d_hidden, self.num_experts, self.top_k = d_model, d_hidden, num_experts, top_k
        self.normalize_top_k, self.capacity_factor = normalize_top_k, capacity_factor
        self.gate = Linear(d_model, num_experts, bias=False, device=device, dtype=dtype)
        self.experts = ModuleList(
            [SwiGLUFeedForward(d_model, d_hidden, device=device, dtype=dtype) for _ in range(num_experts)]
        )
        self.aux_loss: Any = None
        self.expert_counts: list[int] = []
        self.dropped = 0

    def forward(self, input: Any) -> Any:
        shape = tuple(input.shape)
        if len(shape) == 0 or shape[-1] != self.d_model:
            raise ShapeError(f"MoELayer: input {shape} must be [*, d_model={self.d_model}]")
        tokens = input.reshape(-1, self.d_model)
        count = tokens.shape[0]
        probs, weights, experts = F.top_k_routing(self.gate(tokens), self.top_k, self.normalize_top_k)
        capacity = F.expert_capacity(count, self.top_k, self.num_experts, self.capacity_factor)
        plan = F.dispatch_plan(experts, self.num_experts, capacity)
        # Slot-major, so that assignment index ``slot * tokens + token`` addresses its weight.
        flat_weights = weights.transpose(0, 1).reshape(-1)
        output = Variable(axon_tensor.zeros((count, self.d_model), dtype=tokens.dtype, device=tokens.device))
        for expert, rows, assignments, kept in zip(self.experts, plan.tokens, plan.assignments, plan.counts):
            if kept == 0:
                continue
            routed = expert(tokens.index_select(0, rows)) * flat_weights.index_select(0, assignments).unsqueeze(-1)
            output = output.index_add(0, rows, routed)
        self.aux_loss = F.load_balancing_loss(probs, experts, self.num_experts)
        self.expert_counts, self.dropped = plan.counts, plan.dropped
        return output.reshape(shape)

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, d_hidden={self.d_hidden}, num_experts={self.num_experts}, top_k={self.top_k}, "
            f"normalize_top_k={self.normalize_top_k}, capacity_factor={self.capacity_factor}"
        )

"""Mamba (Gu & Dao 2023) as HF's ``MambaForCausalLM``: blocks of ``x + mixer(RMSNorm(x))`` whose
mixer is a gated, depthwise-causal-convolved selective state space (S6); parameter names and
numbers as ``transformers``'.

The mixer, for ``x [B, S, hidden]`` (``D = intermediate_size``, ``N = state_size``,
``R = time_step_rank``, ``K = conv_kernel``):

    u, z      = split(in_proj(x))                      [B, S, D] each
    u         = act(conv1d(u))                         depthwise, causal (K - 1 positions of left context)
    dt, B, C  = split(x_proj(u))                       [B, S, R], [B, S, N], [B, S, N]
    y         = selective_scan(u, dt_proj.weight dt, -exp(A_log), B, C, D, z, dt_proj.bias, softplus)
    out       = out_proj(y)                            [B, S, hidden]

Given a :class:`MambaCache`, the same forward runs as the recurrent form: the convolution's left
context is the cached last ``K`` inputs and the scan starts from the cached state, so a call of one
token is one step of the recurrence (O(1) work and memory per token) and any split of a sequence
into calls gives the logits of one call over all of it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

import axon_tensor
from axon_autograd import cat, tensor_of
from axon_core import ShapeError
from axon_nn import Conv1d, Embedding, Linear, Module, ModuleList, Parameter, RMSNorm, init
from axon_nn import functional as F
from axon_nn.deferred import deferring

from ..blocks.mlp import activation
from ..config import LLMConfig
from ..errors import LLMError
from ..modeling import CausalLM, PreTrainedModel
from ..ops.selective_scan import selective_scan

__all__ = ["PRESETS", "MambaBlock", "MambaCache", "MambaConfig", "MambaForCausalLM", "MambaMixer", "MambaModel"]

# The published state-spaces/mamba-*-hf shapes: width -> depth.
_DEPTHS = {768: 24, 1024: 48, 1536: 48, 2048: 48, 2560: 64}
_VOCAB = 50280

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"vocab_size": 256, "hidden_size": 64, "num_hidden_layers": 2, "state_size": 16},
    **{
        f"mamba_{name}": {"vocab_size": _VOCAB, "hidden_size": width, "num_hidden_layers": _DEPTHS[width]}
        for name, width in (("130m", 768), ("370m", 1024), ("790m", 1536), ("1.4b", 2048), ("2.8b", 2560))
    },
}


@dataclasses.dataclass
class MambaConfig(LLMConfig):
    """HF ``MambaConfig``'s fields and defaults (mamba-2.8b's vocabulary, 130m's width).

    ``intermediate_size`` is ``expand * hidden_size`` and ``time_step_rank`` ``"auto"`` becomes
    ``ceil(hidden_size / 16)``, as in ``transformers``.
    """

    model_type: ClassVar[str] = "mamba"
    architectures: ClassVar[tuple[str, ...]] = ("MambaForCausalLM",)

    vocab_size: int = _VOCAB
    hidden_size: int = 768
    state_size: int = 16
    num_hidden_layers: int = 32
    layer_norm_epsilon: float = 1e-5
    pad_token_id: int | None = 0
    bos_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 0
    expand: int = 2
    conv_kernel: int = 4
    use_bias: bool = False
    use_conv_bias: bool = True
    hidden_act: str = "silu"
    initializer_range: float = 0.1
    residual_in_fp32: bool = True
    time_step_rank: int | str = "auto"
    time_step_scale: float = 1.0
    time_step_min: float = 0.001
    time_step_max: float = 0.1
    time_step_init_scheme: str = "random"
    time_step_floor: float = 1e-4
    rescale_prenorm_residual: bool = False
    use_cache: bool = True
    use_mambapy: bool = False
    use_associative_scan: bool = True
    tie_word_embeddings: bool = True
    intermediate_size: int | None = None

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        super().__post_init__(rope_theta, rope_scaling)
        self.intermediate_size = int(self.expand * self.hidden_size)
        if self.time_step_rank == "auto":
            self.time_step_rank = math.ceil(self.hidden_size / 16)
        for name in ("state_size", "conv_kernel", "time_step_rank", "intermediate_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise LLMError(f"MambaConfig: {name} must be a positive int, got {value!r}")
        activation(self.hidden_act)

    @classmethod
    def from_d_model(cls, d_model: int, vocab_size: int, **fields: Any) -> "MambaConfig":
        """The Mamba of width ``d_model``: ``d_inner = 2 d_model``, 16 states, a kernel of 4,
        ``dt_rank = ceil(d_model / 16)``; as deep as the published model of that width (768: 24,
        1024/1536/2048: 48, 2560: 64 layers), else 24 layers. ``fields`` override any of it."""
        values = {"hidden_size": d_model, "vocab_size": vocab_size, "num_hidden_layers": _DEPTHS.get(d_model, 24)}
        return cls(**{**values, **fields})

    def to_dict(self) -> dict[str, Any]:
        values = super().to_dict()
        # Attention fields of the shared base that HF's MambaConfig does not have.
        for name in ("num_attention_heads", "max_position_embeddings"):
            values.pop(name, None)
        return values


class MambaCache:
    """The recurrent state of every Mamba layer, for generation.

    ``conv_states[i] [batch, intermediate_size, conv_kernel]`` holds layer ``i``'s last
    ``conv_kernel`` convolution inputs, ``ssm_states[i] [batch, intermediate_size, state_size]``
    its scan state; ``seq_len`` counts the positions consumed. Both are fixed in size: a step costs
    the same at any length, and ``max_len`` is kept only as the protocol's record of the plan.
    """

    def __init__(
        self,
        num_layers: int,
        batch: int,
        intermediate_size: int,
        state_size: int,
        conv_kernel: int,
        dtype: Any = None,
        device: Any = None,
        max_len: int | None = None,
    ) -> None:
        if min(num_layers, batch, intermediate_size, state_size, conv_kernel) <= 0:
            raise LLMError(
                f"MambaCache: layers {num_layers}, batch {batch}, intermediate_size {intermediate_size}, state_size "
                f"{state_size} and conv_kernel {conv_kernel} must all be positive"
            )
        self.max_len = max_len
        self.conv_states = [
            axon_tensor.zeros(batch, intermediate_size, conv_kernel, dtype=dtype, device=device)
            for _ in range(num_layers)
        ]
        self.ssm_states = [
            axon_tensor.zeros(batch, intermediate_size, state_size, dtype=dtype, device=device)
            for _ in range(num_layers)
        ]
        self.seq_len = 0

    def __len__(self) -> int:
        return len(self.ssm_states)

    @property
    def batch_size(self) -> int:
        return int(self.ssm_states[0].shape[0])

    def advance(self, seq: int) -> None:
        self.seq_len += seq

    def reorder(self, index: Any) -> None:
        """Keep batch rows ``index`` (ints, repeats allowed): beam search's reordering of hypotheses."""
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        if index.size and (index.min() < 0 or index.max() >= self.batch_size):
            raise ShapeError(f"MambaCache.reorder: rows {index.tolist()} out of range for batch {self.batch_size}")
        rows = self.ssm_states[0].backend.xp.asarray(index)
        self.conv_states = [state[rows].clone() for state in self.conv_states]
        self.ssm_states = [state[rows].clone() for state in self.ssm_states]


def _new_parameter(*shape: int, like: Any) -> Parameter:
    """A Parameter of ``shape`` with ``like``'s dtype and device (without storage under deferred_init)."""
    data = tensor_of(like)
    if deferring():
        return Parameter(axon_tensor.zeros((), dtype=data.dtype, device=data.device).expand(*shape))
    return Parameter(axon_tensor.empty(*shape, dtype=data.dtype, device=data.device))


def _assign(parameter: Any, values: np.ndarray) -> None:
    data = tensor_of(parameter)
    data.array[...] = data.backend.from_numpy(np.ascontiguousarray(values, dtype=data.dtype.np))


class MambaMixer(Module):
    """The selective-state-space mixer: ``[B, S, hidden] -> [B, S, hidden]`` (HF's ``MambaMixer``)."""

    def __init__(
        self,
        hidden_size: int,
        intermediate_size: int,
        state_size: int = 16,
        conv_kernel: int = 4,
        time_step_rank: int | None = None,
        use_bias: bool = False,
        use_conv_bias: bool = True,
        hidden_act: str = "silu",
        layer_idx: int = 0,
        time_step: tuple[float, float, float, float, str] = (1.0, 0.001, 0.1, 1e-4, "random"),
    ) -> None:
        super().__init__()
        self.hidden_size, self.intermediate_size, self.state_size = hidden_size, intermediate_size, state_size
        self.conv_kernel = conv_kernel
        self.time_step_rank = time_step_rank or math.ceil(hidden_size / 16)
        self.layer_idx = layer_idx
        # (scale, min, max, floor, init scheme) of HF's dt initialisation.
        self.time_step = time_step
        self.act = activation(hidden_act)
        self.hidden_act = hidden_act
        self.conv1d = Conv1d(
            intermediate_size, intermediate_size, conv_kernel, groups=intermediate_size, padding=conv_kernel - 1
        )
        if not use_conv_bias:
            self.conv1d.register_parameter("bias", None)
        self.in_proj = Linear(hidden_size, 2 * intermediate_size, bias=use_bias)
        self.x_proj = Linear(intermediate_size, self.time_step_rank + 2 * state_size, bias=False)
        self.dt_proj = Linear(self.time_step_rank, intermediate_size, bias=True)
        self.A_log = _new_parameter(intermediate_size, state_size, like=self.dt_proj.weight)
        self.D = _new_parameter(intermediate_size, like=self.dt_proj.weight)
        self.out_proj = Linear(intermediate_size, hidden_size, bias=use_bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """HF's Mamba initialisation: ``A = 1..N`` per channel (S4D-real), ``D = 1``, ``dt_proj``
        uniform in ``±rank^-½·scale`` with a bias whose softplus is log-uniform in
        ``[time_step_min, time_step_max]``, Kaiming-uniform convolution and output weights."""
        if deferring():
            return
        scale, low, high, floor, scheme = self.time_step
        states = np.arange(1, self.state_size + 1, dtype=np.float64)
        _assign(self.A_log, np.log(np.broadcast_to(states, (self.intermediate_size, self.state_size))))
        init.ones_(self.D)
        std = self.time_step_rank**-0.5 * scale
        if scheme == "constant":
            init.constant_(self.dt_proj.weight, std)
        else:
            init.uniform_(self.dt_proj.weight, -std, std)
        # dt log-uniform in [low, high] (drawn from axon's generator), floored, through softplus's inverse.
        draw = init.uniform_(axon_tensor.empty(self.intermediate_size, dtype="float64"), 0.0, 1.0).numpy()
        dt = np.maximum(np.exp(draw * (math.log(high) - math.log(low)) + math.log(low)), floor)
        _assign(self.dt_proj.bias, dt + np.log(-np.expm1(-dt)))
        init.kaiming_uniform_(self.conv1d.weight, a=math.sqrt(5))
        if self.conv1d.bias is not None:
            init.zeros_(self.conv1d.bias)
        init.kaiming_uniform_(self.out_proj.weight, a=math.sqrt(5))

    def forward(self, hidden: Any, mask: Any = None, cache: MambaCache | None = None) -> Any:
        """``hidden [B, S, hidden]`` -> ``[B, S, hidden]``; ``mask [B, S, 1]`` (1 keep, 0 padding)
        zeroes padded positions as HF does; ``cache`` continues (and updates) this layer's state."""
        batch, seq, _ = hidden.shape
        width, kernel = self.intermediate_size, self.conv_kernel
        if mask is not None:
            hidden = hidden * mask
        projected = self.in_proj(hidden)
        u, gate = projected[..., :width], projected[..., width:]
        columns = u.transpose(1, 2)
        if cache is None:
            left = axon_tensor.zeros(batch, width, kernel - 1, dtype=columns.dtype, device=columns.device)
        else:
            left = cache.conv_states[self.layer_idx][:, :, 1:]
        window = cat([left, columns], dim=2)
        if cache is not None:
            cache.conv_states[self.layer_idx] = tensor_of(window[:, :, -kernel:]).clone()
        u = self.act(F.conv1d(window, self.conv1d.weight, self.conv1d.bias, groups=width)).transpose(1, 2)
        if mask is not None:
            u = u * mask
        rank, states = self.time_step_rank, self.state_size
        dbc = self.x_proj(u)
        delta = F.linear(dbc[..., :rank], self.dt_proj.weight)
        B, C = dbc[..., rank : rank + states], dbc[..., rank + states :]
        A = -self.A_log.exp()
        initial = None if cache is None else cache.ssm_states[self.layer_idx]
        y, last = selective_scan(u, delta, A, B, C, self.D, gate, self.dt_proj.bias, True, initial)
        if cache is not None:
            cache.ssm_states[self.layer_idx] = tensor_of(last).clone()
        return self.out_proj(y)

    def extra_repr(self) -> str:
        return (
            f"hidden_size={self.hidden_size}, intermediate_size={self.intermediate_size}, "
            f"state_size={self.state_size}, conv_kernel={self.conv_kernel}, time_step_rank={self.time_step_rank}"
        )


class MambaBlock(Module):
    """``x + mixer(norm(x))``: ``[B, S, hidden] -> [B, S, hidden]`` (HF's ``MambaBlock``)."""

    def __init__(self, config: MambaConfig, layer_idx: int) -> None:
        super().__init__()
        self.norm = RMSNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.mixer = MambaMixer(
            config.hidden_size,
            config.intermediate_size,
            config.state_size,
            config.conv_kernel,
            config.time_step_rank,
            config.use_bias,
            config.use_conv_bias,
            config.hidden_act,
            layer_idx,
            (
                config.time_step_scale,
                config.time_step_min,
                config.time_step_max,
                config.time_step_floor,
                config.time_step_init_scheme,
            ),
        )

    def forward(self, hidden: Any, mask: Any = None, cache: MambaCache | None = None) -> Any:
        return hidden + self.mixer(self.norm(hidden), mask, cache)


def _padding_mask(attention_mask: Any, batch: int, seq: int, like: Any) -> Any:
    """``attention_mask [B, past + S]`` (1 token, 0 padding) as ``[B, S, 1]`` in ``like``'s dtype and
    device, or None when there is no padding."""
    if attention_mask is None:
        return None
    values = tensor_of(attention_mask)
    host = np.asarray(values.numpy() if hasattr(values, "numpy") else values)
    if host.ndim != 2 or host.shape[0] != batch or host.shape[1] < seq:
        raise ShapeError(f"Mamba: attention_mask {host.shape} must be [batch {batch}, past + {seq}]")
    host = host[:, host.shape[1] - seq :]
    if host.all():
        return None
    data = tensor_of(like)
    return axon_tensor.from_numpy(host.astype(data.dtype.np)[:, :, None]).to(data.device)


class MambaModel(PreTrainedModel):
    """Embeddings, the Mamba blocks and the final norm: ``input_ids [B, S]`` -> ``[B, S, hidden]``."""

    config_class = MambaConfig

    def __init__(self, config: MambaConfig) -> None:
        super().__init__(config)
        self.embeddings = Embedding(config.vocab_size, config.hidden_size)
        self.layers = ModuleList([MambaBlock(config, i) for i in range(config.num_hidden_layers)])
        self.norm_f = RMSNorm(config.hidden_size, eps=config.layer_norm_epsilon)
        self.init_weights()

    @classmethod
    def from_hf_state(cls, state: dict[str, Any], config: LLMConfig) -> dict[str, Any]:
        # Older state-spaces checkpoints name the embedding ``embedding`` (HF's load_hook renames it too).
        return {name.replace("embedding.", "embeddings.", 1): value for name, value in state.items()}

    def init_weights(self) -> None:
        """HF's ``_init_weights``: Linear/Embedding ``N(0, initializer_range)``, then each mixer's own
        initialisation (:meth:`MambaMixer.reset_parameters`)."""
        super().init_weights()
        for module in self.modules():
            if isinstance(module, MambaMixer):
                module.reset_parameters()
                if self.config.rescale_prenorm_residual:
                    weight = tensor_of(module.out_proj.weight)
                    if not deferring():
                        weight.array[...] /= math.sqrt(self.config.num_hidden_layers)

    def forward(self, input_ids: Any, attention_mask: Any = None, cache: MambaCache | None = None) -> Any:
        if len(input_ids.shape) != 2:
            raise ShapeError(f"Mamba: input_ids must be [batch, seq], got {tuple(input_ids.shape)}")
        batch, seq = input_ids.shape
        if cache is not None and (cache.batch_size != batch or len(cache) != len(self.layers)):
            raise ShapeError(
                f"Mamba: a cache of {len(cache)} layers x batch {cache.batch_size} for input_ids "
                f"{tuple(input_ids.shape)} and {len(self.layers)} layers"
            )
        hidden = self.embeddings(input_ids)
        mask = _padding_mask(attention_mask, batch, seq, hidden)
        for layer in self.layers:
            hidden = layer(hidden, mask, cache)
        if cache is not None:
            cache.advance(seq)
        return self.norm_f(hidden)


class MambaForCausalLM(CausalLM):
    """``backbone`` (:class:`MambaModel`) plus ``lm_head`` (tied to the embeddings by default):
    ``input_ids [B, S]`` -> logits ``[B, S, vocab]``."""

    config_class = MambaConfig
    presets = PRESETS
    tied_weights = {"lm_head.weight": "backbone.embeddings.weight"}

    def __init__(self, config: MambaConfig) -> None:
        super().__init__(config)
        self.backbone = MambaModel(config)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, bias=False)
        init.normal_(self.lm_head.weight, 0.0, config.initializer_range)
        self.tie_weights()

    @classmethod
    def from_d_model(cls, d_model: int, vocab_size: int, **fields: Any) -> "MambaForCausalLM":
        """The model of :meth:`MambaConfig.from_d_model`."""
        return cls(MambaConfig.from_d_model(d_model, vocab_size, **fields))

    @classmethod
    def from_hf_state(cls, state: dict[str, Any], config: LLMConfig) -> dict[str, Any]:
        return MambaModel.from_hf_state(state, config)

    def init_weights(self) -> None:
        self.backbone.init_weights()
        if not self.config.tie_word_embeddings:
            init.normal_(self.lm_head.weight, 0.0, self.config.initializer_range)

    def new_cache(self, batch_size: int, max_len: int) -> MambaCache:
        """A zero :class:`MambaCache` for ``batch_size`` rows (its size does not depend on ``max_len``)."""
        config = self.config
        weight = tensor_of(self.lm_head.weight)
        return MambaCache(
            config.num_hidden_layers,
            batch_size,
            config.intermediate_size,
            config.state_size,
            config.conv_kernel,
            weight.dtype,
            weight.device,
            max_len,
        )

    def forward(self, input_ids: Any, attention_mask: Any = None, position_ids: Any = None, cache: Any = None) -> Any:
        """Logits ``[B, S, vocab]``; ``position_ids`` are accepted for the shared signature and unused
        (Mamba has no positional encoding)."""
        return self.lm_head(self.backbone(input_ids, attention_mask, cache))

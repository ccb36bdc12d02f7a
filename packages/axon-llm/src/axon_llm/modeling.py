"""``PreTrainedModel`` and ``CausalLM``: what every model here shares — its config, HF-compatible
weights (``from_pretrained`` / ``save_pretrained``, name mapping hooks), parameter counts, the
causal-LM loss and the cache it decodes with.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from axon_nn import Embedding, LayerNorm, Linear, Module, RMSNorm, deferred_init, init, materialize
from axon_nn import functional as F

from .cache import KVCache
from .config import LLMConfig
from .errors import LLMError
from .generation import GenerationMixin

__all__ = ["CausalLM", "PreTrainedModel"]


class PreTrainedModel(Module):
    """A model built from an :class:`LLMConfig` whose ``state_dict`` names are HF's (after
    :meth:`from_hf_state`), so an HF folder loads by name and :meth:`save_pretrained` writes one.

    Subclasses set ``config_class`` and may override the two mapping hooks (GPT-2 transposes its
    ``Conv1D`` weights, for instance). ``tied_weights`` maps a parameter name to the one it shares
    storage with when ``config.tie_word_embeddings`` (HF saves only the latter).
    """

    config_class: ClassVar[type[LLMConfig]] = LLMConfig
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    tied_weights: ClassVar[dict[str, str]] = {}
    ignored_on_load: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: LLMConfig) -> None:
        super().__init__()
        self.config = config

    @classmethod
    def from_hf_state(cls, state: dict[str, Any], config: LLMConfig) -> dict[str, Any]:
        """HF's ``{name: tensor}`` -> ours (the default: the same names and layouts)."""
        return state

    def to_hf_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """Ours -> HF's (the inverse of :meth:`from_hf_state`)."""
        return state

    def init_weights(self) -> None:
        """HF's ``_init_weights``: Linear and Embedding weights ``N(0, initializer_range)``, biases 0,
        norms 1 (the layers' own defaults are PyTorch's, which train LMs worse)."""
        std = self.config.initializer_range
        for module in self.modules():
            if isinstance(module, (Linear, Embedding)):
                init.normal_(module.weight, 0.0, std)
                if getattr(module, "bias", None) is not None:
                    init.zeros_(module.bias)
                if isinstance(module, Embedding) and module.padding_idx is not None:
                    module.weight.data.array[module.padding_idx] = 0
            elif isinstance(module, (RMSNorm, LayerNorm)) and module.weight is not None:
                init.ones_(module.weight)
                if getattr(module, "bias", None) is not None:
                    init.zeros_(module.bias)

    def tie_weights(self) -> None:
        """Share each tied parameter (``tied_weights``) when the config asks for it."""
        if not self.config.tie_word_embeddings:
            return
        for name, source in self.tied_weights.items():
            owner_name, _, attr = name.rpartition(".")
            setattr(self.get_submodule(owner_name), attr, self.get_parameter(source))

    def get_parameter(self, name: str) -> Any:
        owner_name, _, attr = name.rpartition(".")
        return getattr(self.get_submodule(owner_name) if owner_name else self, attr)

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Distinct parameters (a tied weight counts once), as ``transformers``' ``num_parameters``."""
        embeddings = {id(m.weight) for m in self.modules() if isinstance(m, Embedding)} if exclude_embeddings else set()
        seen = {id(p): int(np.prod(p.shape)) for p in self.parameters() if id(p) not in embeddings}
        return sum(seen.values())

    @classmethod
    def from_preset(cls, name: str, deferred: bool | None = None, **overrides: Any) -> "PreTrainedModel":
        """The model of a named shape (``cls.presets``), with ``overrides`` applied to its config.

        ``deferred`` builds it without storage (:func:`axon_nn.deferred_init`: shapes, dtypes and
        :meth:`num_parameters` are real, no memory is taken) until :meth:`materialize`; None defers
        presets of a billion parameters or more, which a small machine cannot hold.
        """
        if name not in cls.presets:
            raise LLMError(f"{cls.__name__}: no preset {name!r} (presets: {sorted(cls.presets)})")
        config = cls.config_class.from_dict({**cls.presets[name], **overrides})
        with deferred_init():
            model = cls(config)
        if deferred is False or (deferred is None and model.num_parameters() < 1_000_000_000):
            model.materialize()
        return model

    def materialize(self) -> "PreTrainedModel":
        """Allocate a deferred model's parameters and initialise them (:meth:`init_weights`)."""
        materialize(self)
        self.init_weights()
        return self

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], dtype: Any = None) -> "PreTrainedModel":
        """Load an HF folder (``config.json`` + safetensors); see :func:`axon_llm.loading.hf.load_hf_model`."""
        from .loading.hf import load_hf_model

        return load_hf_model(path, model_class=cls, dtype=dtype)

    def save_pretrained(self, directory: str | os.PathLike[str], max_shard_size: int | None = None) -> None:
        """Write ``config.json`` and ``model.safetensors`` (or shards + index) that ``transformers`` loads."""
        from .loading.hf import save_hf_model

        save_hf_model(self, directory, max_shard_size=max_shard_size)


class CausalLM(PreTrainedModel, GenerationMixin):
    """A decoder that maps token ids to next-token logits.

    Subclasses implement ``forward(input_ids [B, S], attention_mask=None, position_ids=None,
    cache=None) -> logits [B, S, vocab]``; this class adds the loss, the default KV cache and
    ``generate`` / ``stream`` (:class:`~axon_llm.generation.GenerationMixin`).
    """

    def new_cache(self, batch_size: int, max_len: int) -> Any:
        """A preallocated :class:`KVCache` for ``batch_size`` rows of up to ``max_len`` positions."""
        config = self.config
        heads = config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        windows = [getattr(config, "sliding_window", None)] * config.num_hidden_layers
        dtype = next(iter(self.parameters())).dtype
        device = next(iter(self.parameters())).device
        return KVCache(config.num_hidden_layers, batch_size, kv_heads, head_dim, max_len, dtype, device, windows)

    def loss(self, input_ids: Any, labels: Any = None, attention_mask: Any = None) -> Any:
        """HF's causal-LM loss: cross-entropy of the logits at ``t`` against ``labels[t + 1]``.

        ``labels`` default to ``input_ids``; label ``-100`` is ignored; the mean is over the
        counted targets. Returns a scalar.
        """
        logits = self(input_ids, attention_mask=attention_mask)
        labels = input_ids if labels is None else labels
        targets = np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels, dtype=np.int64)[:, 1:]
        import axon_tensor

        vocab = logits.shape[-1]
        shifted = logits[:, :-1].reshape(-1, vocab)
        return F.cross_entropy(shifted, axon_tensor.tensor(targets.reshape(-1), device=shifted.device))

"""BERT (Devlin et al. 2019) as HF's ``BertModel``, ``BertForSequenceClassification`` and
``BertForMaskedLM``: word + position + token-type embeddings, post-norm encoder layers with
bidirectional attention under a padding mask, a tanh pooler; parameter names as ``transformers``'.

BERT encodes, it does not predict the next token: :class:`BertModel` returns a
:class:`BertModelOutput` (``last_hidden_state [B, S, hidden]``, ``pooler_output [B, hidden]``), the
heads return logits (``[B, num_labels]``, ``[B, S, vocab]``) and have their own ``loss``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import numpy as np

import axon_tensor
from axon_nn import Embedding, LayerNorm, Linear, Module, ModuleList, Parameter, init
from axon_nn import functional as F

from ..blocks.attention import AttentionInputs
from ..blocks.mlp import activation
from ..config import LLMConfig
from ..errors import LLMError
from ..modeling import PreTrainedModel
from ._base_prefix import match_base_prefix

__all__ = [
    "BertConfig",
    "BertEmbeddings",
    "BertForMaskedLM",
    "BertForSequenceClassification",
    "BertLayer",
    "BertModel",
    "BertModelOutput",
    "PRESETS",
]

# Google's two sizes (bert-base-uncased, bert-large-uncased) and a tiny one for tests.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "vocab_size": 256,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 256,
        "max_position_embeddings": 128,
    },
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
}

_PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


@dataclasses.dataclass
class BertConfig(LLMConfig):
    """HF ``BertConfig``'s fields and defaults (bert-base-uncased).

    The classification labels are HF's too: ``id2label`` (``{0: "LABEL_0", 1: "LABEL_1"}`` by
    default) and ``label2id``; ``num_labels`` given alone makes ``LABEL_i`` names, and is read back
    as ``len(id2label)``. ``problem_type`` None picks the loss from the labels as HF does.
    """

    model_type: ClassVar[str] = "bert"
    architectures: ClassVar[tuple[str, ...]] = ("BertModel",)

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    max_position_embeddings: int = 512
    tie_word_embeddings: bool = True
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = 0
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    position_embedding_type: str = "absolute"
    classifier_dropout: float | None = None
    is_decoder: bool = False
    add_cross_attention: bool = False
    use_cache: bool = True
    num_labels: int | None = None
    id2label: dict[int, str] | None = None
    label2id: dict[str, int] | None = None
    problem_type: str | None = None

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict | None = None) -> None:
        super().__post_init__(rope_theta, rope_scaling)
        if self.hidden_size % self.num_attention_heads:
            raise LLMError(
                f"BertConfig: hidden_size {self.hidden_size} is not a multiple of num_attention_heads "
                f"{self.num_attention_heads}"
            )
        if self.position_embedding_type != "absolute":
            raise LLMError(
                f"BertConfig: position_embedding_type {self.position_embedding_type!r} is not supported (only "
                "'absolute')"
            )
        if self.is_decoder or self.add_cross_attention:
            raise LLMError("BertConfig: BERT as a decoder (is_decoder, add_cross_attention) is not supported")
        if self.problem_type is not None and self.problem_type not in _PROBLEM_TYPES:
            raise LLMError(f"BertConfig: problem_type {self.problem_type!r} is not one of {_PROBLEM_TYPES}")
        activation(self.hidden_act)
        if self.id2label is not None:
            # config.json stores the ids as strings.
            self.id2label = {int(key): str(label) for key, label in self.id2label.items()}
            if self.num_labels is not None and self.num_labels != len(self.id2label):
                raise LLMError(f"BertConfig: num_labels {self.num_labels} disagrees with {len(self.id2label)} id2label")
        else:
            count = 2 if self.num_labels is None else self.num_labels
            if not isinstance(count, int) or count <= 0:
                raise LLMError(f"BertConfig: num_labels must be a positive int, got {count!r}")
            self.id2label = {i: f"LABEL_{i}" for i in range(count)}
        self.num_labels = len(self.id2label)
        if self.label2id is None or len(self.label2id) != self.num_labels:
            self.label2id = {label: i for i, label in self.id2label.items()}

    def to_dict(self) -> dict[str, Any]:
        values = super().to_dict()
        values.pop("num_labels")  # HF derives it from id2label
        values["id2label"] = {str(i): label for i, label in self.id2label.items()}
        return values

    def replace(self, **changes: Any) -> "BertConfig":
        if "num_labels" in changes and "id2label" not in changes:
            changes = {**changes, "id2label": None, "label2id": None}
        elif "id2label" in changes and "num_labels" not in changes:
            changes = {**changes, "num_labels": None, "label2id": None}
        return dataclasses.replace(self, **changes)


class BertModelOutput(NamedTuple):
    """What :class:`BertModel` returns: ``last_hidden_state [B, S, hidden]`` and ``pooler_output
    [B, hidden]`` (``tanh(dense(h[:, 0]))``; None in a model built without the pooler)."""

    last_hidden_state: Any
    pooler_output: Any


def _host_ids(values: Any) -> np.ndarray:
    return np.asarray(values.numpy() if hasattr(values, "numpy") else values).astype(np.int64)


def _hf_state_names(state: dict[str, Any]) -> dict[str, Any]:
    """Old TF-converted checkpoints name LayerNorm parameters ``gamma``/``beta`` (HF renames them too)."""
    renamed = {}
    for name, value in state.items():
        if name.endswith(".gamma"):
            name = name[: -len("gamma")] + "weight"
        elif name.endswith(".beta"):
            name = name[: -len("beta")] + "bias"
        renamed[name] = value
    return renamed


class BertEmbeddings(Module):
    """``LayerNorm(word[ids] + token_type[types] + position[pos])``: ``[B, S]`` -> ``[B, S, hidden]``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.hidden_dropout_prob = config.hidden_dropout_prob
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, input_ids: Any, token_type_ids: Any, position_ids: np.ndarray) -> Any:
        """``token_type_ids [B, S]`` or None (all type 0); ``position_ids`` int ``[S]`` or ``[B, S]``."""
        words = self.word_embeddings(input_ids)
        device = words.device
        if token_type_ids is None:
            types = np.zeros(tuple(input_ids.shape), dtype=np.int64)
        else:
            types = _host_ids(token_type_ids)
            if types.shape != tuple(input_ids.shape):
                raise LLMError(f"BERT: token_type_ids {types.shape} do not match input_ids {tuple(input_ids.shape)}")
        if types.size and (types.min() < 0 or types.max() >= self.token_type_embeddings.num_embeddings):
            raise LLMError(
                f"BERT: token_type_ids {int(types.min())}..{int(types.max())} are outside the model's "
                f"type_vocab_size {self.token_type_embeddings.num_embeddings}"
            )
        hidden = words + self.token_type_embeddings(axon_tensor.tensor(types, device=device))
        hidden = hidden + self.position_embeddings(axon_tensor.tensor(position_ids, device=device))
        return F.dropout(self.LayerNorm(hidden), self.hidden_dropout_prob, self.training)


class BertSelfAttention(Module):
    """``query``/``key``/``value`` projections and bidirectional attention: ``[B, S, H] -> [B, S, H]``."""

    def __init__(self, config: BertConfig, layer_idx: int) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.layer_idx = layer_idx
        self.query = Linear(config.hidden_size, config.hidden_size)
        self.key = Linear(config.hidden_size, config.hidden_size)
        self.value = Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        batch, seq, _ = hidden.shape
        shape = (batch, seq, self.num_heads, self.head_dim)
        query = self.query(hidden).reshape(*shape).transpose(1, 2)
        key = self.key(hidden).reshape(*shape).transpose(1, 2)
        value = self.value(hidden).reshape(*shape).transpose(1, 2)
        return inputs.attend(query, key, value, self.layer_idx)


class BertSelfOutput(Module):
    """``LayerNorm(dense(x) + residual)`` (BERT is post-norm); also the FFN's output as ``BertOutput``."""

    def __init__(self, in_features: int, config: BertConfig) -> None:
        super().__init__()
        self.hidden_dropout_prob = config.hidden_dropout_prob
        self.dense = Linear(in_features, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: Any, residual: Any) -> Any:
        return self.LayerNorm(F.dropout(self.dense(hidden), self.hidden_dropout_prob, self.training) + residual)


class BertAttention(Module):
    """``self`` (attention) then ``output`` (projection, residual, LayerNorm), HF's two names."""

    def __init__(self, config: BertConfig, layer_idx: int) -> None:
        super().__init__()
        self.self = BertSelfAttention(config, layer_idx)
        self.output = BertSelfOutput(config.hidden_size, config)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        return self.output(self.self(hidden, inputs), hidden)


class BertIntermediate(Module):
    """``act(dense(x))``: ``[*, hidden] -> [*, intermediate_size]``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.act = activation(config.hidden_act)
        self.dense = Linear(config.hidden_size, config.intermediate_size)

    def forward(self, hidden: Any) -> Any:
        return self.act(self.dense(hidden))


class BertLayer(Module):
    """``attention``, then the feed-forward ``intermediate`` -> ``output``: ``[B, S, H] -> [B, S, H]``."""

    def __init__(self, config: BertConfig, layer_idx: int) -> None:
        super().__init__()
        self.attention = BertAttention(config, layer_idx)
        self.intermediate = BertIntermediate(config)
        self.output = BertSelfOutput(config.intermediate_size, config)

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        hidden = self.attention(hidden, inputs)
        return self.output(self.intermediate(hidden), hidden)


class BertEncoder(Module):
    """``layer``: the ``num_hidden_layers`` encoder layers."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = ModuleList([BertLayer(config, i) for i in range(config.num_hidden_layers)])

    def forward(self, hidden: Any, inputs: AttentionInputs) -> Any:
        for layer in self.layer:
            hidden = layer(hidden, inputs)
        return hidden


class BertPooler(Module):
    """``tanh(dense(h[:, 0]))``: the first ([CLS]) token's state, ``[B, S, H] -> [B, H]``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Any) -> Any:
        return F.tanh(self.dense(hidden[:, 0]))


class BertModel(PreTrainedModel):
    """The encoder: ``input_ids [B, S]`` -> :class:`BertModelOutput` (``last_hidden_state [B, S, H]``,
    ``pooler_output [B, H]``). ``add_pooling_layer=False`` leaves the pooler out, as HF's heads for
    token outputs do (its ``pooler_output`` is then None)."""

    config_class = BertConfig
    presets = PRESETS
    # HF keeps the position ids as a (non-persistent, but once saved) buffer; ours are built per call.
    ignored_on_load = ("embeddings.position_ids", "embeddings.token_type_ids")

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.init_weights()

    @classmethod
    def from_hf_state(cls, state: dict[str, Any], config: LLMConfig) -> dict[str, Any]:
        return match_base_prefix(_hf_state_names(state), "bert", is_base=True)

    def forward(
        self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None, position_ids: Any = None
    ) -> BertModelOutput:
        """``input_ids [B, S]``; ``attention_mask [B, S]`` (1 keep, 0 pad); ``token_type_ids [B, S]``
        (default 0); ``position_ids [B, S]`` or ``[S]`` (default ``0 .. S-1``, padding or not, as HF)."""
        config = self.config
        batch, seq = tuple(input_ids.shape)
        if position_ids is None:
            position_ids = np.arange(seq, dtype=np.int64)
        inputs = AttentionInputs.build(
            (batch, seq),
            attention_mask,
            position_ids,
            causal=False,
            dropout_p=config.attention_probs_dropout_prob if self.training else 0.0,
        )
        positions = inputs.position_ids
        if positions.size and (positions.min() < 0 or positions.max() >= config.max_position_embeddings):
            raise LLMError(
                f"BERT: position ids {int(positions.min())}..{int(positions.max())} are outside the model's "
                f"max_position_embeddings {config.max_position_embeddings}"
            )
        hidden = self.encoder(self.embeddings(input_ids, token_type_ids, positions), inputs)
        return BertModelOutput(hidden, self.pooler(hidden) if self.pooler is not None else None)


class BertForSequenceClassification(PreTrainedModel):
    """``bert`` (with the pooler) and ``classifier``: ``input_ids [B, S]`` -> logits ``[B, num_labels]``."""

    config_class = BertConfig
    presets = PRESETS
    ignored_on_load = BertModel.ignored_on_load

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config)
        self.classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.classifier = Linear(config.hidden_size, config.num_labels)
        self.init_weights()

    @classmethod
    def from_hf_state(cls, state: dict[str, Any], config: LLMConfig) -> dict[str, Any]:
        return match_base_prefix(_hf_state_names(state), "bert", is_base=False)

    def forward(
        self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None, position_ids: Any = None
    ) -> Any:
        pooled = self.bert(input_ids, attention_mask, token_type_ids, position_ids).pooler_output
        return self.classifier(F.dropout(pooled, self.classifier_dropout, self.training))

    def loss(
        self,
        input_ids: Any,
        labels: Any,
        attention_mask: Any = None,
        token_type_ids: Any = None,
        position_ids: Any = None,
    ) -> Any:
        """HF's loss for ``labels``: mean squared error (``regression``; labels ``[B]`` or ``[B, num_labels]``),
        cross-entropy (``single_label_classification``; int labels ``[B]``) or BCE with logits
        (``multi_label_classification``; float labels ``[B, num_labels]``). ``config.problem_type`` None
        picks as HF: one label -> regression, int labels -> single-label, else multi-label. A scalar."""
        logits = self(input_ids, attention_mask, token_type_ids, position_ids)
        host = np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels)
        problem = self.config.problem_type
        if problem is None:
            if self.config.num_labels == 1:
                problem = "regression"
            elif host.dtype.kind in "iu":
                problem = "single_label_classification"
            else:
                problem = "multi_label_classification"
        device = logits.device
        if problem == "single_label_classification":
            targets = axon_tensor.tensor(host.astype(np.int64).reshape(-1), device=device)
            return F.cross_entropy(logits.reshape(-1, self.config.num_labels), targets)
        targets = axon_tensor.tensor(host, device=device).to(logits.dtype)
        if problem == "regression":
            if self.config.num_labels == 1:
                return F.mse_loss(logits.reshape(-1), targets.reshape(-1))
            return F.mse_loss(logits, targets)
        return F.binary_cross_entropy_with_logits(logits, targets)


class BertPredictionHeadTransform(Module):
    """``LayerNorm(act(dense(x)))``: ``[*, H] -> [*, H]``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.act = activation(config.hidden_act)
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: Any) -> Any:
        return self.LayerNorm(self.act(self.dense(hidden)))


class BertLMPredictionHead(Module):
    """``decoder(transform(x))``: ``[*, H] -> [*, vocab]``; ``bias`` is the decoder's bias when tied (HF)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = Linear(config.hidden_size, config.vocab_size)
        self.bias = Parameter(axon_tensor.zeros(config.vocab_size))

    def forward(self, hidden: Any) -> Any:
        return self.decoder(self.transform(hidden))


class BertOnlyMLMHead(Module):
    """``predictions``: HF's wrapper name for the masked-LM head."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, hidden: Any) -> Any:
        return self.predictions(hidden)


class BertForMaskedLM(PreTrainedModel):
    """``bert`` (no pooler) and ``cls``: ``input_ids [B, S]`` -> logits ``[B, S, vocab]``.

    With ``tie_word_embeddings`` (the default) the decoder's weight is the word embeddings and its
    bias is ``cls.predictions.bias``, as HF ties them.
    """

    config_class = BertConfig
    presets = PRESETS
    tied_weights = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }
    # A pre-training checkpoint (bert-base-uncased's) also holds the pooler and the next-sentence head.
    ignored_on_load = (
        *BertModel.ignored_on_load,
        "pooler.dense.weight",
        "pooler.dense.bias",
        "cls.seq_relationship.weight",
        "cls.seq_relationship.bias",
    )

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.init_weights()
        self.tie_weights()

    def init_weights(self) -> None:
        """HF's, and the output bias ``cls.predictions.bias`` zero."""
        super().init_weights()
        init.zeros_(self.cls.predictions.bias)

    @classmethod
    def from_hf_state(cls, state: dict[str, Any], config: LLMConfig) -> dict[str, Any]:
        return match_base_prefix(_hf_state_names(state), "bert", is_base=False)

    def forward(
        self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None, position_ids: Any = None
    ) -> Any:
        return self.cls(self.bert(input_ids, attention_mask, token_type_ids, position_ids).last_hidden_state)

    def loss(
        self,
        input_ids: Any,
        labels: Any,
        attention_mask: Any = None,
        token_type_ids: Any = None,
        position_ids: Any = None,
    ) -> Any:
        """HF's masked-LM loss: cross-entropy of every position against ``labels [B, S]`` (not shifted;
        ``-100`` marks the unmasked tokens, ignored), the mean over the counted ones. A scalar."""
        logits = self(input_ids, attention_mask, token_type_ids, position_ids)
        targets = _host_ids(labels).reshape(-1)
        vocab = logits.shape[-1]
        return F.cross_entropy(logits.reshape(-1, vocab), axon_tensor.tensor(targets, device=logits.device))

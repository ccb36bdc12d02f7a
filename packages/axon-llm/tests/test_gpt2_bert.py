"""GPT-2 and BERT: configs as HF names them (aliases, labels, config.json), the HF state mapping,
typed errors, and both forwards against float64 NumPy written here from the papers' equations."""

from __future__ import annotations

import math

import numpy as np
import pytest

import axon_tensor
from axon_autograd import no_grad
from axon_llm import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LLMError,
)
from axon_llm.models._base_prefix import match_base_prefix

GPT2_TINY = dict(vocab_size=50, n_positions=16, n_embd=16, n_layer=2, n_head=2, bos_token_id=None, eos_token_id=None)
BERT_TINY = dict(
    vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24
) | dict(max_position_embeddings=16, type_vocab_size=2)


def weights(model):
    return {name: value.numpy().astype(np.float64) for name, value in model.state_dict().items()}


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_erf(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def attention(q, k, v, keep):
    """q/k/v ``[B, S, H, D]``, keep bool broadcastable to ``[B, 1, S, S]``."""
    scores = np.einsum("bshd,bthd->bhst", q, k) / math.sqrt(q.shape[-1])
    scores = np.where(keep, scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return np.einsum("bhst,bthd->bshd", probs, v).reshape(q.shape[0], q.shape[1], -1)


def numpy_gpt2(w, config, ids):
    heads, seq = config.n_head, ids.shape[1]
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][np.arange(seq)]
    causal = np.tril(np.ones((seq, seq), dtype=bool))
    for i in range(config.n_layer):
        p = f"transformer.h.{i}."
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], config.layer_norm_epsilon)
        qkv = h @ w[p + "attn.c_attn.weight"].T + w[p + "attn.c_attn.bias"]
        q, k, v = (part.reshape(*ids.shape, heads, -1) for part in np.split(qkv, 3, axis=-1))
        x = x + attention(q, k, v, causal) @ w[p + "attn.c_proj.weight"].T + w[p + "attn.c_proj.bias"]
        h = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], config.layer_norm_epsilon)
        h = gelu_tanh(h @ w[p + "mlp.c_fc.weight"].T + w[p + "mlp.c_fc.bias"])
        x = x + h @ w[p + "mlp.c_proj.weight"].T + w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], config.layer_norm_epsilon)
    return x @ w["transformer.wte.weight"].T


def numpy_bert(w, config, ids, mask, types):
    eps, heads = config.layer_norm_eps, config.num_attention_heads
    x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][types]
    x = x + w["embeddings.position_embeddings.weight"][np.arange(ids.shape[1])]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
    keep = mask.astype(bool)[:, None, None, :]
    for i in range(config.num_hidden_layers):
        p = f"encoder.layer.{i}."

        def dense(h, name, p=p):
            return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        q, k, v = (dense(x, f"attention.self.{n}").reshape(*ids.shape, heads, -1) for n in ("query", "key", "value"))
        attended = dense(attention(q, k, v, keep), "attention.output.dense") + x
        x = layer_norm(
            attended, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps
        )
        out = dense(gelu_erf(dense(x, "intermediate.dense")), "output.dense") + x
        x = layer_norm(out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
    pooled = np.tanh(x[:, 0] @ w["pooler.dense.weight"].T + w["pooler.dense.bias"])
    return x, pooled


# -- configs ---------------------------------------------------------------------------------------


def test_gpt2_config_aliases_follow_hf_attribute_map():
    config = GPT2Config(hidden_size=64, n_head=4, num_hidden_layers=3)
    assert (config.n_embd, config.n_layer, config.n_positions) == (64, 3, 1024)
    assert (config.hidden_size, config.num_attention_heads, config.max_position_embeddings) == (64, 4, 1024)
    config.n_layer = 5
    assert config.num_hidden_layers == 5
    config.hidden_size = 128
    assert config.n_embd == 128
    changed = config.replace(n_embd=96)
    assert (changed.hidden_size, changed.n_embd, changed.n_layer) == (96, 96, 5)
    values = config.to_dict()
    assert "hidden_size" not in values and values["n_embd"] == 128 and values["model_type"] == "gpt2"
    assert GPT2Config.from_dict(values) == config
    assert GPT2Config.from_dict({"hidden_size": 32, "n_head": 2}).n_embd == 32
    assert GPT2Config().inner_size == 4 * 768 and GPT2Config(n_inner=100).inner_size == 100


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(n_embd=30, n_head=4), "multiple of n_head"),
        (dict(add_cross_attention=True), "add_cross_attention"),
        (dict(activation_function="swiglu"), "not supported"),
    ],
)
def test_gpt2_config_refuses_what_it_cannot_build(changes, message):
    with pytest.raises(LLMError, match=message):
        GPT2Config(**changes)


def test_bert_config_labels_as_hf():
    assert BertConfig().num_labels == 2 and BertConfig().id2label == {0: "LABEL_0", 1: "LABEL_1"}
    config = BertConfig(num_labels=3)
    assert config.label2id == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}
    values = config.to_dict()
    assert "num_labels" not in values and values["id2label"] == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    loaded = BertConfig.from_dict(values)
    assert loaded.num_labels == 3 and loaded.id2label == config.id2label
    assert config.replace(num_labels=5).num_labels == 5
    named = BertConfig(id2label={"0": "neg", "1": "pos"})
    assert named.num_labels == 2 and named.label2id == {"neg": 0, "pos": 1}
    with pytest.raises(LLMError, match="disagrees"):
        BertConfig(num_labels=3, id2label={0: "a"})


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(position_embedding_type="relative_key"), "position_embedding_type"),
        (dict(is_decoder=True), "decoder"),
        (dict(problem_type="ranking"), "problem_type"),
        (dict(hidden_size=30, num_attention_heads=4), "multiple"),
    ],
)
def test_bert_config_refuses_what_it_cannot_build(changes, message):
    with pytest.raises(LLMError, match=message):
        BertConfig(**changes)


# -- the HF state mapping --------------------------------------------------------------------------


def test_gpt2_hf_state_holds_conv1d_weights_in_out_and_maps_back():
    model = GPT2LMHeadModel(GPT2Config(**GPT2_TINY))
    own = model.state_dict()
    hf = model.to_hf_state(dict(own))
    assert tuple(hf["transformer.h.0.attn.c_attn.weight"].shape) == (16, 48)  # Conv1D [in, out]
    assert tuple(hf["transformer.h.1.mlp.c_proj.weight"].shape) == (64, 16)
    assert tuple(hf["transformer.wte.weight"].shape) == (50, 16)
    back = GPT2LMHeadModel.from_hf_state(hf, model.config)
    for name, value in own.items():
        np.testing.assert_array_equal(back[name].numpy(), value.numpy())
    # A base model's file (no ``transformer.`` prefix) maps onto the head model's names.
    bare = {name.removeprefix("transformer."): value for name, value in hf.items() if name.startswith("transformer.")}
    assert set(GPT2LMHeadModel.from_hf_state(bare, model.config)) == set(own) - {"lm_head.weight"}


def test_base_prefix_is_stripped_for_a_base_model_and_added_for_a_head():
    head_state = {"bert.encoder.x": 1, "cls.predictions.bias": 2}
    assert match_base_prefix(head_state, "bert", is_base=True) == {"encoder.x": 1}
    assert match_base_prefix({"encoder.x": 1}, "bert", is_base=False) == {"bert.encoder.x": 1}
    assert match_base_prefix(head_state, "bert", is_base=False) is head_state


# -- forwards against NumPy ------------------------------------------------------------------------


def test_gpt2_logits_and_cached_decoding_equal_numpy():
    model = GPT2LMHeadModel(GPT2Config(**GPT2_TINY)).eval()
    ids = np.random.default_rng(0).integers(0, 50, (2, 7))
    expected = numpy_gpt2(weights(model), model.config, ids)
    with no_grad():
        logits = model(axon_tensor.tensor(ids)).numpy()
        cache = model.new_cache(2, 7)
        steps = [model(axon_tensor.tensor(ids[:, :4]), cache=cache).numpy()]
        steps += [model(axon_tensor.tensor(ids[:, t : t + 1]), cache=cache).numpy() for t in range(4, 7)]
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), expected, atol=1e-5)


def test_bert_outputs_and_heads_equal_numpy():
    rng = np.random.default_rng(1)
    ids, types = rng.integers(1, 40, (2, 6)), rng.integers(0, 2, (2, 6))
    mask = np.ones_like(ids)
    mask[1, 4:] = 0
    model = BertModel(BertConfig(**BERT_TINY)).eval()
    hidden, pooled = numpy_bert(weights(model), model.config, ids, mask, types)
    with no_grad():
        out = model(axon_tensor.tensor(ids), axon_tensor.tensor(mask), axon_tensor.tensor(types))
    np.testing.assert_allclose(out.last_hidden_state.numpy(), hidden, atol=1e-5)
    np.testing.assert_allclose(out.pooler_output.numpy(), pooled, atol=1e-5)

    masked_lm = BertForMaskedLM(BertConfig(**BERT_TINY)).eval()
    w = weights(masked_lm)
    base = {name.removeprefix("bert."): value for name, value in w.items()} | {
        "pooler.dense.weight": np.eye(16),
        "pooler.dense.bias": np.zeros(16),
    }
    hidden, _ = numpy_bert(base, masked_lm.config, ids, mask, types)
    t = hidden @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"]
    t = layer_norm(
        gelu_erf(t),
        w["cls.predictions.transform.LayerNorm.weight"],
        w["cls.predictions.transform.LayerNorm.bias"],
        1e-12,
    )
    expected = t @ w["bert.embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
    with no_grad():
        logits = masked_lm(axon_tensor.tensor(ids), axon_tensor.tensor(mask), axon_tensor.tensor(types)).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-5)


# -- typed errors ----------------------------------------------------------------------------------


def test_positions_and_token_types_out_of_range_are_typed_errors():
    gpt2 = GPT2LMHeadModel(GPT2Config(**GPT2_TINY))
    with pytest.raises(LLMError, match="n_positions 16"):
        gpt2(axon_tensor.tensor(np.zeros((1, 17), dtype=np.int64)))
    bert = BertForSequenceClassification(BertConfig(**BERT_TINY))
    ids = axon_tensor.tensor(np.ones((1, 4), dtype=np.int64))
    with pytest.raises(LLMError, match="type_vocab_size 2"):
        bert(ids, token_type_ids=axon_tensor.tensor(np.full((1, 4), 2)))
    with pytest.raises(LLMError, match="max_position_embeddings 16"):
        bert(axon_tensor.tensor(np.ones((1, 17), dtype=np.int64)))
    with pytest.raises(LLMError, match="do not match"):
        bert(ids, token_type_ids=axon_tensor.tensor(np.zeros((1, 3), dtype=np.int64)))

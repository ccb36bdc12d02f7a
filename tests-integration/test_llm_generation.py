"""axon-llm generation against transformers 5.23: the logits processors on the same random scores
(bit for bit), stop strings and streamers on a trained byte-level BPE tokenizer, and ``generate`` on a
tiny random LlamaForCausalLM saved with ``save_pretrained`` and loaded with ``axon_llm.from_pretrained``:
greedy, beam search, left-padded batches, repetition penalty, no-repeat n-grams, eos handling, scores,
stop strings and the distribution of sampled tokens (chi-square against transformers' warpers)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from transformers.generation import logits_process as hf_lp  # noqa: E402
from transformers.generation import stopping_criteria as hf_sc  # noqa: E402

import axon_llm  # noqa: E402
import axon_tensor  # noqa: E402
from axon_llm import generation as ours  # noqa: E402
from axon_llm.tokenization import PretrainedTokenizer  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.torch]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # The models are tiny: torch's thread pool only spins against the other processes on the machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


CORPUS = [
    "The quick brown fox jumps over the lazy dog. Stop here, stop there, stopping everywhere.",
    "Généralement, les élèves préfèrent le café. Ça va? Très bien, merci!",
    "東京は日本の首都です。大阪と京都も有名です。",
    "Emoji: 🎉 🚀 ✓ — and some math: ∑ x² ≤ ∞.",
    "def main():\n    print('hello world')\n    return 0\n",
] * 3


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A trained byte-level BPE tokenizer and a tiny random LLaMA over its vocabulary, in one HF folder."""
    root = tmp_path_factory.mktemp("llm_generation")
    engine = tokenizers.Tokenizer(tokenizers.models.BPE())
    engine.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    engine.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    engine.train_from_iterator(CORPUS, trainer=trainer)
    engine.save(str(root / "tokenizer.json"))
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=engine.get_vocab_size(),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=0,
        eos_token_id=0,
        attn_implementation="eager",
    )
    transformers.LlamaForCausalLM(config).eval().save_pretrained(root)
    return root


@pytest.fixture(scope="module")
def models(folder):
    hf = transformers.LlamaForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    return hf, axon_llm.from_pretrained(folder)


@pytest.fixture(scope="module")
def tokenizer_pair(folder):
    hf = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    return hf, PretrainedTokenizer.from_pretrained(folder)


# -- logits processors: one row per case, the same random ids and scores through both ------------------

PROCESSOR_CASES = [
    (
        "repetition 1.3",
        lambda: ours.RepetitionPenaltyLogitsProcessor(1.3),
        lambda: hf_lp.RepetitionPenaltyLogitsProcessor(1.3),
    ),  # noqa: E501
    (
        "repetition 0.8",
        lambda: ours.RepetitionPenaltyLogitsProcessor(0.8),
        lambda: hf_lp.RepetitionPenaltyLogitsProcessor(0.8),
    ),  # noqa: E501
    (
        "repetition ignore rows",
        lambda: ours.RepetitionPenaltyLogitsProcessor(1.7, prompt_ignore_length=[0, 3, 9, 1, 20, 5]),
        lambda: hf_lp.RepetitionPenaltyLogitsProcessor(1.7, prompt_ignore_length=torch.tensor([0, 3, 9, 1, 20, 5])),
    ),
    (
        "repetition ignore int",
        lambda: ours.RepetitionPenaltyLogitsProcessor(1.2, prompt_ignore_length=4),
        lambda: hf_lp.RepetitionPenaltyLogitsProcessor(1.2, prompt_ignore_length=4),
    ),
    ("no-repeat 1", lambda: ours.NoRepeatNGramLogitsProcessor(1), lambda: hf_lp.NoRepeatNGramLogitsProcessor(1)),
    ("no-repeat 2", lambda: ours.NoRepeatNGramLogitsProcessor(2), lambda: hf_lp.NoRepeatNGramLogitsProcessor(2)),
    ("no-repeat 3", lambda: ours.NoRepeatNGramLogitsProcessor(3), lambda: hf_lp.NoRepeatNGramLogitsProcessor(3)),
    ("no-repeat 5", lambda: ours.NoRepeatNGramLogitsProcessor(5), lambda: hf_lp.NoRepeatNGramLogitsProcessor(5)),
    (
        "min new tokens, before",
        lambda: ours.MinNewTokensLengthLogitsProcessor(10, 15, [3, 7]),
        lambda: hf_lp.MinNewTokensLengthLogitsProcessor(10, 15, [3, 7]),
    ),
    (
        "min new tokens, after",
        lambda: ours.MinNewTokensLengthLogitsProcessor(10, 14, 3),
        lambda: hf_lp.MinNewTokensLengthLogitsProcessor(10, 14, 3),
    ),
    ("min length", lambda: ours.MinLengthLogitsProcessor(25, 2), lambda: hf_lp.MinLengthLogitsProcessor(25, 2)),
    ("temperature 0.7", lambda: ours.TemperatureLogitsWarper(0.7), lambda: hf_lp.TemperatureLogitsWarper(0.7)),
    ("temperature 1.9", lambda: ours.TemperatureLogitsWarper(1.9), lambda: hf_lp.TemperatureLogitsWarper(1.9)),
    ("top-k 1", lambda: ours.TopKLogitsWarper(1), lambda: hf_lp.TopKLogitsWarper(1)),
    ("top-k 10", lambda: ours.TopKLogitsWarper(10), lambda: hf_lp.TopKLogitsWarper(10)),
    (
        "top-k keep 20",
        lambda: ours.TopKLogitsWarper(5, min_tokens_to_keep=20),
        lambda: hf_lp.TopKLogitsWarper(5, min_tokens_to_keep=20),
    ),
    ("top-k > vocab", lambda: ours.TopKLogitsWarper(500), lambda: hf_lp.TopKLogitsWarper(500)),
    ("top-p 0.9", lambda: ours.TopPLogitsWarper(0.9), lambda: hf_lp.TopPLogitsWarper(0.9)),
    ("top-p 0.5", lambda: ours.TopPLogitsWarper(0.5), lambda: hf_lp.TopPLogitsWarper(0.5)),
    ("top-p 0.01", lambda: ours.TopPLogitsWarper(0.01), lambda: hf_lp.TopPLogitsWarper(0.01)),
    (
        "top-p keep 3",
        lambda: ours.TopPLogitsWarper(0.2, min_tokens_to_keep=3),
        lambda: hf_lp.TopPLogitsWarper(0.2, min_tokens_to_keep=3),
    ),
]


@pytest.mark.parametrize(("name", "make_ours", "make_hf"), PROCESSOR_CASES, ids=[c[0] for c in PROCESSOR_CASES])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_processors_equal_transformers_bit_for_bit(name, make_ours, make_hf, seed):
    rng = np.random.default_rng(seed)
    # Ids from a few tokens so n-grams and repeats occur; a few ids past the vocab (the penalty skips them).
    ids = rng.integers(0, 6, (6, 24))
    ids[:, -1] = ids[:, 5]
    ids[0, 3] = 130
    scores = (rng.standard_normal((6, 128)) * 4).astype(np.float32)
    got = make_ours()(ids, scores)
    expected = make_hf()(torch.tensor(ids), torch.tensor(scores)).numpy()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_processor_chains_equal_transformers():
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 50, (4, 30))
    scores = (rng.standard_normal((4, 50)) * 3).astype(np.float32)
    chain = ours.LogitsProcessorList(
        [ours.RepetitionPenaltyLogitsProcessor(1.4), ours.NoRepeatNGramLogitsProcessor(2)]
        + [ours.TemperatureLogitsWarper(0.6), ours.TopKLogitsWarper(12), ours.TopPLogitsWarper(0.85)]
    )
    hf_chain = hf_lp.LogitsProcessorList(
        [hf_lp.RepetitionPenaltyLogitsProcessor(1.4), hf_lp.NoRepeatNGramLogitsProcessor(2)]
        + [hf_lp.TemperatureLogitsWarper(0.6), hf_lp.TopKLogitsWarper(12), hf_lp.TopPLogitsWarper(0.85)]
    )
    np.testing.assert_array_equal(chain(ids, scores), hf_chain(torch.tensor(ids), torch.tensor(scores)).numpy())


# -- stop strings and streamers on a real byte-level BPE ------------------------------------------------


@pytest.mark.parametrize("stop_strings", [["stop"], [" the", "é"], ["京都", "🎉"], ["\n    ", "?"]])
def test_stop_strings_fire_at_the_same_token_as_transformers(tokenizer_pair, stop_strings):
    hf_tok, our_tok = tokenizer_pair
    hf_criterion = hf_sc.StopStringCriteria(hf_tok, stop_strings)
    criterion = ours.StopStringCriteria(our_tok, stop_strings)
    fired = 0
    for text in CORPUS[:5]:
        ids = hf_tok(text, add_special_tokens=False)["input_ids"]
        for end in range(1, len(ids) + 1):
            row = np.array([ids[:end]])
            expected = bool(hf_criterion(torch.tensor(row), None)[0])
            assert bool(criterion(row)[0]) == expected, (text, end)
            fired += expected
    assert fired > 0


class _HFRecorder(transformers.TextStreamer):
    def on_finalized_text(self, text, stream_end=False):
        self.pieces = getattr(self, "pieces", []) + [text]


class _OurRecorder(ours.TextStreamer):
    def on_finalized_text(self, text, stream_end=False):
        self.pieces = getattr(self, "pieces", []) + [text]


def test_streamer_text_equals_transformers_streamer_and_is_never_later(tokenizer_pair):
    hf_tok, our_tok = tokenizer_pair
    for text in CORPUS[:5]:
        ids = hf_tok(text, add_special_tokens=False)["input_ids"]
        hf_stream, our_stream = _HFRecorder(hf_tok), _OurRecorder(our_tok)
        for token in ids:
            hf_stream.put(torch.tensor([token]))
            our_stream.put(np.array([token]))
            # Whatever transformers has printed so far we have printed too: we emit whole characters
            # as soon as they are complete, it emits whole words.
            assert "".join(our_stream.pieces).startswith("".join(hf_stream.pieces))
            assert "\ufffd" not in "".join(our_stream.pieces)
        hf_stream.end()
        our_stream.end()
        assert "".join(our_stream.pieces) == "".join(hf_stream.pieces) == hf_tok.decode(ids)


# -- generate on a tiny LLaMA ---------------------------------------------------------------------------

PROMPT = np.array([[5, 17, 42, 8, 99, 3, 61]])


def hf_generate(model, ids, mask=None, **kwargs):
    inputs = {"attention_mask": torch.tensor(mask)} if mask is not None else {}
    with torch.no_grad():
        return model.generate(torch.tensor(ids), **inputs, **kwargs)


def frequent_token(sequence: np.ndarray, prompt_len: int) -> int:
    """A token the greedy continuation emits a few steps in: as eos, it ends rows at different lengths."""
    new = sequence[prompt_len:].tolist()
    return max(set(new[3:]), key=new.count)


def test_greedy_32_tokens_equal_transformers(models):
    hf, model = models
    expected = hf_generate(hf, PROMPT, max_new_tokens=32, do_sample=False, eos_token_id=None).numpy()
    got = model.generate(PROMPT, max_new_tokens=32, eos_token_id=None)
    assert isinstance(got, axon_tensor.Tensor)
    np.testing.assert_array_equal(got.numpy(), expected)
    assert expected.shape == (1, PROMPT.shape[1] + 32)


LEFT_PADDED = np.array([[0, 0, 0, 9, 14, 200, 7], [0, 11, 12, 13, 14, 15, 16], [21, 22, 23, 24, 25, 26, 27]])
LEFT_MASK = (np.arange(7)[None, :] >= np.array([[3], [1], [0]])).astype(np.int64)


def test_left_padded_batch_greedy_equals_transformers(models):
    hf, model = models
    expected = hf_generate(hf, LEFT_PADDED, LEFT_MASK, max_new_tokens=20, do_sample=False, eos_token_id=None).numpy()
    got = model.generate(LEFT_PADDED, attention_mask=LEFT_MASK, max_new_tokens=20, eos_token_id=None).numpy()
    np.testing.assert_array_equal(got, expected)


def test_eos_ends_rows_and_pads_them_as_transformers(models):
    hf, model = models
    greedy = hf_generate(hf, LEFT_PADDED, LEFT_MASK, max_new_tokens=24, do_sample=False, eos_token_id=None).numpy()
    eos = frequent_token(greedy[0], 7)
    for pad in (None, 1):
        expected = hf_generate(
            hf, LEFT_PADDED, LEFT_MASK, max_new_tokens=24, do_sample=False, eos_token_id=eos, pad_token_id=pad
        ).numpy()
        got = model.generate(
            LEFT_PADDED, attention_mask=LEFT_MASK, max_new_tokens=24, eos_token_id=eos, pad_token_id=pad
        ).numpy()
        np.testing.assert_array_equal(got, expected)
    assert (expected[:, 7:] == eos).any()


@pytest.mark.parametrize(
    "options",
    [
        {"repetition_penalty": 1.5},
        {"repetition_penalty": 0.7},
        {"no_repeat_ngram_size": 2},
        {"no_repeat_ngram_size": 3},
        {"repetition_penalty": 1.3, "no_repeat_ngram_size": 2},
    ],
)
def test_penalties_greedy_equal_transformers(models, options):
    hf, model = models
    for ids, mask in ((PROMPT, None), (LEFT_PADDED, LEFT_MASK)):
        expected = hf_generate(hf, ids, mask, max_new_tokens=32, do_sample=False, eos_token_id=None, **options)
        got = model.generate(ids, attention_mask=mask, max_new_tokens=32, eos_token_id=None, **options)
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_min_new_tokens_equal_transformers(models):
    hf, model = models
    greedy = hf_generate(hf, PROMPT, max_new_tokens=24, do_sample=False, eos_token_id=None).numpy()
    eos = int(greedy[0, 8])  # the second new token: without min_new_tokens the row would end there
    for min_new in (0, 6):
        options = dict(max_new_tokens=24, eos_token_id=eos, min_new_tokens=min_new)
        expected = hf_generate(hf, PROMPT, do_sample=False, **options).numpy()
        np.testing.assert_array_equal(model.generate(PROMPT, **options).numpy(), expected)


BEAM_OPTIONS = [
    {"length_penalty": 1.0, "early_stopping": False},
    {"length_penalty": 0.6, "early_stopping": True},
    {"length_penalty": 1.8, "early_stopping": "never"},
    {"length_penalty": -0.5, "early_stopping": False},
    {"length_penalty": 1.2, "early_stopping": True, "num_return_sequences": 3},
    {"length_penalty": 1.0, "early_stopping": False, "no_repeat_ngram_size": 2, "repetition_penalty": 1.2},
]


@pytest.mark.parametrize("options", BEAM_OPTIONS)
@pytest.mark.parametrize("with_eos", [False, True])
def test_beam_search_equals_transformers(models, options, with_eos):
    hf, model = models
    eos = None
    if with_eos:
        greedy = hf_generate(hf, PROMPT, max_new_tokens=20, do_sample=False, eos_token_id=None).numpy()
        eos = frequent_token(greedy[0], 7)
    kwargs = dict(num_beams=3, max_new_tokens=20, eos_token_id=eos, **options)
    for ids, mask in ((PROMPT, None), (LEFT_PADDED, LEFT_MASK)):
        expected = hf_generate(
            hf, ids, mask, do_sample=False, output_scores=True, return_dict_in_generate=True, **kwargs
        )
        got = model.generate(ids, attention_mask=mask, output_scores=True, return_dict_in_generate=True, **kwargs)
        np.testing.assert_array_equal(got.sequences.numpy(), expected.sequences.numpy())
        np.testing.assert_allclose(got.sequences_scores, expected.sequences_scores.numpy(), atol=2e-5)
        np.testing.assert_array_equal(got.beam_indices, expected.beam_indices.numpy())


def test_greedy_scores_equal_transformers(models):
    hf, model = models
    kwargs = dict(max_new_tokens=8, eos_token_id=None, repetition_penalty=1.3, output_scores=True)
    expected = hf_generate(hf, PROMPT, do_sample=False, return_dict_in_generate=True, **kwargs)
    got = model.generate(PROMPT, return_dict_in_generate=True, **kwargs)
    assert len(got.scores) == len(expected.scores) == 8
    for ours_step, hf_step in zip(got.scores, expected.scores):
        np.testing.assert_allclose(ours_step, hf_step.numpy(), atol=1e-5)


def test_stop_strings_end_generation_as_transformers(models, tokenizer_pair):
    hf, model = models
    hf_tok, our_tok = tokenizer_pair
    greedy = hf_generate(hf, PROMPT, max_new_tokens=30, do_sample=False, eos_token_id=None).numpy()
    text = hf_tok.decode(greedy[0, 7:])
    stop = text[len(text) // 2 : len(text) // 2 + 2]  # two characters from the middle of the continuation
    kwargs = dict(max_new_tokens=30, stop_strings=stop, eos_token_id=0)
    expected = hf_generate(hf, PROMPT, do_sample=False, tokenizer=hf_tok, **kwargs).numpy()
    got = model.generate(PROMPT, tokenizer=our_tok, **kwargs).numpy()
    np.testing.assert_array_equal(got, expected)
    assert got.shape[1] < 7 + 30


def test_stream_yields_the_generated_text(models, tokenizer_pair):
    _, model = models
    _, our_tok = tokenizer_pair
    ids = model.generate(PROMPT, max_new_tokens=25, eos_token_id=None).numpy()
    pieces = list(model.stream(PROMPT, our_tok, max_new_tokens=25, eos_token_id=None))
    assert "".join(pieces) == our_tok.decode(ids[0, 7:])
    assert not any("\ufffd" in p for p in pieces)


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), [(1.0, 0, 1.0), (0.7, 20, 1.0), (1.2, 50, 0.9)])
def test_sampled_first_tokens_follow_transformers_warpers(models, temperature, top_k, top_p):
    hf, model = models
    draws = 8000
    with torch.no_grad():
        logits = hf(torch.tensor(PROMPT)).logits[:, -1].float()
    warpers = hf_lp.LogitsProcessorList()
    if temperature != 1.0:
        warpers.append(hf_lp.TemperatureLogitsWarper(temperature))
    if top_k:
        warpers.append(hf_lp.TopKLogitsWarper(top_k))
    if top_p < 1.0:
        warpers.append(hf_lp.TopPLogitsWarper(top_p))
    probs = torch.softmax(warpers(torch.tensor(PROMPT), logits).double(), dim=-1)[0].numpy()
    out = model.generate(
        np.repeat(PROMPT, draws, axis=0),
        max_new_tokens=1,
        do_sample=True,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=123,
    )
    counts = np.bincount(out.numpy()[:, -1], minlength=probs.shape[0])
    assert counts[probs == 0].sum() == 0
    # Chi-square over tokens expected at least 5 times (the rest pooled), below the 0.999 quantile.
    expected = probs * draws
    big = expected >= 5
    observed = np.append(counts[big], counts[~big].sum())
    wanted = np.append(expected[big], expected[~big].sum())
    if wanted[-1] < 5:
        observed, wanted = observed[:-1], wanted[:-1]
    statistic = float(((observed - wanted) ** 2 / wanted).sum())
    df = len(wanted) - 1
    threshold = df * (1 - 2 / (9 * df) + 3.090232 * np.sqrt(2 / (9 * df))) ** 3
    assert statistic < threshold, (statistic, threshold)

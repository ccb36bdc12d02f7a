"""axon_llm.tokenization: ids against HF ``tokenizers`` on the same tokenizer.json, the config's
special tokens, per-call padding/truncation, chat-template errors and the sandbox, save/load.
(transformers' own answers are compared in tests-integration/test_llm_tokenization.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tokenizers
from tokenizers import decoders, models, pre_tokenizers, trainers

from axon_llm.errors import LLMError, ModelLoadError
from axon_llm.tokenization import ChatTemplateError, PretrainedTokenizer, load_tokenizer
from axon_text import Tokenizer

CORPUS = ["hello world", "the model writes text", "a cat sat on the mat", "hello there, model!"] * 10
TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _engine(padding: bool = False) -> tokenizers.Tokenizer:
    engine = tokenizers.Tokenizer(models.BPE())
    engine.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    engine.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    engine.train_from_iterator(CORPUS, trainer=trainer)
    if padding:  # as all-MiniLM-L6-v2's tokenizer.json: fixed padding and truncation stored in the file
        engine.enable_padding(pad_id=0, pad_token="<|endoftext|>", length=16)
        engine.enable_truncation(16)
    return engine


@pytest.fixture
def folder(tmp_path):
    _engine(padding=True).save(str(tmp_path / "tokenizer.json"))
    config = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "bos_token": "<bos>", "chat_template": TEMPLATE}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    return tmp_path


def test_ids_match_tokenizers_and_stored_padding_is_not_applied(folder):
    tok = load_tokenizer(folder)
    oracle = _engine()
    text = "hello world, the model writes a long text that is longer than sixteen tokens for sure"
    assert tok.encode(text) == oracle.encode(text).ids
    assert len(tok.encode(text)) > 16
    assert tok.decode(tok.encode(text)) == oracle.decode(oracle.encode(text).ids)


def test_named_special_tokens_from_the_config(folder):
    tok = load_tokenizer(folder)
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == _engine().token_to_id("<|im_end|>")
    appended = _engine().get_vocab_size(with_added_tokens=True)  # "<bos>" is not in the vocabulary: it goes last
    assert tok.bos_token == "<bos>" and tok.bos_token_id == appended
    assert tok.encode("x<bos>y") == [*_engine().encode("x").ids, appended, *_engine().encode("y").ids]
    assert tok.unk_token is None and tok.unk_token_id is None
    assert tok.special_tokens_map == {"bos_token": "<bos>", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
    with pytest.raises(AttributeError):
        tok.no_such_token  # noqa: B018


def test_padding_and_truncation_per_call(folder):
    tok = load_tokenizer(folder)
    oracle = _engine()
    texts = ["hello", "the model writes text"]
    ids = [oracle.encode(t).ids for t in texts]
    out = tok(texts, padding=True, return_tensors="np")
    longest = max(map(len, ids))
    expected = np.array([row + [0] * (longest - len(row)) for row in ids])
    np.testing.assert_array_equal(out["input_ids"], expected)
    np.testing.assert_array_equal(out["attention_mask"], (np.arange(longest) < np.array([[len(r)] for r in ids])))
    assert tok(texts, max_length=2)["input_ids"] == [row[:2] for row in ids]
    assert tok(texts)["input_ids"] == ids  # nothing stays switched on
    with pytest.raises(LLMError, match="equal lengths"):
        tok(texts, return_tensors="np")
    with pytest.raises(LLMError, match="padding must be"):
        tok(texts, padding="sideways")


def test_chat_template_render_and_errors(folder):
    tok = load_tokenizer(folder)
    chat = [{"role": "user", "content": "hi"}]
    text = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tok.apply_chat_template(chat, add_generation_prompt=True, return_dict=False) == tok.encode(
        text, add_special_tokens=False
    )
    with pytest.raises(ChatTemplateError, match="empty conversation"):
        tok.apply_chat_template([])
    with pytest.raises(ChatTemplateError, match="unsafe"):
        tok.apply_chat_template(chat, chat_template="{{ messages.__class__.__mro__ }}", tokenize=False)
    with pytest.raises(ChatTemplateError, match="no way"):
        tok.apply_chat_template(chat, chat_template="{{ raise_exception('no way') }}", tokenize=False)
    with pytest.raises(ChatTemplateError, match="JSON schemas"):
        tok.apply_chat_template(chat, tools=[print], tokenize=False)
    with pytest.raises(ChatTemplateError, match="JSON-like data"):
        tok.apply_chat_template([{"role": "user", "content": object()}], tokenize=False)
    tok.chat_template = None
    with pytest.raises(ChatTemplateError, match="no chat template"):
        tok.apply_chat_template(chat)


def test_bad_folders_are_typed_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="no tokenizer.json") as info:
        load_tokenizer(tmp_path)
    assert str(tmp_path) in str(info.value)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="cannot load tokenizer.json"):
        load_tokenizer(tmp_path)
    _engine().save(str(tmp_path / "tokenizer.json"))
    (tmp_path / "tokenizer_config.json").write_text("[1, 2]")
    with pytest.raises(ModelLoadError, match="JSON object"):
        load_tokenizer(tmp_path)
    with pytest.raises(LLMError, match="not in the tokenizer's vocabulary"):
        PretrainedTokenizer(Tokenizer(_engine()), eos_token="<missing>")
    with pytest.raises(LLMError, match="padding_side"):
        PretrainedTokenizer(Tokenizer(_engine()), padding_side="middle")


def test_save_and_load_round_trip(folder, tmp_path):
    tok = load_tokenizer(folder)
    written = tok.save_pretrained(tmp_path / "saved")
    assert sorted(p.name for p in written) == ["chat_template.jinja", "tokenizer.json", "tokenizer_config.json"]
    again = load_tokenizer(tmp_path / "saved")
    assert again.special_tokens_map == tok.special_tokens_map
    for text in CORPUS[:4] + ["x<bos>y <|im_end|>"]:
        assert again.encode(text) == tok.encode(text)
    chat = [{"role": "user", "content": "hello"}]
    assert again.apply_chat_template(chat, tokenize=False) == tok.apply_chat_template(chat, tokenize=False)


def test_a_hostile_tokenizer_json_is_refused_before_the_engine(tmp_path):
    # Fixed padding of 2**31 aborts the tokenizers engine at the first encode; axon-text refuses it at load.
    hostile = {
        "version": "1.0",
        "truncation": None,
        "padding": {
            "strategy": {"Fixed": 2**31},
            "direction": "Right",
            "pad_to_multiple_of": None,
            "pad_id": 0,
            "pad_type_id": 0,
            "pad_token": "[PAD]",
        },
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": {"[PAD]": 0, "a": 1}, "unk_token": "[PAD]"},
    }
    (tmp_path / "tokenizer.json").write_text(json.dumps(hostile))
    with pytest.raises(ModelLoadError, match="padding"):
        PretrainedTokenizer.from_pretrained(tmp_path)

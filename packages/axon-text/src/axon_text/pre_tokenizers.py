"""Pre-tokenizers (how text is cut before the model sees it), each with the decoder that undoes it."""

from __future__ import annotations

from typing import Literal

from tokenizers import Regex, decoders, pre_tokenizers

__all__ = ["syllable_pre_tokenizer", "pre_tokenizer_and_decoder", "PreTokenizerName"]

PreTokenizerName = Literal["whitespace", "punctuation", "syllable", "chars", "metaspace", "bytes"]

HyphenBehavior = Literal["isolated", "merged_with_previous", "merged_with_next", "removed"]


def syllable_pre_tokenizer(hyphen: HyphenBehavior = "isolated") -> pre_tokenizers.PreTokenizer:
    """Split syllable-segmented words on hyphens: ``ma-nu-ba-lum-a-sur`` → ``▁ma - nu - ba - lum - a - sur``.

    Words are first split on spaces with Metaspace (a word starts with ``▁``, so decoding restores
    spaces exactly), then on ``-``. ``hyphen`` says what becomes of each hyphen: its own token
    (``isolated``, the default, lossless), glued to the syllable before or after, or dropped.
    """
    if hyphen not in ("isolated", "merged_with_previous", "merged_with_next", "removed"):
        raise ValueError(f"syllable_pre_tokenizer: unknown hyphen behaviour {hyphen!r}")
    return pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Split("-", behavior=hyphen)])


def pre_tokenizer_and_decoder(name: PreTokenizerName) -> tuple[pre_tokenizers.PreTokenizer, decoders.Decoder | None]:
    """``whitespace``: split on whitespace; ``punctuation``: words and punctuation runs apart;
    ``syllable``: :func:`syllable_pre_tokenizer`; ``chars``: every code point alone;
    ``metaspace``: spaces kept as ``▁``; ``bytes``: GPT-2 byte-level.
    A ``None`` decoder means tokens are joined with single spaces."""
    if name == "whitespace":
        return pre_tokenizers.WhitespaceSplit(), None
    if name == "punctuation":
        return pre_tokenizers.Whitespace(), None
    if name == "syllable":
        return syllable_pre_tokenizer(), decoders.Metaspace()
    if name == "chars":
        # [\s\S], not '.', so that every newline is a token of its own.
        return pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated"), decoders.Fuse()
    if name == "metaspace":
        return pre_tokenizers.Metaspace(), decoders.Metaspace()
    if name == "bytes":
        return pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    raise ValueError(
        f"unknown pre-tokenizer {name!r}; expected one of whitespace, punctuation, syllable, chars, metaspace, bytes"
    )

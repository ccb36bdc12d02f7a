"""llama.cpp's BPE pre-tokenizers: which regexes split the text, chosen by ``tokenizer.ggml.pre``.

A pre-tokenizer is a list of regexes applied in turn (``unicode_regex_split`` in llama.cpp's
``unicode.cpp``): each one splits every piece the previous ones left into its matches and the gaps
between them, and a lookahead never sees past the end of its piece. llama.cpp runs a ``\\p{..}``
regex on a "collapsed" copy of the text in which every non-ASCII code point is a stand-in byte of
its class; the patterns here are translated the same way, so a class means exactly what it means
to llama.cpp (its hand-written GPT-2, LLaMA-3 and Qwen2 splitters are these regexes too).
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from ._unicode import COLLAPSED_CLASS, collapse, collapse_whitespace

__all__ = ["PRE_TOKENIZERS", "PreTokenizer", "pre_tokenizer"]

_CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
_LLAMA3 = _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_QWEN2 = _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_BLOOM = r" ?[^(\s|.,!?…。，、।۔،)]+"
_CASED_WORDS = (  # GPT-4o style: an optional upper-case run, then lower-case letters (llama.cpp's lookaheads)
    r"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+<C>"
    r"|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*<C>"
)

# llama.cpp's llm_tokenizer_bpe: the regexes of each pre-tokenizer type.
_REGEXES: dict[str, tuple[str, ...]] = {
    "default": (r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", "[0-9][0-9][0-9]"),
    "gpt2": (_GPT2,),
    "llama3": (_LLAMA3,),
    "qwen2": (_QWEN2,),
    "qwen35": (
        _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+"
        r"|\s+(?!\S)|\s+",
    ),
    "starcoder": (r"\p{N}", _GPT2),
    "falcon": (r"[\p{P}\$\+<=>\^~\|`]+", _GPT2, "[0-9][0-9][0-9]"),
    "jais2": (
        _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
        r"|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)"
        r"|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}",
    ),
    "deepseek-llm": (
        "[\r\n]",
        (  # escaped: these letters must not be NFC-normalised (U+1FDB is not U+038A)
            "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
            "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
            "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-"
            "\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d"
            "\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-"
            "\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113"
            "\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149"
            "\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b"
            "\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-"
            "\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0"
            "-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+"
        ),
        "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
        "\\s+$",
        "[一-龥ࠀ-一가-퟿]+",
        r"\p{N}+",
    ),
    "deepseek3": (
        r"\p{N}{1,3}",
        "[一-龥぀-ゟ゠-ヿ]+",
        (
            r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+"
            r"| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
        ),
    ),
    "spark2_5": (
        r"\p{N}{1,3}",
        "[一-龥぀-ゟ゠-ヿ]+",
        (
            r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+"
            r"|[\r\n]|\s+(?!\S)|\s+"
        ),
        r"\p{N}",
    ),
    "youtu": (
        "[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+" + _CONTRACTIONS + "?"
        r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*" + _CONTRACTIONS + "?"
        r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ),
    "granite-emb-multi": (
        r"[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+" + _CONTRACTIONS + "?"
        r"|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*" + _CONTRACTIONS + "?"
        r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ),
    "deepseek-coder": ("[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", "[一-龥ࠀ-一가-퟿]+", r"\p{N}"),
    "bloom": (_BLOOM,),
    "viking": (_BLOOM, r"\p{N}"),
    "tekken": (_CASED_WORDS.replace("<C>", "") + r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",),
    "gpt4o": (
        _CASED_WORDS.replace("<C>", _CONTRACTIONS + "?")
        + r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ),
    "chameleon": (
        "<sentinel:[0-9]+>",
        "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
        "([\\t\\n]|    |  )",
        r"\p{N}",
        r"[\p{P}!-/:-@\[-`{-~]",
        _GPT2,
    ),
    "bailingmoe": (
        (
            r"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
            r"|\s*[\r\n]|\s+(?!\S)|\s+"
        ),
    ),
    "seed-coder": (
        _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+",
    ),
    "ufakzeka": (r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",),
    "laguna": ("[^\\n]+|[\\n]+", _QWEN2),
    "exaone-moe": (
        _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?"
        r"|\s*[\r\n]|\s+(?!\S)|\s+",
    ),
    "minicpm5": (
        r"\p{N}{1,3}",
        _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ),
}


@dataclass(frozen=True)
class PreTokenizer:
    """One ``tokenizer.ggml.pre`` value: its regexes and the vocabulary flags llama.cpp sets with it.

    ``add_bos`` is the default before the file's ``tokenizer.ggml.add_bos_token``; ``bos_null``
    drops the default BOS id (llama.cpp does so for ChatGLM).
    """

    name: str
    regexes: tuple[str, ...]
    clean_spaces: bool = True
    ignore_merges: bool = False
    add_bos: bool = False
    bos_null: bool = False


def _table() -> dict[str, PreTokenizer]:
    # llama_vocab::impl::load: (names, regex set, flags) in the order of its if-chain.
    rows: list[tuple[tuple[str, ...], str, dict]] = [
        (("default",), "default", {}),
        (("minicpm5",), "minicpm5", {"ignore_merges": True}),
        (
            ("llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"),
            "llama3",
            {"ignore_merges": True, "add_bos": True},
        ),
        (("deepseek-llm",), "deepseek-llm", {"clean_spaces": False}),
        (("deepseek-coder",), "deepseek-coder", {"clean_spaces": False}),
        (("deepseek-v3", "hunyuan-dense", "hy_v4", "joyai-llm"), "deepseek3", {"clean_spaces": False}),
        (("spark2_5",), "spark2_5", {"clean_spaces": False}),
        (("youtu",), "youtu", {"clean_spaces": False, "ignore_merges": True}),
        (("falcon",), "falcon", {}),
        (
            (
                "mpt",
                "olmo",
                "jais",
                "exaone4",
                "gpt-2",
                "phi-2",
                "jina-es",
                "jina-de",
                "gigachat",
                "jina-v2-es",
                "jina-v2-de",
                "a.x-4.0",
                "mellum",
                "modern-bert",
                "jina-v1-en",
                "jina-v2-code",
                "roberta-bpe",
            ),
            "gpt2",
            {},
        ),
        (("trillion", "granite-docling"), "gpt2", {"clean_spaces": False}),
        (("jais-2",), "jais2", {}),
        (("starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"), "starcoder", {}),
        (("command-r", "smollm"), "starcoder", {"clean_spaces": False}),
        (
            ("qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2"),
            "qwen2",
            {"clean_spaces": False},
        ),
        (("stablelm2", "megrez"), "qwen2", {}),
        (("qwen35",), "qwen35", {"clean_spaces": False}),
        (("dbrx", "smaug-bpe"), "llama3", {}),
        (("poro-chat",), "bloom", {"clean_spaces": False}),
        (("bloom", "gpt3-finnish"), "bloom", {}),
        (("chatglm-bpe",), "llama3", {"bos_null": True}),
        (("glm4", "glm5"), "llama3", {"bos_null": True, "ignore_merges": True}),
        (("viking",), "viking", {"clean_spaces": False}),
        (("tekken",), "tekken", {"clean_spaces": False, "ignore_merges": True, "add_bos": True}),
        (("chameleon",), "chameleon", {"clean_spaces": False, "add_bos": True}),
        (("gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"), "gpt4o", {"clean_spaces": False}),
        (("granite-embed-multi-97m",), "granite-emb-multi", {"clean_spaces": False, "ignore_merges": True}),
        (("bailingmoe", "bailingmoe2", "llada-moe"), "bailingmoe", {"clean_spaces": False}),
        (("seed-coder",), "seed-coder", {"clean_spaces": False}),
        (("ufakzeka",), "ufakzeka", {"clean_spaces": False}),
        (("laguna",), "laguna", {"clean_spaces": False}),
        (("exaone-moe",), "exaone-moe", {}),
    ]
    table: dict[str, PreTokenizer] = {}
    for names, regex_set, flags in rows:
        for name in names:
            assert name not in table, name
            table[name] = PreTokenizer(name, _REGEXES[regex_set], **flags)
    return table


PRE_TOKENIZERS: dict[str, PreTokenizer] = _table()

# The ASCII members of each class in llama.cpp's collapsed regexes (k_ucat_map).
_ASCII_CLASS = {"N": "0-9", "L": "A-Za-z", "P": r"!-#%-*,-/:;?@\[-\]_{}", "M": "", "S": r"$+<->^`|~"}
_PROPERTY = {"N": "N", "L": "L", "P": "P", "M": "M", "S": "S", "Lu": "L", "Ll": "L", "Lt": "L", "Lm": "L", "Lo": "L"}
_SPACE = "\\t\\n\\x0b\\x0c\\r "  # ECMAScript \s on char / classic-locale wchar_t text


def _translate(pattern: str, collapsed: bool) -> str:
    """``pattern`` rewritten for Python's ``regex`` on (collapsed) text with llama.cpp's class meanings."""
    out: list[str] = []
    inside = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt == "p" and pattern.startswith("{", i + 2) and collapsed:
                close = pattern.index("}", i + 3)
                klass = _PROPERTY[pattern[i + 3 : close]]
                body = regex.escape(COLLAPSED_CLASS[klass]) + _ASCII_CLASS[klass]
                out.append(body if inside else f"[{body}]")
                i = close + 1
                continue
            if nxt in "sS" or nxt == "d":
                body = _SPACE if nxt in "sS" else "0-9"
                if inside:
                    if nxt == "S":
                        raise ValueError(f"\\S inside a class is not supported: {pattern!r}")
                    out.append(body)
                else:
                    out.append(f"[^{body}]" if nxt == "S" else f"[{body}]")
                i += 2
                continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not inside:
            inside = True
        elif ch == "]" and inside:
            inside = False
        elif ch == "$" and not inside:
            ch = r"\Z"  # ECMAScript's $ is the end of the input only, Python's also before a final \n
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class _Splitter:
    compiled: regex.Pattern[str]
    collapsed: bool


def _splitters(pre: PreTokenizer) -> tuple[_Splitter, ...]:
    out = []
    for pattern in pre.regexes:
        collapsed = "\\p{" in pattern
        out.append(_Splitter(regex.compile(_translate(pattern, collapsed)), collapsed))
    return tuple(out)


_SPLITTERS: dict[str, tuple[_Splitter, ...]] = {}


def pre_tokenizer(name: str) -> PreTokenizer:
    """The pre-tokenizer llama.cpp uses for ``tokenizer.ggml.pre == name``; KeyError if unknown."""
    return PRE_TOKENIZERS[name]


def split_words(pre: PreTokenizer, text: str) -> list[str]:
    """``text`` cut into the words BPE merges within, as llama.cpp's unicode_regex_split cuts it."""
    splitters = _SPLITTERS.get(pre.name)
    if splitters is None:
        splitters = _SPLITTERS[pre.name] = _splitters(pre)
    pieces = [(0, len(text))]
    views: dict[bool, str] = {}
    for splitter in splitters:
        view = views.get(splitter.collapsed)
        if view is None:
            view = views[splitter.collapsed] = collapse(text) if splitter.collapsed else collapse_whitespace(text)
        finditer = splitter.compiled.finditer
        cut: list[tuple[int, int]] = []
        for start, end in pieces:
            at = start
            for match in finditer(view, start, end):
                m_start, m_end = match.span()
                if m_start > at:
                    cut.append((at, m_start))
                if m_end > m_start:
                    cut.append((m_start, m_end))
                at = m_end
            if at < end:
                cut.append((at, end))
        pieces = cut
    return [text[start:end] for start, end in pieces]

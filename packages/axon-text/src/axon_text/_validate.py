"""Checks a ``tokenizer.json`` before the ``tokenizers`` engine sees it, then builds the engine.

A tokenizer file is code-like input: its numbers size allocations (``"padding": {"strategy":
{"Fixed": 2**31}}`` aborts the process on the first encode), its regexes run over every text, its
``Precompiled`` normalizer is a binary trie the engine indexes without bounds checks, and its
``Replace`` rules and post-processor templates multiply the work per character. Everything here
raises :class:`TokenizerError` naming the file and the field; whatever passes goes to the engine,
whose own errors (a bare ``Exception``, or a ``PanicException`` that ``except Exception`` misses)
are wrapped the same way, the field found by loading each component alone.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import stat
from dataclasses import dataclass
from typing import Any

import numpy as np
import tokenizers

from ._errors import TokenizerError
from ._regex_screen import RegexRefused, screen_regex

__all__ = ["TokenizerLimits", "engine_from_json", "is_engine_error", "read_tokenizer_file"]


@dataclass(frozen=True)
class TokenizerLimits:
    """What a loaded ``tokenizer.json`` may ask for; raise one to load a file that needs more.

    ``max_length``: truncation ``max_length`` and a FixedLength pre-tokenizer's ``length``;
    ``max_padding``: a Fixed padding length and ``pad_to_multiple_of`` (each padded position costs
    about 100 bytes); ``max_template_tokens``: tokens a post-processor adds to one encoding;
    ``max_growth``: how many times the Replace / Precompiled rules of the normalizer (or of the
    decoder) may lengthen a text; ``max_regex_chars``: one pattern's length; ``max_word_chars``: a
    WordPiece model's ``max_input_chars_per_word`` (its work per word is quadratic in it).
    """

    max_file_bytes: int = 256 << 20
    max_length: int = 1 << 20
    max_padding: int = 1 << 16
    max_template_tokens: int = 1024
    max_growth: int = 64
    max_regex_chars: int = 16_384
    max_word_chars: int = 1000
    max_depth: int = 128  # JSON nesting (the engine's serde_json stops at 128 too)


_MAX_TRIE_UNITS = 1 << 20  # a SentencePiece charsmap trie has ~60k units
_STUB_MODEL = {"type": "WordLevel", "vocab": {"<unk>": 0}, "unk_token": "<unk>"}
_SEQUENCE_LISTS = {
    "normalizer": "normalizers",
    "pre_tokenizer": "pretokenizers",
    "post_processor": "processors",
    "decoder": "decoders",
}


def is_engine_error(exc: BaseException) -> bool:
    """An error the engine raised: any ``Exception`` but MemoryError, or a Rust panic (a BaseException)."""
    if isinstance(exc, Exception):
        return not isinstance(exc, MemoryError)
    return type(exc).__name__ == "PanicException"


# -- reading ------------------------------------------------------------------------------------
def read_tokenizer_file(path: str, limits: TokenizerLimits) -> str:
    """The text of a regular file of at most ``limits.max_file_bytes``: a FIFO, a device or a
    directory is refused at once (open does not block), and no read goes past the size."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"Tokenizer.from_file: no tokenizer.json at {path}") from None
    except OSError as exc:
        raise TokenizerError(f"cannot open: {exc.strerror}", path=path) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise TokenizerError("not a regular file (a FIFO, device or directory is not read)", path=path)
        if info.st_size > limits.max_file_bytes:
            raise TokenizerError(f"{info.st_size} bytes, over the limit of {limits.max_file_bytes}", path=path)
        chunks, left = [], info.st_size + 1  # one byte more shows a file that grew while read
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        raise TokenizerError(f"cannot read: {exc.strerror}", path=path) from None
    finally:
        os.close(fd)
    if len(data) > info.st_size:
        raise TokenizerError("the file grew while it was read", path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TokenizerError(f"not UTF-8 (byte offset {exc.start})", path=path) from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate key {duplicate!r} in one object")
    return result


def _parse(text: str, path: str | None) -> dict[str, Any]:
    try:
        doc = json.loads(text, object_pairs_hook=_object)
    except RecursionError:
        raise TokenizerError("JSON nested too deep", path=path) from None
    except ValueError as exc:  # JSONDecodeError, duplicate keys, integers over 4,300 digits
        raise TokenizerError(f"not valid JSON: {exc}", path=path) from None
    if not isinstance(doc, dict):
        raise TokenizerError(f"the top level must be a JSON object, got {type(doc).__name__}", path=path)
    return doc


# -- checks -------------------------------------------------------------------------------------
class _Checker:
    def __init__(self, path: str | None, limits: TokenizerLimits) -> None:
        self.path, self.limits = path, limits

    def refuse(self, field: str, reason: str) -> TokenizerError:
        return TokenizerError(reason, path=self.path, field=field)

    def integer(self, value: Any, field: str, low: int, high: int) -> int:
        if type(value) is not int:
            raise self.refuse(field, f"must be an integer, got {json.dumps(value)[:40]}")
        if not low <= value <= high:
            raise self.refuse(field, f"{value} is outside [{low}, {high}]")
        return value

    def run(self, doc: dict[str, Any]) -> None:
        self.walk(doc)
        self.truncation(doc.get("truncation"))
        self.padding(doc.get("padding"))
        for key in ("normalizer", "decoder"):
            growth = self.growth(doc.get(key), key)
            if growth > self.limits.max_growth:
                limit = self.limits.max_growth
                raise self.refuse(key, f"its Replace/Precompiled rules lengthen text {growth:.0f}x (limit {limit}x)")
        added = self.template_tokens(doc.get("post_processor"), "post_processor")
        if added > self.limits.max_template_tokens:
            limit = self.limits.max_template_tokens
            raise self.refuse("post_processor", f"adds up to {added} tokens to every encoding (limit {limit})")
        model = doc.get("model")
        if isinstance(model, dict) and "max_input_chars_per_word" in model:
            field = "model.max_input_chars_per_word"
            self.integer(model["max_input_chars_per_word"], field, 0, self.limits.max_word_chars)

    def walk(self, doc: dict[str, Any]) -> None:
        """Every regex (``{"Regex": ...}``) screened, every Precompiled trie checked, depth bounded."""
        stack: list[tuple[Any, str, int]] = [(doc, "", 0)]
        while stack:
            node, where, depth = stack.pop()
            if depth > self.limits.max_depth:
                raise self.refuse(where, f"nested over {self.limits.max_depth} deep")
            if isinstance(node, dict):
                if isinstance(node.get("Regex"), str):
                    self.regex(node["Regex"], f"{where}.Regex")
                # by the keys, not the "type": the engine matches an unknown type by its fields
                if "precompiled_charsmap" in node:
                    self.charsmap(node["precompiled_charsmap"], f"{where}.precompiled_charsmap")
                if "length" in node and where.startswith("pre_tokenizer"):
                    self.integer(node["length"], f"{where}.length", 1, self.limits.max_length)
                if isinstance(node.get("prepend"), str) and len(node["prepend"]) > 1024:
                    raise self.refuse(f"{where}.prepend", f"{len(node['prepend'])} characters (limit 1024)")
                for key, value in node.items():
                    if isinstance(value, (dict, list)):
                        stack.append((value, f"{where}.{key}" if where else key, depth + 1))
            else:
                for index, value in enumerate(node):
                    if isinstance(value, (dict, list)):
                        stack.append((value, f"{where}[{index}]", depth + 1))

    def regex(self, pattern: str, field: str) -> int:
        try:
            return screen_regex(pattern, self.limits.max_regex_chars)
        except RegexRefused as exc:
            raise self.refuse(field, f"regex {pattern[:80]!r} refused: {exc}") from None

    def truncation(self, value: Any) -> None:
        if not isinstance(value, dict):
            return
        if "max_length" in value:
            length = self.integer(value["max_length"], "truncation.max_length", 1, self.limits.max_length)
            if "stride" in value:
                # every overflow window is materialised: stride s costs max_length / (max_length - s) copies
                self.integer(value["stride"], "truncation.stride", 0, length // 2)

    def padding(self, value: Any) -> None:
        if not isinstance(value, dict):
            return
        strategy = value.get("strategy")
        if isinstance(strategy, dict) and "Fixed" in strategy:
            self.integer(strategy["Fixed"], "padding.strategy.Fixed", 0, self.limits.max_padding)
        if value.get("pad_to_multiple_of") is not None:
            self.integer(value["pad_to_multiple_of"], "padding.pad_to_multiple_of", 1, self.limits.max_padding)

    def growth(self, node: Any, where: str) -> float:
        """An upper bound on output length / input length for a normalizer or decoder tree, read
        from the fields (an unknown ``type`` does not hide a Replace: the engine matches by fields)."""
        if not isinstance(node, dict):
            return 1.0
        members = _SEQUENCE_LISTS[where.split(".")[0]]
        children = node.get(members)
        if isinstance(children, list):
            total = 1.0
            for index, child in enumerate(children):
                total *= self.growth(child, f"{where}.{members}[{index}]")
                if total > self.limits.max_growth:
                    return total
            return total
        if isinstance(node.get("content"), str) and isinstance(node.get("pattern"), dict):
            content, pattern = len(node["content"]), node["pattern"]
            if isinstance(pattern.get("String"), str):
                shortest = len(pattern["String"])
            elif isinstance(pattern.get("Regex"), str):
                shortest = self.regex(pattern["Regex"], f"{where}.pattern.Regex")
            else:
                return 1.0
            # an empty match can add the content between every two characters
            return float(1 + content) if shortest == 0 else max(1.0, math.ceil(content / shortest))
        if "precompiled_charsmap" in node:
            return float(self.charsmap(node["precompiled_charsmap"], f"{where}.precompiled_charsmap"))
        return 1.0

    def template_tokens(self, node: Any, where: str) -> int:
        """The most tokens the post-processor adds to one encoding (single or pair)."""
        if not isinstance(node, dict):
            return 0
        if isinstance(node.get("processors"), list):
            return sum(self.template_tokens(p, f"{where}.processors[{i}]") for i, p in enumerate(node["processors"]))
        if not isinstance(node.get("special_tokens"), dict):
            return 4 if "sep" in node or "cls" in node else 0
        specials = node["special_tokens"]
        for name, token in specials.items():
            if isinstance(token, dict) and isinstance(token.get("ids"), list) and isinstance(token.get("tokens"), list):
                if len(token["ids"]) != len(token["tokens"]):
                    counts = f"{len(token['ids'])} ids but {len(token['tokens'])} tokens"
                    field = f"{where}.special_tokens.{name}"
                    raise self.refuse(field, f"{counts} (the engine slices one by the other)")
        most = 0
        for template, sequences in (("single", {"A": 1}), ("pair", {"A": 1, "B": 1})):
            pieces = node.get(template)
            if not isinstance(pieces, list):
                continue
            count, seen = 0, {"A": 0, "B": 0}
            for piece in pieces:
                special = piece.get("SpecialToken") if isinstance(piece, dict) else None
                name = special.get("id") if isinstance(special, dict) else None
                token = specials.get(name) if isinstance(name, str) else None
                if isinstance(token, dict) and isinstance(token.get("ids"), list):
                    count += len(token["ids"])
                sequence = piece.get("Sequence") if isinstance(piece, dict) else None
                if isinstance(sequence, dict) and isinstance(sequence.get("id"), str) and sequence["id"] in seen:
                    seen[sequence["id"]] += 1
            for name, times in seen.items():
                if times > sequences.get(name, 0):
                    reason = f"${name} appears {times} times (each copy multiplies the engine's overflow windows)"
                    raise self.refuse(f"{where}.{template}", reason)
            most = max(most, count)
        return most

    def charsmap(self, value: Any, field: str) -> int:
        """Check a SentencePiece ``precompiled_charsmap`` the way the engine will index it; return
        the longest replacement (in characters), a bound on how much it lengthens a text."""
        if not isinstance(value, str):
            raise self.refuse(field, "must be a base64 string")
        try:
            blob = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self.refuse(field, "not valid base64") from None
        if len(blob) < 4:
            raise self.refuse(field, f"{len(blob)} bytes, shorter than its 4-byte header")
        trie_bytes = int.from_bytes(blob[:4], "little")
        units = trie_bytes // 4
        if 4 + 4 * units > len(blob):
            raise self.refuse(field, f"the header announces a {trie_bytes}-byte trie but {len(blob) - 4} bytes follow")
        if units == 0:
            raise self.refuse(field, "the trie is empty (the engine reads its first unit for every character)")
        if units > _MAX_TRIE_UNITS:
            raise self.refuse(field, f"a trie of {units} units (limit {_MAX_TRIE_UNITS})")
        normalized = blob[4 + 4 * units :]
        try:
            normalized.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.refuse(field, f"the replacement strings are not UTF-8 (byte {exc.start})") from None
        array = np.frombuffer(blob, dtype="<u4", count=units, offset=4).astype(np.int64)
        text = np.frombuffer(normalized + b"\0", dtype=np.uint8)
        starts_char = (text & 0xC0) != 0x80
        chars_before = np.concatenate([[0], np.cumsum(starts_char[:-1])])
        nul = np.flatnonzero(text == 0)  # the last entry is the appended terminator
        try:
            return _walk_trie(array, text, starts_char, chars_before, nul)
        except ValueError as exc:
            raise self.refuse(field, str(exc)) from None


def _offset(unit: np.ndarray) -> np.ndarray:
    return (unit >> 10) << ((unit & (1 << 9)) >> 6)


def _walk_trie(
    array: np.ndarray, text: np.ndarray, starts_char: np.ndarray, chars_before: np.ndarray, nul: np.ndarray
) -> int:
    """Visit every node reachable from the root by any byte string, as the engine's lookup would,
    and check each array index and replacement it would take; return the longest replacement."""
    n, size = len(array), len(text) - 1
    labels = np.arange(1, 256, dtype=np.int64)
    visited = np.zeros(n + 256, dtype=bool)
    frontier = np.array([int(_offset(array[:1])[0])], dtype=np.int64)
    longest = 1
    while frontier.size:
        next_bases = []
        for chunk in np.array_split(frontier, max(1, frontier.size // 4096)):
            children = chunk[:, None] ^ labels[None, :]
            if children.max() >= n:
                raise ValueError("a trie node's children lie outside the trie (the engine would index past its end)")
            units = array[children]
            match = (units & ((1 << 31) | 0xFF)) == labels[None, :]
            found, positions = units[match], children[match]
            bases = positions ^ _offset(found)
            leaves = bases[((found >> 8) & 1) == 1]
            if leaves.size:
                if leaves.max() >= n:
                    raise ValueError("a trie leaf's value lies outside the trie")
                values = array[leaves] & ((1 << 31) - 1)
                if values.max() > size:
                    raise ValueError(f"a replacement starts at byte {int(values.max())}, past the {size}-byte strings")
                if not starts_char[values].all():
                    raise ValueError("a replacement starts inside a UTF-8 character")
                ends = nul[np.searchsorted(nul, values)]
                longest = max(longest, int((chars_before[ends] - chars_before[values]).max()))
            next_bases.append(bases)
        bases = np.unique(np.concatenate(next_bases)) if next_bases else np.zeros(0, dtype=np.int64)
        if bases.size and bases.max() >= n + 256:
            raise ValueError("a trie node's children lie outside the trie (the engine would index past its end)")
        bases = bases[~visited[bases]]
        visited[bases] = True
        frontier = bases
    return longest


# -- the engine ---------------------------------------------------------------------------------
def _engine_loads(text: str) -> tokenizers.Tokenizer:
    return tokenizers.Tokenizer.from_str(text)


def _fails_alone(key: str, value: Any) -> bool:
    skeleton: dict[str, Any] = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": None,
        "model": _STUB_MODEL,
    }
    skeleton[key] = value
    try:
        _engine_loads(json.dumps(skeleton))
    except BaseException as exc:
        if not is_engine_error(exc):
            raise
        return True
    return False


def _locate(doc: dict[str, Any]) -> str | None:
    """The field the engine refused: each component loaded alone, then each member of a Sequence."""
    if "model" not in doc:
        return "model"
    if doc.get("version") != "1.0":
        return "version"
    components = ("model", "normalizer", "pre_tokenizer", "post_processor", "decoder", "added_tokens")
    for key in (*components, "truncation", "padding"):
        if key not in doc or not _fails_alone(key, doc[key]):
            continue
        value, members = doc[key], _SEQUENCE_LISTS.get(key)
        if members and isinstance(value, dict) and isinstance(value.get(members), list):
            for index, member in enumerate(value[members]):
                if _fails_alone(key, member):
                    return f"{key}.{members}[{index}]"
        return key
    return None


def engine_from_json(text: str, path: str | None, limits: TokenizerLimits) -> tokenizers.Tokenizer:
    """Parse, check, and build the engine; every failure a :class:`TokenizerError`."""
    doc = _parse(text, path)
    _Checker(path, limits).run(doc)
    try:
        return _engine_loads(text)
    except BaseException as exc:
        if not is_engine_error(exc):
            raise
        message = str(exc).strip() or type(exc).__name__
        field = _locate(doc)
        raise TokenizerError(f"the tokenizers engine refused it: {message}", path=path, field=field) from None

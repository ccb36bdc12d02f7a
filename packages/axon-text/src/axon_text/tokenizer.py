"""The one tokenizer interface, over a Hugging Face ``tokenizers`` engine.

Every axon tokenizer (char, word, BPE, WordPiece, or a ``tokenizer.json`` loaded from disk) is a
:class:`Tokenizer` wrapping a ``tokenizers.Tokenizer``: the engine does normalisation,
pre-tokenisation, the model, post-processing (special-token templates), padding and truncation,
so ids match HF ``tokenizers`` exactly, and ``save`` writes a ``tokenizer.json`` HF can read.

A loaded file is checked first (``_validate``: lengths bounded, regexes screened, the Precompiled
trie walked) and every engine failure, a Rust panic included, becomes a :class:`TokenizerError`.
With truncation set, a long text is encoded by prefixes (see :meth:`Tokenizer._encode_texts`), so
the work follows ``max_length``, not the text's length.
"""

from __future__ import annotations

import operator
import os
import re
from typing import Any, Callable, Sequence, TypeVar

import numpy as np
import tokenizers

from axon_core import DTypeError, ShapeError, atomic_writer
from axon_tensor import Tensor, from_numpy

from ._errors import TokenizerError
from ._validate import TokenizerLimits, engine_from_json, is_engine_error, read_tokenizer_file

__all__ = ["Tokenizer", "SPECIAL_TOKEN_NAMES"]

_T = TypeVar("_T")
_SURROGATE = re.compile("[\ud800-\udfff]")
# With truncation at max_length, a text longer than max(_WINDOW_MIN, _WINDOW_PER_TOKEN * max_length)
# characters is encoded by prefixes of that many characters, doubled until two agree.
_WINDOW_MIN = 4096
_WINDOW_PER_TOKEN = 16

# Names by which a special token's role is recognised in a loaded vocabulary.
SPECIAL_TOKEN_NAMES: dict[str, tuple[str, ...]] = {
    "pad": ("<pad>", "[PAD]", "<|pad|>"),
    "bos": ("<bos>", "<s>", "<|begin_of_text|>", "<|startoftext|>"),
    "eos": ("<eos>", "</s>", "<|end_of_text|>", "<|endoftext|>"),
    "unk": ("<unk>", "[UNK]", "<|unk|>"),
    "cls": ("[CLS]", "<cls>"),
    "sep": ("[SEP]", "<sep>"),
    "mask": ("[MASK]", "<mask>"),
}


class Tokenizer:
    """Text to ids and back: ``encode``, ``encode_batch``, ``decode``, padding, truncation, save/load.

    ``special_tokens`` maps roles (``pad``, ``bos``, ``eos``, ``unk``, ``cls``, ``sep``, ``mask``)
    to token strings; roles not given are recognised by their usual names in the vocabulary.
    """

    def __init__(
        self,
        engine: tokenizers.Tokenizer,
        special_tokens: dict[str, str] | None = None,
        limits: TokenizerLimits | None = None,
        source: str | None = None,
    ) -> None:
        if not isinstance(engine, tokenizers.Tokenizer):
            raise TypeError(f"Tokenizer: expected a tokenizers.Tokenizer engine, got {type(engine).__name__}")
        self.engine = engine
        self.limits = limits or TokenizerLimits()
        self.source = source  # the file it was loaded from, named in errors
        vocab = engine.get_vocab(with_added_tokens=True)
        roles: dict[str, str] = {}
        for role, names in SPECIAL_TOKEN_NAMES.items():
            for name in names:
                if name in vocab:
                    roles[role] = name
                    break
        for role, token in (special_tokens or {}).items():
            if token not in vocab:
                raise KeyError(f"Tokenizer: special token {token!r} for role {role!r} is not in the vocabulary")
            roles[role] = token
        self.special_tokens = roles

    # -- encoding -------------------------------------------------------------------------------
    def encode(self, text: str, pair: str | None = None, add_special_tokens: bool = True) -> list[int]:
        """Ids of ``text`` (and of ``pair``, for pair templates), with the padding/truncation set."""
        self._check_texts([text] if pair is None else [text, pair], "encode")
        if pair is not None:  # pairs are encoded whole (see the README)
            return self._guard(
                "encode", lambda: self.engine.encode(text, pair, add_special_tokens=add_special_tokens), [text, pair]
            ).ids
        return self._encode_texts([text], add_special_tokens)[0].ids

    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[str]:
        """The token strings of ``text``."""
        self._check_texts([text], "tokenize")
        return self._encode_texts([text], add_special_tokens)[0].tokens

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = True) -> list[list[int]]:
        """Ids of every text; padded to a common length when padding is enabled."""
        texts = self._check_texts(texts, "encode_batch", batch=True)
        return [e.ids for e in self._encode_texts(texts, add_special_tokens)]

    def encode_batch_tensors(self, texts: Sequence[str], add_special_tokens: bool = True) -> dict[str, Tensor]:
        """``input_ids`` and ``attention_mask``, both int64 ``[batch, seq]``; needs equal lengths (enable padding)."""
        texts = self._check_texts(texts, "encode_batch_tensors", batch=True)
        encodings = self._encode_texts(texts, add_special_tokens)
        lengths = sorted({len(e.ids) for e in encodings})
        if len(lengths) > 1:
            raise ShapeError(f"encode_batch_tensors: sequences have lengths {lengths}; call enable_padding() first")
        seq = lengths[0] if lengths else 0
        ids = np.array([e.ids for e in encodings], dtype=np.int64).reshape(len(encodings), seq)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64).reshape(len(encodings), seq)
        return {"input_ids": from_numpy(ids), "attention_mask": from_numpy(mask)}

    @staticmethod
    def _check_texts(texts: Sequence[str], what: str, batch: bool = False) -> list[str]:
        if batch and isinstance(texts, str):
            raise TypeError(f"{what}: expected a sequence of str, got one str")
        texts = list(texts)
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{what}: expected str, got {type(text).__name__}" + (f" at {index}" if batch else ""))
            bad = None if text.isascii() else _SURROGATE.search(text)
            if bad is not None:
                at = f"text {index}, " if batch else ""
                raise TokenizerError(
                    f"{what}: {at}character {bad.start()} is a lone surrogate U+{ord(bad.group()):04X}, "
                    "not valid Unicode (was the text decoded with errors='surrogateescape'?)"
                )
        return texts

    def _guard(self, what: str, call: Callable[[], _T], texts: Sequence[str] = ()) -> _T:
        """Run an engine call; its errors and panics become a TokenizerError naming the component."""
        try:
            return call()
        except BaseException as exc:
            if not is_engine_error(exc):
                raise
            message = f"{type(exc).__name__}: {str(exc).strip()}"
        field = self._culprit(texts, message)
        raise TokenizerError(f"{what} failed in the engine: {message}", path=self.source, field=field)

    def _culprit(self, texts: Sequence[str], message: str) -> str | None:
        """Which component fails on ``texts``: each is run alone (on the error path only)."""
        for text in texts:
            normalizer, pre_tokenizer = self.engine.normalizer, self.engine.pre_tokenizer
            try:
                text = normalizer.normalize_str(text) if normalizer is not None else text
            except BaseException as exc:
                if not is_engine_error(exc):
                    raise
                return "normalizer"
            try:
                if pre_tokenizer is not None:
                    pre_tokenizer.pre_tokenize_str(text)
            except BaseException as exc:
                if not is_engine_error(exc):
                    raise
                return "pre_tokenizer"
        lowered = message.lower()
        for word, field in (("truncat", "truncation"), ("padd", "padding"), ("decod", "decoder")):
            if word in lowered:
                return field
        return None

    def _encode_texts(self, texts: list[str], add_special_tokens: bool) -> list[tokenizers.Encoding]:
        """Encodings of single sequences, as the engine's ``encode_batch`` gives them.

        Without truncation the engine encodes each text whole. With truncation at ``max_length``, a
        text longer than the window (``max(4096, 16 * max_length)`` characters) is encoded by a
        prefix of the window (a suffix when truncating on the left), the window doubled until the
        prefix yields more tokens than are kept and two successive windows keep the same tokens at the
        same places; the work follows ``max_length``, not the text. A text the window reaches the end
        of is encoded whole.
        """
        engine = self.engine
        truncation = engine.truncation
        if truncation is None or all(len(t) <= self._window(truncation) for t in texts):
            return self._guard(
                "encode", lambda: engine.encode_batch(texts, add_special_tokens=add_special_tokens), texts
            )
        left = truncation["direction"] == "left"
        out: list[tokenizers.Encoding | None] = [None] * len(texts)
        window = self._window(truncation)

        def cut(index: int, size: int) -> str:
            text = texts[index]
            return text if size >= len(text) else (text[-size:] if left else text[:size])

        def run(indices: list[int], size: int) -> list[tokenizers.Encoding]:
            pieces = [cut(i, size) for i in indices]
            return self._guard(
                "encode", lambda: engine.encode_batch(pieces, add_special_tokens=add_special_tokens), pieces
            )

        pending = list(range(len(texts)))
        previous = dict(zip(pending, run(pending, window)))
        for i in pending:
            if len(texts[i]) <= window:
                out[i] = previous[i]
        pending = [i for i in pending if out[i] is None]
        while pending:
            window *= 2
            for i, encoding in zip(pending, run(pending, window)):
                before = previous[i]
                if len(texts[i]) <= window or (
                    before.overflowing and self._same(before, encoding, texts[i], window, left)
                ):
                    out[i] = encoding
                previous[i] = encoding
            pending = [i for i in pending if out[i] is None]
        encodings = [e for e in out if e is not None]
        padding = engine.padding
        if padding is not None:
            self._guard("encode", lambda: self._repad(encodings, padding), texts[:1])
        return encodings

    @staticmethod
    def _repad(encodings: list[tokenizers.Encoding], padding: dict[str, Any]) -> None:
        """Pad as one ``encode_batch`` would: each engine call padded its own batch, so the pads
        (attention 0) come off and all go to the one length the padding rule gives."""
        direction = padding["direction"]
        for e in encodings:
            mask = e.attention_mask
            pads = 0
            ordered = mask if direction == "left" else mask[::-1]
            while pads < len(ordered) and ordered[pads] == 0:
                pads += 1
            if pads:
                e.truncate(len(mask) - pads, direction=direction)
        target = padding["length"] if padding["length"] is not None else max(len(e.ids) for e in encodings)
        multiple = padding["pad_to_multiple_of"]
        if multiple and target % multiple:
            target += multiple - target % multiple
        for e in encodings:
            e.pad(
                target,
                direction=direction,
                pad_id=padding["pad_id"],
                pad_type_id=padding["pad_type_id"],
                pad_token=padding["pad_token"],
            )

    @staticmethod
    def _window(truncation: dict[str, Any]) -> int:
        return max(_WINDOW_MIN, _WINDOW_PER_TOKEN * int(truncation["max_length"]))

    @staticmethod
    def _same(before: tokenizers.Encoding, after: tokenizers.Encoding, text: str, window: int, left: bool) -> bool:
        """The same kept tokens at the same places of ``text`` from a window and its double."""
        if before.ids != after.ids or before.type_ids != after.type_ids:
            return False
        if not left:
            return before.offsets == after.offsets
        shift_before, shift_after = len(text) - window // 2, len(text) - window
        special = after.special_tokens_mask
        return all(
            flag or (a + shift_before, b + shift_before) == (c + shift_after, d + shift_after)
            for (a, b), (c, d), flag in zip(before.offsets, after.offsets, special)
        )

    # -- decoding -------------------------------------------------------------------------------
    def decode(self, ids: Sequence[int] | Tensor, skip_special_tokens: bool = True) -> str:
        """The text of ``ids`` (a list or a 1-d tensor of integers)."""
        id_list = self._id_list(ids)
        return self._guard("decode", lambda: self.engine.decode(id_list, skip_special_tokens=skip_special_tokens))

    def decode_batch(self, batch: Sequence[Sequence[int]] | Tensor, skip_special_tokens: bool = True) -> list[str]:
        """The texts of a ``[batch, seq]`` list of id lists or tensor."""
        if isinstance(batch, Tensor):
            if batch.ndim != 2:
                raise ShapeError(f"decode_batch: expected a 2-d tensor of ids, got shape {batch.shape}")
            rows = [self._id_list(row) for row in self._integer_array(batch, "decode_batch").tolist()]
        else:
            rows = [self._id_list(r) for r in batch]
        return self._guard("decode", lambda: self.engine.decode_batch(rows, skip_special_tokens=skip_special_tokens))

    @staticmethod
    def _integer_array(ids: Tensor, what: str) -> np.ndarray:
        array = ids.numpy()
        if not np.issubdtype(array.dtype, np.integer):
            raise DTypeError(f"{what}: ids must be integers, got a {array.dtype} tensor")
        return array

    def _id_list(self, ids: Sequence[int] | Tensor) -> list[int]:
        if isinstance(ids, Tensor):
            if ids.ndim != 1:
                raise ShapeError(f"decode: expected a 1-d tensor of ids, got shape {ids.shape}")
            ids = self._integer_array(ids, "decode").tolist()
        if isinstance(ids, (str, bytes)):
            raise TypeError(f"decode: expected a sequence of integer ids, got {type(ids).__name__}")
        out = []
        for index, value in enumerate(ids):
            if isinstance(value, (bool, np.bool_)):
                raise DTypeError(f"decode: id {index} is a bool, not an integer id")
            try:
                out.append(operator.index(value))
            except TypeError:
                raise DTypeError(f"decode: id {index} is {value!r} ({type(value).__name__}), not an integer") from None
        size = self.vocab_size
        bad = [i for i in out if not 0 <= i < size]
        if bad:
            raise TokenizerError(f"decode: ids {bad[:5]} are outside the vocabulary [0, {size})")
        return out

    # -- padding and truncation -----------------------------------------------------------------
    def enable_padding(
        self, length: int | None = None, pad_to_multiple_of: int | None = None, direction: str = "right"
    ) -> None:
        """Pad batches to their longest sequence (or to ``length``) with the ``pad`` token."""
        if "pad" not in self.special_tokens:
            raise ValueError("enable_padding: this tokenizer has no pad token")
        if direction not in ("left", "right"):
            raise ValueError(f"enable_padding: direction must be 'left' or 'right', got {direction!r}")
        limit = self.limits.max_padding
        for name, value, low in (("length", length, 0), ("pad_to_multiple_of", pad_to_multiple_of, 1)):
            if value is not None and not low <= operator.index(value) <= limit:
                raise ValueError(f"enable_padding: {name} must be in [{low}, {limit}] (TokenizerLimits), got {value}")
        pad = self.special_tokens["pad"]
        self.engine.enable_padding(
            direction=direction,
            pad_id=self.token_to_id(pad),
            pad_token=pad,
            length=length,
            pad_to_multiple_of=pad_to_multiple_of,
        )

    def no_padding(self) -> None:
        self.engine.no_padding()

    def enable_truncation(self, max_length: int, stride: int = 0, direction: str = "right") -> None:
        """Cut every sequence (special tokens included) to ``max_length`` ids; ``stride`` (at most
        half of ``max_length``) is the overlap of the overflowing windows the engine computes."""
        if not 0 < operator.index(max_length) <= self.limits.max_length:
            raise ValueError(
                f"enable_truncation: max_length must be in [1, {self.limits.max_length}] (TokenizerLimits), "
                f"got {max_length}"
            )
        if not 0 <= operator.index(stride) <= max_length // 2:
            raise ValueError(f"enable_truncation: stride must be in [0, {max_length // 2}], got {stride}")
        if direction not in ("left", "right"):
            raise ValueError(f"enable_truncation: direction must be 'left' or 'right', got {direction!r}")
        self.engine.enable_truncation(max_length, stride=stride, direction=direction)

    def no_truncation(self) -> None:
        self.engine.no_truncation()

    # -- vocabulary -----------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.engine.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        return self.engine.get_vocab(with_added_tokens=True)

    def token_to_id(self, token: str) -> int | None:
        return self.engine.token_to_id(token)

    def id_to_token(self, id: int) -> str | None:
        """The token of ``id``; None for an id outside the vocabulary."""
        index = operator.index(id)
        return self.engine.id_to_token(index) if 0 <= index < 1 << 32 else None

    def __len__(self) -> int:
        return self.vocab_size

    def __getattr__(self, name: str) -> Any:
        # pad_token / pad_token_id, bos_token / bos_token_id, ... for every known role.
        for role in SPECIAL_TOKEN_NAMES:
            if name == f"{role}_token":
                return self.__dict__["special_tokens"].get(role)
            if name == f"{role}_token_id":
                token = self.__dict__["special_tokens"].get(role)
                return None if token is None else self.engine.token_to_id(token)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a ``tokenizer.json`` (HF format) atomically: a failed save leaves ``path`` as it was."""
        with atomic_writer(path) as handle:
            handle.write(self.engine.to_str(pretty=True).encode("utf-8"))

    def to_str(self) -> str:
        return self.engine.to_str()

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        special_tokens: dict[str, str] | None = None,
        limits: TokenizerLimits | None = None,
    ) -> "Tokenizer":
        """Load a HF ``tokenizer.json`` (ours or any other; a folder means its ``tokenizer.json``).

        The file is checked before the engine sees it (see :class:`TokenizerLimits`); a file that
        is refused, or that the engine cannot load, raises :class:`TokenizerError` naming the field.
        """
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        limits = limits or TokenizerLimits()
        text = read_tokenizer_file(path, limits)
        return cls(engine_from_json(text, path, limits), special_tokens, limits=limits, source=path)

    @classmethod
    def from_str(
        cls, json_text: str, special_tokens: dict[str, str] | None = None, limits: TokenizerLimits | None = None
    ) -> "Tokenizer":
        """Load the text of a ``tokenizer.json``, checked as :meth:`from_file` checks a file."""
        if not isinstance(json_text, str):
            raise TypeError(f"Tokenizer.from_str: expected str, got {type(json_text).__name__}")
        limits = limits or TokenizerLimits()
        if len(json_text) > limits.max_file_bytes:
            raise TokenizerError(f"{len(json_text)} characters, over the limit of {limits.max_file_bytes}")
        return cls(engine_from_json(json_text, None, limits), special_tokens, limits=limits)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, special_tokens={self.special_tokens})"

"""The tokenizer a GGUF file describes: byte-level BPE (``gpt2``) or SentencePiece (``llama``).

Ids equal llama.cpp's ``llama_tokenize`` and text equals its ``llama_detokenize`` /
``llama_token_to_piece`` (checked against llama-cpp-python on the SmolLM2 and Gemma-3 files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._bpe import merge_word
from ._pretokenize import split_words
from ._special import partition
from ._spm import spm_tokenize
from ._unicode import BYTE_TO_UNICODE, UNICODE_TO_BYTE
from ._vocab import BYTE, CONTROL, NORMAL, UNKNOWN, USER_DEFINED, TokenizerError, Vocab, read_vocab

__all__ = ["GGUFTokenizer"]

# bytes.decode("latin-1") then this table: every UTF-8 byte becomes its GPT-2 stand-in character.
_BYTE_ENCODE = {b: ch for b, ch in BYTE_TO_UNICODE.items()}
_WORD_CACHE_LIMIT = 1 << 16
_HIDDEN = CONTROL | UNKNOWN


class GGUFTokenizer:
    """Text to token ids and back, from a GGUF file's ``tokenizer.*`` metadata.

    ``encode`` returns ``list[int]`` ids in ``[0, vocab_size)``; ``token_to_piece`` the UTF-8 bytes of
    one token (a multi-byte character may be split across tokens: see ``IncrementalDetokenizer``).
    """

    def __init__(self, vocab: Vocab, chat_template: str | None = None):
        self._vocab = vocab
        self.chat_template = chat_template
        self._word_cache: dict[str, tuple[int, ...]] = {}
        self._pieces: dict[int, bytes] = {}
        self._byte_tokens: dict[int, int] = {}

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> GGUFTokenizer:
        """Build from a GGUF key/value dict (``tokenizer.ggml.model``, ``.tokens``, ``.merges``, ...);
        GGUFError names the key that is missing or malformed."""
        template = metadata.get("tokenizer.chat_template")
        return cls(read_vocab(metadata), template if isinstance(template, str) else None)

    # -- properties ---------------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self._vocab.tokens)

    @property
    def model(self) -> str:
        """``"gpt2"`` (byte-level BPE) or ``"llama"`` (SentencePiece)."""
        return self._vocab.model

    @property
    def pre(self) -> str | None:
        """The BPE pre-tokenizer's name (``tokenizer.ggml.pre``), None for SentencePiece."""
        return self._vocab.pre.name if self._vocab.pre is not None else None

    @property
    def bos_id(self) -> int | None:
        return self._vocab.special["bos"]

    @property
    def eos_id(self) -> int | None:
        return self._vocab.special["eos"]

    @property
    def eot_id(self) -> int | None:
        """End of turn: ``tokenizer.ggml.eot_token_id``, else the lowest id of a known end-of-turn text."""
        return self._vocab.special["eot"]

    @property
    def eog_ids(self) -> frozenset[int]:
        """Every id that ends generation (EOS, EOT, EOM and llama.cpp's end-of-generation texts)."""
        return self._vocab.eog_ids

    @property
    def add_bos(self) -> bool:
        """Whether ``encode(..., add_special=True)`` starts with BOS (llama.cpp's rule and the file's)."""
        return self._vocab.add_bos

    @property
    def add_eos(self) -> bool:
        return self._vocab.add_eos

    def special_id(self, role: str) -> int | None:
        """The id of ``role`` (``"bos" "eos" "eot" "eom" "unk" "sep" "pad" "mask" "fim_pre"`` ...)."""
        return self._vocab.special[role]

    def is_eog(self, token_id: int) -> bool:
        return token_id in self._vocab.eog_ids

    def token_text(self, token_id: int) -> str:
        """The vocabulary entry of ``token_id`` as stored (GPT-2 stand-ins, ``▁`` for space)."""
        self._check_id(token_id)
        return self._vocab.tokens[token_id]

    def token_id(self, text: str) -> int | None:
        """The id whose vocabulary entry is exactly ``text``, or None."""
        return self._vocab.token_to_id.get(text)

    def is_special(self, token_id: int) -> bool:
        """Control or unknown tokens: not rendered by ``decode`` unless asked."""
        self._check_id(token_id)
        return bool(self._vocab.attrs[token_id] & _HIDDEN)

    # -- encode -------------------------------------------------------------------------------

    def encode(self, text: str, add_special: bool = True, parse_special: bool = False) -> list[int]:
        """Token ids of ``text``, as ``llama_tokenize(text, add_special, parse_special)``.

        ``add_special`` adds BOS/EOS where the vocabulary asks for them; ``parse_special`` lets
        control tokens written in the text (``<|im_start|>``) become their ids.
        """
        if not isinstance(text, str):
            raise TokenizerError(f"encode takes str, got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise TokenizerError(f"text is not encodable as UTF-8 at index {exc.start}: {exc.reason}") from None
        vocab = self._vocab
        pieces = partition(text, vocab, parse_special)
        out: list[int] = []
        if add_special and vocab.add_bos:
            out.append(self._required("bos"))
        if vocab.model == "gpt2":
            for piece in pieces:
                if isinstance(piece, int):
                    out.append(piece)
                else:
                    for word in split_words(vocab.pre, piece):
                        out.extend(self._word_ids(word))
        else:
            self._encode_spm(pieces, out)
        if add_special and vocab.add_eos:
            out.append(self._required("eos"))
        return out

    def _required(self, role: str) -> int:
        token = self._vocab.special[role]
        if token is None:
            raise TokenizerError(f"the vocabulary asks for a {role.upper()} token but has none")
        return token

    def _word_ids(self, word: str) -> tuple[int, ...]:
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        vocab = self._vocab
        encoded = word.encode("utf-8").decode("latin-1").translate(_BYTE_ENCODE)
        whole = vocab.token_to_id.get(encoded) if vocab.pre.ignore_merges else None
        if whole is not None:
            ids: tuple[int, ...] = (whole,)
        else:
            out: list[int] = []
            for symbol in merge_word(encoded, vocab.merges):
                token = vocab.token_to_id.get(symbol)
                if token is not None:
                    out.append(token)
                else:
                    # llama.cpp looks each byte of the symbol up as a one-byte token; only ASCII can be one.
                    out.extend(
                        t
                        for b in symbol.encode("utf-8")
                        if b < 0x80 and (t := vocab.token_to_id.get(chr(b))) is not None
                    )
            ids = tuple(out)
        if len(self._word_cache) >= _WORD_CACHE_LIMIT:
            self._word_cache.clear()
        self._word_cache[word] = ids
        return ids

    def _encode_spm(self, pieces: list[str | int], out: list[int]) -> None:
        vocab = self._vocab
        prev_special = True  # the first raw piece gets the space prefix too
        for piece in pieces:
            if isinstance(piece, int):
                out.append(piece)
                prev_special = True
                continue
            text = (" " + piece) if vocab.add_space_prefix and prev_special else piece
            spm_tokenize(text.replace(" ", "\u2581"), vocab.token_to_id, vocab.scores, self._byte_token, out)
            prev_special = False

    def _byte_token(self, byte: int) -> int:
        token = self._byte_tokens.get(byte)
        if token is None:
            to_id = self._vocab.token_to_id
            token = to_id.get(f"<0x{byte:02X}>")
            if token is None:
                token = to_id.get(chr(byte)) if byte < 0x80 else None
            if token is None:
                raise TokenizerError(f"the vocabulary has no token for byte 0x{byte:02X} (<0x{byte:02X}>)")
            self._byte_tokens[byte] = token
        return token

    # -- decode -------------------------------------------------------------------------------

    def _check_id(self, token_id: int) -> None:
        if not (isinstance(token_id, int) or hasattr(token_id, "__index__")) or isinstance(token_id, bool):
            raise TokenizerError(f"a token id must be an integer, got {token_id!r}")
        if not 0 <= int(token_id) < len(self._vocab.tokens):
            raise TokenizerError(f"token id {token_id} is outside the vocabulary of {len(self._vocab.tokens)}")

    def token_to_piece(self, token_id: int, special: bool = True) -> bytes:
        """The bytes ``token_id`` stands for, as ``llama_token_to_piece(..., lstrip=0, special)``:
        control and unknown tokens give ``b""`` unless ``special``."""
        self._check_id(token_id)
        token_id = int(token_id)
        if not special and self._vocab.attrs[token_id] & _HIDDEN:
            return b""
        piece = self._pieces.get(token_id)
        if piece is None:
            piece = self._pieces[token_id] = self._piece(token_id)
        return piece

    def _piece(self, token_id: int) -> bytes:
        vocab = self._vocab
        attr, text = vocab.attrs[token_id], vocab.tokens[token_id]
        if attr & (_HIDDEN | USER_DEFINED):
            return text.encode("utf-8")
        if attr & NORMAL:
            if vocab.model == "llama":
                return text.replace("\u2581", " ").encode("utf-8")
            return _gpt2_decode(text)
        if attr & BYTE:
            return bytes([int(text[3:5], 16)])
        return b""  # undefined and unused tokens render as nothing

    def detokenize(self, ids: Iterable[int], remove_special: bool = False, unparse_special: bool = False) -> bytes:
        """UTF-8 bytes of ``ids``, as ``llama_detokenize(ids, remove_special, unparse_special)``.

        ``remove_special`` drops a leading BOS / trailing EOS the vocabulary adds; ``unparse_special``
        renders control tokens as their text.
        """
        vocab = self._vocab
        ids = list(ids)
        remove_space = vocab.add_space_prefix
        if remove_special and vocab.add_bos and ids and ids[0] == vocab.special["bos"]:
            remove_space = False
            ids = ids[1:]
        if remove_special and vocab.add_eos and ids and ids[-1] == vocab.special["eos"]:
            ids = ids[:-1]
        out = bytearray()
        for token_id in ids:
            piece = self.token_to_piece(token_id, unparse_special)
            if remove_space and piece.startswith(b" "):
                piece = piece[1:]
            remove_space = False
            out += piece
        if vocab.clean_spaces:
            out = _clean_spaces(out)
        return bytes(out)

    def decode(self, ids: Iterable[int], skip_special: bool = True, remove_special: bool = False) -> str:
        """Text of ``ids``: ``detokenize`` with control tokens hidden when ``skip_special``; bytes that
        are not valid UTF-8 (a character cut off at the end) become U+FFFD."""
        return self.detokenize(ids, remove_special=remove_special, unparse_special=not skip_special).decode(
            "utf-8", errors="replace"
        )

    def __repr__(self) -> str:
        kind = f"gpt2/{self.pre}" if self.model == "gpt2" else "llama (SPM)"
        return f"GGUFTokenizer({kind}, vocab_size={self.vocab_size}, bos={self.bos_id}, eos={self.eos_id})"


def _gpt2_decode(text: str) -> bytes:
    out = bytearray()
    for ch in text:
        byte = UNICODE_TO_BYTE.get(ch)
        if byte is not None:
            out.append(byte)
        else:
            # llama_decode_text's marker for a character outside the byte map, kept for equality.
            out += b"[UNK_BYTE_0x" + ch.encode("utf-8").hex().encode() + text.encode("utf-8") + b"]"
    return bytes(out)


def _clean_spaces(text: bytearray) -> bytearray:
    """llama_detokenize's clean_up_tokenization_spaces passes (BPE vocabularies that ask for them),
    ported in place as written there (the second pass reads the byte it blanked)."""
    buf = bytearray(text)
    # " ?", " !", " .", " ," lose their space.
    n, total = len(buf), min(len(buf), 1)
    for i in range(1, n):
        x = buf[i]
        if buf[i - 1] == 0x20 and x in b"?!.,":
            total -= 1
        buf[total] = x
        total += 1
    # " ' " becomes "'".
    n, total, i = total, min(total, 1), 1
    while i < n:
        x = buf[i]
        if x == 0x27 and i + 1 < n and buf[i - 1] == 0x20 and buf[i + 1] == 0x20:
            total -= 1
            i += 1
            buf[i] = 0
        buf[total] = x
        total += 1
        i += 1
    # " 's", " 'm", " 're", " 've" lose their space (" 't", " 'd", " 'll" keep it).
    n, total = total, min(total, 1)
    for i in range(1, n):
        x = buf[i]
        if buf[i - 1] == 0x20 and x == 0x27 and i + 1 < n:
            x1 = buf[i + 1]
            if x1 in b"sm" or (x1 not in b"td" and i + 2 < n and (x1, buf[i + 2]) in ((0x72, 0x65), (0x76, 0x65))):
                total -= 1
        buf[total] = x
        total += 1
    return buf[:total]

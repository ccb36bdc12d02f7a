"""Cut text at special tokens before it is tokenized, as llama.cpp's ``tokenizer_st_partition``.

Each special token, longest first, is searched in every piece of raw text still left; a match
becomes the token's id and the text on either side new raw pieces. User-defined tokens are always
matched; control and unknown tokens only with ``parse_special``.
"""

from __future__ import annotations

from ._vocab import CONTROL, LSTRIP, RSTRIP, UNKNOWN, Vocab

__all__ = ["partition"]

_ASCII_SPACE = " \t\n\v\f\r"  # C isspace(): what LSTRIP/RSTRIP remove


def partition(text: str, vocab: Vocab, parse_special: bool) -> list[str | int]:
    """``text`` as raw pieces (str) and special token ids (int), in order."""
    pieces: list[str | int] = [text] if text else []
    hidden = CONTROL | UNKNOWN
    for token_id in vocab.special_tokens:
        attr = vocab.attrs[token_id]
        if not parse_special and attr & hidden:
            continue
        special = vocab.tokens[token_id]
        if special not in text:  # then in no piece either: skip the scan
            continue
        cut: list[str | int] = []
        for piece in pieces:
            if isinstance(piece, int) or special not in piece:
                cut.append(piece)
                continue
            start = 0
            while True:
                at = piece.find(special, start)
                if at < 0:
                    break
                left = piece[start:at]
                if attr & LSTRIP:
                    left = left.rstrip(_ASCII_SPACE)
                if left:
                    cut.append(left)
                cut.append(token_id)
                start = at + len(special)
                if attr & RSTRIP:
                    while start < len(piece) and piece[start] in _ASCII_SPACE:
                        start += 1
            if start < len(piece):
                cut.append(piece[start:])
        pieces = cut
    return pieces

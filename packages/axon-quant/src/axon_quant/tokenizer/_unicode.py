"""Code point classes as llama.cpp's pre-tokenizer sees them, and GPT-2's byte-to-unicode map.

llama.cpp classifies a code point by the first letter of its Unicode 15.1 general category
(``unicode-data.cpp``: L letter, N number, P punctuation, M mark, S symbol, Z separator, C other)
and calls the 25 ``White_Space`` code points whitespace. Python 3.11's ``unicodedata`` is Unicode
14.0, so the code points that Unicode 15.0 and 15.1 assigned are added here from the 15.1
``UnicodeData.txt``; without them a CJK Extension H ideograph would split like punctuation.
"""

from __future__ import annotations

import unicodedata

__all__ = ["BYTE_TO_UNICODE", "UNICODE_TO_BYTE", "category_class", "collapse", "collapse_whitespace"]

# Unicode PropList.txt, White_Space.
WHITESPACE = frozenset(
    [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)

# (first, last, category class) of the code points assigned in Unicode 15.0 and 15.1.
_UNICODE_15_ADDITIONS = (
    (0x00CF3, 0x00CF3, "M"),
    (0x00ECE, 0x00ECE, "M"),
    (0x02FFC, 0x02FFF, "S"),
    (0x031EF, 0x031EF, "S"),
    (0x10EFD, 0x10EFF, "M"),
    (0x1123F, 0x11240, "L"),
    (0x11241, 0x11241, "M"),
    (0x11B00, 0x11B09, "P"),
    (0x11F00, 0x11F01, "M"),
    (0x11F02, 0x11F02, "L"),
    (0x11F03, 0x11F03, "M"),
    (0x11F04, 0x11F10, "L"),
    (0x11F12, 0x11F33, "L"),
    (0x11F34, 0x11F3A, "M"),
    (0x11F3E, 0x11F42, "M"),
    (0x11F43, 0x11F4F, "P"),
    (0x11F50, 0x11F59, "N"),
    (0x1342F, 0x1342F, "L"),
    (0x13439, 0x1343F, "C"),
    (0x13440, 0x13440, "M"),
    (0x13441, 0x13446, "L"),
    (0x13447, 0x13455, "M"),
    (0x1B132, 0x1B132, "L"),
    (0x1B155, 0x1B155, "L"),
    (0x1D2C0, 0x1D2D3, "N"),
    (0x1DF25, 0x1DF2A, "L"),
    (0x1E030, 0x1E06D, "L"),
    (0x1E08F, 0x1E08F, "M"),
    (0x1E4D0, 0x1E4EB, "L"),
    (0x1E4EC, 0x1E4EF, "M"),
    (0x1E4F0, 0x1E4F9, "N"),
    (0x1F6DC, 0x1F6DC, "S"),
    (0x1F774, 0x1F776, "S"),
    (0x1F77B, 0x1F77F, "S"),
    (0x1F7D9, 0x1F7D9, "S"),
    (0x1FA75, 0x1FA77, "S"),
    (0x1FA87, 0x1FA88, "S"),
    (0x1FAAD, 0x1FAAF, "S"),
    (0x1FABB, 0x1FABD, "S"),
    (0x1FABF, 0x1FABF, "S"),
    (0x1FACE, 0x1FACF, "S"),
    (0x1FADA, 0x1FADB, "S"),
    (0x1FAE8, 0x1FAE8, "S"),
    (0x1FAF7, 0x1FAF8, "S"),
    (0x2B739, 0x2B739, "L"),
    (0x2EBF0, 0x2EE5D, "L"),
    (0x31350, 0x323AF, "L"),
)
_NEEDS_ADDITIONS = tuple(int(part) for part in unicodedata.unidata_version.split(".")) < (15, 1, 0)


def category_class(cpt: int) -> str:
    """``"L" "N" "P" "M" "S" "Z" "C"`` for code point ``cpt``, or ``"U"`` where it is unassigned."""
    category = unicodedata.category(chr(cpt))
    if category == "Cn":
        if _NEEDS_ADDITIONS:
            for first, last, klass in _UNICODE_15_ADDITIONS:
                if first <= cpt <= last:
                    return klass
        return "U"
    return category[0]


# llama.cpp's "collapsed" text (unicode.cpp, unicode_regex_split): ASCII stays, other whitespace
# becomes \v, every other code point the stand-in byte of its class; a \p{..} regex then runs on it.
COLLAPSED_CLASS = {"N": "\xd1", "L": "\xd2", "P": "\xd3", "M": "\xd4", "S": "\xd5"}
_COLLAPSED_OTHER = "\xd0"


class _CollapseTable(dict):
    """A ``str.translate`` table filled on first sight of each code point."""

    def __init__(self, whitespace_only: bool):
        super().__init__()
        self.whitespace_only = whitespace_only

    def __missing__(self, cpt: int) -> str:
        if cpt < 128:
            out = chr(cpt)
        elif cpt in WHITESPACE:
            out = "\x0b"
        elif self.whitespace_only:
            out = chr(cpt)
        else:
            out = COLLAPSED_CLASS.get(category_class(cpt), _COLLAPSED_OTHER)
        self[cpt] = out
        return out


_COLLAPSE = _CollapseTable(whitespace_only=False)
_COLLAPSE_WHITESPACE = _CollapseTable(whitespace_only=True)


def collapse(text: str) -> str:
    """``text`` with each non-ASCII code point replaced by its class's stand-in (same length)."""
    return text.translate(_COLLAPSE)


def collapse_whitespace(text: str) -> str:
    """``text`` with each non-ASCII whitespace code point replaced by ``\\v`` (same length)."""
    return text.translate(_COLLAPSE_WHITESPACE)


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2's map: printable Latin-1 bytes stand for themselves, the rest take code points 256+.
    keep = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {b: chr(b) for b in keep}
    shifted = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


BYTE_TO_UNICODE: dict[int, str] = _bytes_to_unicode()
UNICODE_TO_BYTE: dict[str, int] = {ch: b for b, ch in BYTE_TO_UNICODE.items()}

"""Strict JSON for untrusted headers and documents.

Python's ``json`` reads some things that no axon writer produces and that would make a loader
misread a file or raise an untyped error: duplicate keys (the last one silently wins), ``NaN`` and
``Infinity`` tokens, integers longer than ``sys.get_int_max_str_digits()`` (a ``ValueError``),
numbers like ``1e999`` that become ``inf`` and ``1e-999`` that become ``0.0``, and nesting deep
enough for a ``RecursionError``. :func:`loads` refuses all of them with a
:class:`SerializationError`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import SerializationError

__all__ = ["loads", "MAX_INT_DIGITS"]

MAX_INT_DIGITS = 4300  # CPython's default int_max_str_digits: no axon writer can print a longer int
# Digits to "0", "E" to "e", "-" to "+": a 200-digit run and a 3-digit exponent become plain substrings.
_NUMBER_SHAPES = bytes.maketrans(b"0123456789E-", b"0000000000e+")


class _Refused(Exception):
    """Raised by the parser hooks; turned into a SerializationError by :func:`loads`."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {key!r} in one object")
            seen.add(key)
    return result


def _int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {digits} digits (the limit is {MAX_INT_DIGITS})")
    try:
        return int(text)
    except ValueError as exc:  # a lower sys.set_int_max_str_digits() than ours
        raise _Refused(f"an integer of {digits} digits ({exc})") from None


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Refused(f"the number {text[:40]} overflows a float64")
    if value == 0.0 and any(c in "123456789" for c in text.lower().partition("e")[0]):
        raise _Refused(f"the number {text[:40]} underflows a float64 to zero")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON (non-finite numbers are written as tagged strings)")


def _needs_number_hooks(data: bytes | str) -> bool:
    shapes = (data.encode("utf-8", "replace") if isinstance(data, str) else bytes(data)).translate(_NUMBER_SHAPES)
    return b"0" * 200 in shapes or b"e000" in shapes or b"e+000" in shapes


def loads(data: bytes | str, where: str) -> Any:
    """The value of the JSON ``data``; ``where`` starts every error message (file, offset, part)."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    except UnicodeDecodeError as exc:
        raise SerializationError(f"{where} is not valid JSON (not UTF-8: {exc})") from exc
    # The number hooks cost a Python call per number. Only text with a 200-digit run or a 3-digit
    # exponent can hold a number they refuse (fewer digits and an exponent under 100 stay within
    # 1e-299..1e299 and far below any int digit limit), so other text is parsed without them.
    hooks = {"parse_int": _int, "parse_float": _float} if _needs_number_hooks(data) else {}
    try:
        return json.loads(text, object_pairs_hook=_unique, parse_constant=_constant, **hooks)
    except _Refused as exc:
        raise SerializationError(f"{where} is not valid: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SerializationError(f"{where} is not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise SerializationError(f"{where} is not valid JSON (nested too deeply)") from exc

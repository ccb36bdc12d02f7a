"""A static screen for the regular expressions a ``tokenizer.json`` hands to the engine.

The engine (Oniguruma, a backtracking matcher) runs a Split pre-tokenizer's or a Replace rule's
pattern over every text. A pattern such as ``(a+)+$`` backtracks exponentially and ``\\s*\\s*[^\\s]``
cubically (2,000 spaces: 21 s); Oniguruma's retry limit turns the first into a panic after about
0.25 s per search but lets the second run. So a pattern is parsed here (Oniguruma's Ruby syntax) and
refused when its shape is one that backtracking cannot match in time linear per start position:

- a loop (``*``, ``+``, ``{n,m}`` with m > 1) whose body is ambiguous (it holds an alternation or a
  variable repetition, or can match empty): exponential;
- two large loops whose characters overlap, with only optional items between them: polynomial;

unless what follows cannot fail (then the first, greedy path succeeds and nothing backtracks; inside
a lookaround everything may be explored, so there it always can fail). Back-references, subexpression
calls, conditionals and absent operators are refused outright; so are counts over 1,000, patterns over
the length limit and groups nested over 64 deep. Whether two character classes overlap is decided on
sample characters (ASCII, Latin-1, several of every Unicode category, and every character the pattern
names); a pattern this screen wrongly accepts still meets Oniguruma's retry limit, which
:class:`~axon_text.Tokenizer` reports as a :class:`~axon_text.TokenizerError`.

Real patterns pass: GPT-2's, Llama 3's, Qwen 2's, GPT-4o's (o200k), DeepSeek's, BLOOM's.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["RegexRefused", "screen_regex"]

MAX_COUNT = 1000  # largest {n,m} bound accepted
MAX_DEPTH = 64  # deepest group nesting accepted
BIG = 16  # a loop that may repeat more than this many times is "large"


class RegexRefused(ValueError):
    """The pattern's shape can make a backtracking matcher run super-linearly (or it cannot be read)."""


# -- character sets -----------------------------------------------------------------------------
_CATEGORY_GROUPS = {
    "l": "Lu Ll Lt Lm Lo",
    "letter": "Lu Ll Lt Lm Lo",
    "m": "Mn Mc Me",
    "mark": "Mn Mc Me",
    "combiningmark": "Mn Mc Me",
    "n": "Nd Nl No",
    "number": "Nd Nl No",
    "p": "Pc Pd Ps Pe Pi Pf Po",
    "punctuation": "Pc Pd Ps Pe Pi Pf Po",
    "punct": "Pc Pd Ps Pe Pi Pf Po",
    "s": "Sm Sc Sk So",
    "symbol": "Sm Sc Sk So",
    "z": "Zs Zl Zp",
    "separator": "Zs Zl Zp",
    "c": "Cc Cf Cs Co Cn",
    "other": "Cc Cf Cs Co Cn",
    "alpha": "Lu Ll Lt Lm Lo Nl",
    "alnum": "Lu Ll Lt Lm Lo Nl Nd",
    "digit": "Nd",
    "decimalnumber": "Nd",
    "upper": "Lu",
    "uppercaseletter": "Lu",
    "lower": "Ll",
    "lowercaseletter": "Ll",
    "cntrl": "Cc",
    "control": "Cc",
    "word": "Lu Ll Lt Lm Lo Mn Mc Me Nd Pc",
}
_ALL_CATEGORIES = "Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co Cn".split()
_WHITE_SPACE = frozenset(
    [*range(9, 14), 32, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)

Member = Callable[[int], "bool | None"]  # True, False, or None: cannot tell (counts as maybe)


def _category_member(names: str) -> Member:
    wanted = frozenset(names.split())
    return lambda c: unicodedata.category(chr(c)) in wanted


def _property(name: str) -> Member:
    key = name.replace(" ", "").replace("_", "").replace("-", "").lower()
    if key in ("any",):
        return lambda c: True
    if key == "ascii":
        return lambda c: c < 128
    if key in ("space", "whitespace"):
        return lambda c: c in _WHITE_SPACE
    if key in ("xdigit", "hexdigit"):
        return lambda c: chr(c) in "0123456789abcdefABCDEF"
    if key in _CATEGORY_GROUPS:
        return _category_member(_CATEGORY_GROUPS[key])
    for category in _ALL_CATEGORIES:
        if key == category.lower():
            return _category_member(category)
    return lambda c: None  # a script or another property this screen does not model


def _negate(member: Member) -> Member:
    def negated(c: int) -> bool | None:
        inside = member(c)
        return None if inside is None else not inside

    return negated


@dataclass
class CharSet:
    """A set of code points, as a membership test plus the code points the pattern named."""

    member: Member
    points: frozenset[int] = frozenset()

    @staticmethod
    def union(parts: list["CharSet"], negated: bool = False) -> "CharSet":
        def member(c: int) -> bool | None:
            verdicts = [p.member(c) for p in parts]
            inside = True if True in verdicts else (None if None in verdicts else False)
            if negated:
                return None if inside is None else not inside
            return inside

        return CharSet(member, frozenset().union(*(p.points for p in parts)))

    @staticmethod
    def intersection(parts: list["CharSet"]) -> "CharSet":
        def member(c: int) -> bool | None:
            verdicts = [p.member(c) for p in parts]
            return False if False in verdicts else (None if None in verdicts else True)

        return CharSet(member, frozenset().union(*(p.points for p in parts)))


ANY = CharSet(lambda c: True)


def _literal(c: int, icase: bool) -> CharSet:
    if not icase:
        return CharSet(lambda x: x == c, frozenset([c]))
    variants = frozenset(ord(v) for v in {chr(c), chr(c).lower(), chr(c).upper()} if len(v) == 1)
    return CharSet(lambda x: x in variants, variants)


def _range(lo: int, hi: int, icase: bool) -> CharSet:
    points = frozenset([lo, hi, max(lo - 1, 0), hi + 1])
    if not icase:
        return CharSet(lambda x: lo <= x <= hi, points)
    return CharSet(lambda x: lo <= x <= hi or any(lo <= ord(v) <= hi for v in (chr(x).lower(), chr(x).upper())), points)


@functools.lru_cache(maxsize=1)
def _samples() -> tuple[int, ...]:
    """ASCII, Latin-1, a few well-known scripts' letters and up to four code points of every category."""
    found: dict[str, list[int]] = {c: [] for c in _ALL_CATEGORIES}
    for c in range(0x100, 0x10000):
        bucket = found[unicodedata.category(chr(c))]
        if len(bucket) < 4:
            bucket.append(c)
        if c > 0xE000 and all(found.values()):
            break
    extra = [0x4E00, 0x3042, 0x30A2, 0xAC00, 0x0E01, 0x0627, 0x05D0, 0x0915, 0x1F600, 0x10000, 0x20000, 0xE0001]
    return tuple(sorted({*range(256), *extra, *(c for bucket in found.values() for c in bucket)}))


# -- syntax tree ----------------------------------------------------------------------------------
@dataclass
class Node:
    kind: str  # "set", "seq", "alt", "rep", "look", "anchor", "empty"
    items: list["Node"] = field(default_factory=list)
    chars: CharSet | None = None
    lo: int = 0
    hi: int | None = None  # None: unbounded

    @property
    def child(self) -> "Node":
        return self.items[0]


_SIMPLE_ESCAPES = {"t": 9, "n": 10, "r": 13, "f": 12, "v": 11, "a": 7, "e": 27}
_CLASS_ESCAPES = {
    "s": lambda c: c in _WHITE_SPACE,
    "d": _category_member("Nd"),
    "w": _category_member(_CATEGORY_GROUPS["word"]),
    "h": lambda c: chr(c) in "0123456789abcdefABCDEF",
}
_ANCHOR_ESCAPES = set("AzZbBGKyY")
_ANY_ESCAPES = set("XRNO")


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.s = pattern
        self.i = 0
        self.depth = 0

    def fail(self, message: str) -> RegexRefused:
        return RegexRefused(f"{message} (at character {self.i})")

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def parse(self) -> Node:
        node = self.alternation(icase=False, extended=False)
        if self.i != len(self.s):
            raise self.fail("unbalanced ')'")
        return node

    def alternation(self, icase: bool, extended: bool) -> Node:
        branches = [self.sequence(icase, extended)]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence(icase, extended))
        return branches[0] if len(branches) == 1 else Node("alt", branches)

    def sequence(self, icase: bool, extended: bool) -> Node:
        items: list[Node] = []
        while self.i < len(self.s) and self.peek() not in "|)":
            if extended and self.peek() in " \t\n\r\f\v":
                self.i += 1
                continue
            if extended and self.peek() == "#":
                while self.i < len(self.s) and self.peek() != "\n":
                    self.i += 1
                continue
            if self.peek() == "(" and self.s.startswith("(?", self.i) and self._flag_group_ahead():
                icase, extended, scoped = self.flags(icase, extended)
                if scoped is not None:
                    items.append(self.quantified(scoped))
                continue
            atom = self.atom(icase, extended)
            if atom is not None:
                items.append(self.quantified(atom))
        return Node("seq", items) if items else Node("empty")

    def _flag_group_ahead(self) -> bool:
        j = self.i + 2
        while j < len(self.s) and (self.s[j].isalpha() or self.s[j] == "-"):
            j += 1
        return j > self.i + 2 and j < len(self.s) and self.s[j] in ":)"

    def flags(self, icase: bool, extended: bool) -> tuple[bool, bool, Node | None]:
        """``(?imx-imx)`` changes the flags for the rest of the group; ``(?imx-imx:...)`` only inside."""
        self.i += 2
        on = True
        new_icase, new_extended = icase, extended
        while self.peek().isalpha() or self.peek() == "-":
            ch = self.peek()
            if ch == "-":
                on = False
            elif ch == "i":
                new_icase = on
            elif ch == "x":
                new_extended = on
            elif ch not in "mWDSPaudl":
                raise self.fail(f"unsupported option {ch!r}")
            self.i += 1
        if self.peek() == ")":
            self.i += 1
            return new_icase, new_extended, None
        self.i += 1  # ':'
        inner = self.group_body(new_icase, new_extended)
        return icase, extended, inner

    def group_body(self, icase: bool, extended: bool) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"groups nested over {MAX_DEPTH} deep")
        inner = self.alternation(icase, extended)
        if self.peek() != ")":
            raise self.fail("missing ')'")
        self.i += 1
        self.depth -= 1
        return inner

    def atom(self, icase: bool, extended: bool) -> Node | None:
        ch = self.peek()
        if ch == "(":
            return self.group(icase, extended)
        if ch == "[":
            self.i += 1
            return Node("set", chars=self.char_class(icase))
        if ch in "^$":
            self.i += 1
            return Node("anchor")
        if ch == ".":
            self.i += 1
            return Node("set", chars=ANY)
        if ch == "\\":
            return self.escape(icase)
        if ch in "*+?":
            raise self.fail(f"nothing to repeat before {ch!r}")
        self.i += 1
        return Node("set", chars=_literal(ord(ch), icase))

    def group(self, icase: bool, extended: bool) -> Node | None:
        s, i = self.s, self.i
        if s.startswith("(?#", i):
            end = s.find(")", i)
            if end < 0:
                raise self.fail("unterminated comment")
            self.i = end + 1
            return None
        for prefix, kind in (("(?:", "group"), ("(?>", "group"), ("(?=", "look"), ("(?!", "look")):
            if s.startswith(prefix, i):
                self.i += len(prefix)
                inner = self.group_body(icase, extended)
                return Node("look", [inner]) if kind == "look" else inner
        for prefix in ("(?<=", "(?<!"):
            if s.startswith(prefix, i):
                self.i += len(prefix)
                return Node("look", [self.group_body(icase, extended)])
        if s.startswith("(?<", i) or s.startswith("(?'", i):
            close = ">" if s[i + 2] == "<" else "'"
            end = s.find(close, i + 3)
            if end < 0:
                raise self.fail("unterminated group name")
            self.i = end + 1
            return self.group_body(icase, extended)
        if s.startswith("(?", i):
            construct = {"(?(": "a conditional", "(?~": "an absent operator"}.get(s[i : i + 3], "a group kind")
            raise self.fail(f"{construct} this screen does not accept")
        self.i += 1
        return self.group_body(icase, extended)

    def escape(self, icase: bool) -> Node:
        self.i += 1
        ch = self.peek()
        if not ch:
            raise self.fail("pattern ends in a backslash")
        if ch.isdigit() and ch != "0":
            raise self.fail("a back-reference (matching it is NP-hard; refused)")
        if ch in "kg" and self.peek(1) in "<'":
            raise self.fail("a back-reference or subexpression call (refused)")
        if ch in _ANCHOR_ESCAPES:
            self.i += 1
            return Node("anchor")
        if ch in _ANY_ESCAPES:
            self.i += 1
            return Node("set", chars=ANY)
        return Node("set", chars=self.escape_set(icase))

    def escape_set(self, icase: bool) -> CharSet:
        """The character set of the escape at ``self.i`` (just past the backslash)."""
        ch = self.peek()
        self.i += 1
        if ch.lower() in _CLASS_ESCAPES:
            member = _CLASS_ESCAPES[ch.lower()]
            return CharSet(_negate(member) if ch.isupper() else member)
        if ch in "pP":
            if self.peek() != "{":
                raise self.fail("\\p without {...}")
            end = self.s.find("}", self.i)
            if end < 0:
                raise self.fail("unterminated \\p{...}")
            name = self.s[self.i + 1 : end]
            self.i = end + 1
            negated = ch == "P"
            if name.startswith("^"):
                name, negated = name[1:], not negated
            member = _property(name)
            return CharSet(_negate(member) if negated else member)
        return _literal(self.escape_code(ch), icase)

    def escape_code(self, ch: str) -> int:
        """The code point of a single-character escape whose letter ``ch`` was just consumed."""
        if ch in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[ch]
        if ch == "x":
            if self.peek() == "{":
                end = self.s.find("}", self.i)
                digits = self.s[self.i + 1 : end] if end > 0 else ""
                self.i = end + 1
            else:
                digits = ""
                while len(digits) < 2 and self.peek() and self.peek() in "0123456789abcdefABCDEF":
                    digits += self.peek()
                    self.i += 1
            return self._hex(digits)
        if ch == "u":
            digits = self.s[self.i : self.i + 4]
            self.i += 4
            return self._hex(digits)
        if ch == "0":
            digits = ""
            while len(digits) < 2 and self.peek() and self.peek() in "01234567":
                digits += self.peek()
                self.i += 1
            return int(digits or "0", 8)
        if ch in "cC" or ch == "M":
            raise self.fail(f"control/meta escape \\{ch} (not accepted)")
        return ord(ch)

    def _hex(self, digits: str) -> int:
        try:
            value = int(digits, 16)
        except ValueError:
            raise self.fail(f"bad hexadecimal escape {digits!r}") from None
        if value > 0x10FFFF:
            raise self.fail(f"code point {value:#x} is beyond Unicode")
        return value

    def char_class(self, icase: bool) -> CharSet:
        """``[...]`` just past the ``[``: ranges, escapes, POSIX brackets, nested classes, ``&&``."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"classes nested over {MAX_DEPTH} deep")
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        operands: list[CharSet] = []
        parts: list[CharSet] = []
        first = True
        while True:
            ch = self.peek()
            if not ch:
                raise self.fail("unterminated character class")
            if ch == "]" and not first:
                self.i += 1
                break
            first = False
            if self.s.startswith("&&", self.i):
                self.i += 2
                operands.append(CharSet.union(parts))
                parts = []
                continue
            if self.s.startswith("[:", self.i):
                end = self.s.find(":]", self.i + 2)
                if end < 0:
                    raise self.fail("unterminated POSIX bracket")
                name = self.s[self.i + 2 : end]
                self.i = end + 2
                posix_negated = name.startswith("^")
                member = _property(name.lstrip("^"))
                parts.append(CharSet(_negate(member) if posix_negated else member))
                continue
            if ch == "[":
                self.i += 1
                parts.append(self.char_class(icase))
                continue
            low = self.class_char(icase)
            if isinstance(low, CharSet):
                parts.append(low)
                continue
            if self.peek() == "-" and self.peek(1) not in ("]", ""):
                self.i += 1
                high = self.class_char(icase)
                if isinstance(high, CharSet):
                    raise self.fail("a range ends in a class escape")
                if high < low:
                    raise self.fail("a range's end precedes its start")
                parts.append(_range(low, high, icase))
            else:
                parts.append(_literal(low, icase))
        operands.append(CharSet.union(parts))
        self.depth -= 1
        joined = operands[0] if len(operands) == 1 else CharSet.intersection(operands)
        return CharSet.union([joined], negated=negated) if negated else joined

    def class_char(self, icase: bool) -> int | CharSet:
        ch = self.peek()
        self.i += 1
        if ch != "\\":
            return ord(ch)
        esc = self.peek()
        if not esc:
            raise self.fail("pattern ends in a backslash")
        if esc.lower() in _CLASS_ESCAPES or esc in "pP":
            return self.escape_set(icase)
        self.i += 1
        if esc == "b":
            return 8
        return self.escape_code(esc)

    def quantified(self, atom: Node) -> Node:
        stacked = 0
        while True:
            ch = self.peek()
            if ch in ("*", "+", "?"):
                self.i += 1
                lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
                if self.peek() in ("?", "+"):  # lazy or possessive: the same shape for this screen
                    self.i += 1
            elif ch == "{" and (bounds := self.counted()) is not None:
                lo, hi = bounds
                if self.peek() == "?":
                    self.i += 1
            else:
                return atom
            if atom.kind in ("anchor", "look"):
                continue  # a repeated assertion is still one assertion
            stacked += 1
            if stacked > 3:
                raise self.fail("over 3 quantifiers stacked on one item")
            atom = Node("rep", [atom], lo=lo, hi=hi)

    def counted(self) -> tuple[int, int | None] | None:
        end = self.s.find("}", self.i)
        if end < 0:
            return None
        body = self.s[self.i + 1 : end]
        lo_text, comma, hi_text = body.partition(",")
        if not (lo_text.isdigit() or (comma and lo_text == "")) or not (hi_text.isdigit() or hi_text == ""):
            return None
        if not lo_text and not hi_text:
            return None
        lo = int(lo_text) if lo_text else 0
        hi = (int(hi_text) if hi_text else None) if comma else lo
        if lo > MAX_COUNT or (hi is not None and hi > MAX_COUNT):
            raise self.fail(f"a count over {MAX_COUNT}")
        if hi is not None and hi < lo:
            raise self.fail("a count whose maximum is below its minimum")
        self.i = end + 1
        return lo, hi


# -- analysis -----------------------------------------------------------------------------------
def _nullable(node: Node) -> bool:
    if node.kind == "set":
        return False
    if node.kind == "seq":
        return all(_nullable(x) for x in node.items)
    if node.kind == "alt":
        return any(_nullable(x) for x in node.items)
    if node.kind == "rep":
        return node.lo == 0 or _nullable(node.child)
    return True  # empty, anchors and lookarounds consume nothing


def _cannot_fail(node: Node) -> bool:
    """Whether the node always succeeds (matching empty), wherever it is tried."""
    if node.kind == "empty":
        return True
    if node.kind == "seq":
        return all(_cannot_fail(x) for x in node.items)
    if node.kind == "alt":
        return any(_cannot_fail(x) for x in node.items)
    if node.kind == "rep":
        return node.lo == 0 or _cannot_fail(node.child)
    return False


def _has(node: Node, test: Callable[[Node], bool]) -> bool:
    return test(node) or (node.kind != "look" and any(_has(x, test) for x in node.items))


def _big(node: Node) -> bool:
    return node.kind == "rep" and (node.hi is None or node.hi > BIG)


def _ambiguous_body(body: Node) -> bool:
    return _nullable(body) or _has(body, lambda n: n.kind == "alt" or (n.kind == "rep" and n.lo != n.hi))


def _walk_sets(node: Node, loops_only: bool, inside_loop: bool = False) -> list[CharSet]:
    """The character sets ``node`` can consume (outside lookarounds); with ``loops_only``, only those
    inside a large loop."""
    if node.kind == "look":
        return []
    if node.kind == "set":
        return [node.chars] if node.chars is not None and (inside_loop or not loops_only) else []
    inside = inside_loop or _big(node)
    return [c for x in node.items for c in _walk_sets(x, loops_only, inside)]


class _Screen:
    """Checks one parsed pattern; overlaps are decided on bit masks over the sample characters."""

    def __init__(self, root: Node, budget: int = 2_000_000) -> None:
        points: set[int] = set()
        for charset in _walk_sets(root, loops_only=False):
            points |= charset.points
        self.samples = [c for c in sorted({*_samples(), *points}) if 0 <= c <= 0x10FFFF]
        self.masks: dict[int, int] = {}
        self.budget = budget

    def mask(self, sets: list[CharSet]) -> int:
        total = 0
        for charset in sets:
            key = id(charset)
            if key not in self.masks:
                self.budget -= len(self.samples)
                if self.budget < 0:
                    raise RegexRefused("the pattern is too large to screen")
                bits = 0
                for index, c in enumerate(self.samples):
                    if charset.member(c) is not False:
                        bits |= 1 << index
                self.masks[key] = bits
            total |= self.masks[key]
        return total

    def check(self, node: Node, tail_ok: bool) -> None:
        """Refuse what can backtrack super-linearly; ``tail_ok``: what follows ``node`` cannot fail."""
        if node.kind == "look":
            self.check(node.child, tail_ok=False)
        elif node.kind == "alt":
            for branch in node.items:
                self.check(branch, tail_ok)
        elif node.kind == "rep":
            body = node.child
            repeats = node.hi is None or node.hi > 1
            if repeats and _ambiguous_body(body) and not (tail_ok and node.lo <= 1):
                small = node.hi is not None and node.hi <= 4 and not _has(body, _big)
                if not small:
                    raise RegexRefused(
                        "a repeated group whose body can match the same text in more than one way "
                        "(exponential backtracking, as in (a+)+ or (a|a)*)"
                    )
            self.check(body, tail_ok=tail_ok and not repeats)
        elif node.kind == "seq":
            self.check_sequence(node.items, tail_ok)

    def check_sequence(self, items: list[Node], tail_ok: bool) -> None:
        flat: list[Node] = []
        for item in items:
            flat.extend(item.items if item.kind == "seq" else [item])
        loops = 0
        for j, item in enumerate(flat):
            rest_ok = tail_ok and all(_cannot_fail(x) for x in flat[j + 1 :])
            self.check(item, rest_ok)
            if not _has(item, _big):
                continue
            loops += 1
            if loops > 64:
                raise RegexRefused("over 64 repetitions in one sequence")
            if rest_ok:
                continue
            later = self.mask(_walk_sets(item, loops_only=True))
            for earlier in reversed(flat[:j]):
                if _has(earlier, _big) and self.mask(_walk_sets(earlier, loops_only=True)) & later:
                    raise RegexRefused(
                        "two repetitions that can match the same characters, one after the other, before "
                        "something that can fail (polynomial backtracking, as in \\s*\\s*[^\\s])"
                    )
                if not _nullable(earlier) and not self.mask(_walk_sets(earlier, loops_only=False)) & later:
                    break  # a required item the loops cannot share separates them


def _min_length(node: Node) -> int:
    if node.kind == "set":
        return 1
    if node.kind == "seq":
        return sum(_min_length(x) for x in node.items)
    if node.kind == "alt":
        return min(_min_length(x) for x in node.items)
    if node.kind == "rep":
        return node.lo * _min_length(node.child)
    return 0


def _parse(pattern: str, max_chars: int) -> Node:
    if len(pattern) > max_chars:
        raise RegexRefused(f"the pattern has {len(pattern)} characters (limit {max_chars})")
    return _Parser(pattern).parse()


def screen_regex(pattern: str, max_chars: int) -> int:
    """Raise :class:`RegexRefused` (a ``ValueError``) naming the problem when ``pattern`` is refused;
    otherwise return the fewest characters a match consumes (0: it can match empty)."""
    root = _parse(pattern, max_chars)
    _Screen(root).check(root, tail_ok=True)
    return _min_length(root)

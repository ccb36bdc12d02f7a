"""Hostile ``tokenizer.json`` files for the fuzz tests: valid base files, seeded mutations of them,
and an isolated runner (one worker process at a time, with memory and CPU limits, watched by the
parent) that loads each mutant with :class:`axon_text.Tokenizer` and uses it.

Shared by ``packages/axon-text/tests/test_tokenizer_hardening.py`` (a fast sample) and
``tests-integration/test_text_tokenizer_fuzz.py`` (10,000+ mutants).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import random
import resource
import selectors
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any, Iterator

# -- a SentencePiece charsmap, built here --------------------------------------------------------


def build_charsmap(mapping: dict[str, str]) -> bytes:
    """A ``precompiled_charsmap`` (SentencePiece's Darts double-array trie plus NUL-ended strings)
    rewriting each key of ``mapping`` to its value. Every node gets its own 256-unit block, so a
    child of the node at base B sits at B ^ byte = B + byte and every lookup stays in the array."""
    strings = bytearray()
    values: dict[bytes, int] = {}
    for key, replacement in mapping.items():
        values[key.encode()] = len(strings)
        strings += replacement.encode() + b"\0"
    trie: dict[bytes, dict] = {}
    for key in values:
        node = trie
        for byte in key:
            node = node.setdefault(bytes([byte]), {})
    bases: dict[int, int] = {}  # id(node) -> base
    order: list[tuple[dict, bytes]] = [(trie, b"")]
    next_block = 1
    for node, _ in order:
        bases[id(node)] = 256 * next_block
        next_block += 1
        order.extend((child, b"") for child in node.values())
    array = [0] * (256 * next_block)
    array[0] = bases[id(trie)] << 10

    def fill(node: dict, prefix: bytes) -> None:
        base = bases[id(node)]
        for label, child in node.items():
            position = base | label[0]
            offset = position ^ bases[id(child)]
            assert offset < 1 << 21
            key = prefix + label
            unit = label[0] | (offset << 10)
            if key in values:
                unit |= 1 << 8
                array[bases[id(child)]] = values[key] | (1 << 31)
            array[position] = unit
            fill(child, key)

    fill(trie, b"")
    trie_bytes = b"".join(u.to_bytes(4, "little") for u in array)
    return len(trie_bytes).to_bytes(4, "little") + trie_bytes + bytes(strings)


CHARSMAP = {"Ａ": "A", "ｂ": "b", "①": "1", "ﬁ": "fi", "\u3000": " ", "Ⅻ": "XII"}


# -- base files ------------------------------------------------------------------------------------
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)
CORPUS = [
    "the quick brown fox jumps over the lazy dog",
    "naïve café Ωmega 日本語のテキスト 中文 😀👍🏽 ma-nu-ba-lum",
    "def f(x):\n    return x + 1  # code\n\n",
] * 20


def base_files() -> dict[str, dict[str, Any]]:
    """Small valid tokenizer.json documents covering every component family the engine has."""
    from tokenizers import Regex, normalizers, pre_tokenizers, processors

    from axon_text import BPETokenizer, CharTokenizer, WordPieceTokenizer, syllable_pre_tokenizer

    bases: dict[str, dict[str, Any]] = {}
    byte_bpe = BPETokenizer.train(CORPUS, 400, level="byte", add_bos_eos=True)
    bases["byte_bpe"] = json.loads(byte_bpe.to_str())
    llama = BPETokenizer.train(CORPUS, 400, level="byte", add_bos_eos=True)
    llama.engine.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    llama.engine.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\r\n"), "\n")])
    llama.enable_truncation(64)
    bases["llama3_like"] = json.loads(llama.to_str())
    char_bpe = BPETokenizer.train(CORPUS, 200, level="char", pre_tokenizer=syllable_pre_tokenizer())
    bases["char_bpe"] = json.loads(char_bpe.to_str())
    wordpiece = WordPieceTokenizer.train(CORPUS, 200, lowercase=True)
    wordpiece.enable_padding(length=48)
    bases["wordpiece"] = json.loads(wordpiece.to_str())
    chars = CharTokenizer.from_texts(CORPUS)
    chars.engine.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip(), normalizers.Prepend("▁")]
    )
    chars.engine.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", pair="<bos> $A <eos> $B:1 <eos>:1", special_tokens=[("<bos>", 1), ("<eos>", 2)]
    )
    bases["char_word"] = json.loads(chars.to_str())
    pieces = sorted({w for text in CORPUS for w in text.split()})
    bases["unigram_precompiled"] = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": 0,
                "content": "<unk>",
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
        ],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(build_charsmap(CHARSMAP)).decode()},
                {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
            ],
        },
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "post_processor": None,
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
        "model": {
            "type": "Unigram",
            "unk_id": 0,
            "vocab": [["<unk>", 0.0]]
            + [[c, -5.0] for c in sorted({c for text in CORPUS for c in text} | {"▁", "A", "b", "1"})]
            + [["▁" + w, -2.0 - i / 100] for i, w in enumerate(pieces)],
            "byte_fallback": False,
        },
    }
    return bases


# -- mutations -------------------------------------------------------------------------------------
EDGE_NUMBERS: list[Any] = [
    0,
    -1,
    1,
    2,
    3,
    255,
    256,
    2**16,
    2**31 - 1,
    2**31,
    2**32,
    2**63,
    2**64,
    10**7,
    10**30,
    -(2**63),
    1.5,
    -0.0,
    1e308,
    True,
    False,
    None,
    "7",
    [],
    {},
]
EDGE_STRINGS: list[Any] = [
    "",
    " ",
    "a" * 5000,
    "\ud800",
    "\udfff",
    "▁",
    "\x00",
    "日本",
    "😀",
    "[UNK]",
    "<unk>",
    "(",
    "[",
    "\\",
    "(?<",
    "\\k<x>",
    0,
    None,
    [],
    {"String": "a"},
]
HOSTILE_REGEXES = [
    "(a+)+$",
    "(a|a)*b",
    "(\\s*)*[^\\s]",
    "\\s*\\s*[^\\s]",
    "\\s*\\s*\\s*\\S",
    "(a|aa)+$",
    "(.*a){12}",
    "(a?){25}a{25}",
    "(\\w+)\\1",
    "a{2000}",
    "(?=(a*)*b)",
    "(" * 80 + "a" + ")" * 80,
    "[",
    "(",
    "\\",
    "a{3,2}",
    "(?<x>a)\\g<x>",
    "(?~abc)",
    "(?(1)a|b)",
    "\\p{Nope}",
    "[z-a]",
    ".*",
    "",
    "(?=a)",
    "a*",
    "\\s+(?!\\S)|\\s+",
    "\\p{L}+|\\p{N}+|[^\\s\\p{L}\\p{N}]+|\\s+",
    " ?[^(\\s|[.,!?…。，、।۔،])]+",
    "(?i:'s|'t)|\\p{L}+|\\s+",
    "x" * 20000,
]
TYPE_NAMES = [
    "BertNormalizer",
    "Strip",
    "StripAccents",
    "NFC",
    "NFD",
    "NFKC",
    "NFKD",
    "Sequence",
    "Lowercase",
    "Nmt",
    "Precompiled",
    "Replace",
    "Prepend",
    "ByteLevel",
    "Split",
    "Metaspace",
    "Whitespace",
    "WhitespaceSplit",
    "BertPreTokenizer",
    "Punctuation",
    "Digits",
    "UnicodeScripts",
    "CharDelimiterSplit",
    "FixedLength",
    "TemplateProcessing",
    "RobertaProcessing",
    "BertProcessing",
    "WordPiece",
    "BPE",
    "Unigram",
    "WordLevel",
    "Fuse",
    "ByteFallback",
    "CTC",
    "BPEDecoder",
    "Nope",
    "",
]
COMPONENTS = [
    "normalizer",
    "pre_tokenizer",
    "post_processor",
    "decoder",
    "model",
    "truncation",
    "padding",
    "added_tokens",
]
HOSTILE_COMPONENTS: list[tuple[str, Any]] = [
    (
        "padding",
        {
            "strategy": {"Fixed": 2**31},
            "direction": "Right",
            "pad_to_multiple_of": None,
            "pad_id": 0,
            "pad_type_id": 0,
            "pad_token": "<pad>",
        },
    ),
    (
        "padding",
        {
            "strategy": {"Fixed": 10**7},
            "direction": "Right",
            "pad_to_multiple_of": None,
            "pad_id": 0,
            "pad_type_id": 0,
            "pad_token": "<pad>",
        },
    ),
    (
        "padding",
        {
            "strategy": "BatchLongest",
            "direction": "Left",
            "pad_to_multiple_of": 0,
            "pad_id": 10**6,
            "pad_type_id": 0,
            "pad_token": "nope",
        },
    ),
    ("truncation", {"direction": "Right", "max_length": 2**40, "strategy": "LongestFirst", "stride": 0}),
    ("truncation", {"direction": "Left", "max_length": 8, "strategy": "OnlySecond", "stride": 7}),
    ("truncation", {"direction": "Right", "max_length": 1, "strategy": "LongestFirst", "stride": 0}),
    ("pre_tokenizer", {"type": "FixedLength", "length": 0}),
    ("pre_tokenizer", {"type": "FixedLength", "length": 2**40}),
    ("normalizer", {"type": "Replace", "pattern": {"Regex": "(?=a)|(?!a)"}, "content": "xx"}),
    ("normalizer", {"type": "Replace", "pattern": {"String": "a"}, "content": "a" * 500}),
    (
        "normalizer",
        {"type": "Sequence", "normalizers": [{"type": "Replace", "pattern": {"String": "a"}, "content": "aa"}] * 30},
    ),
    ("normalizer", {"type": "Precompiled", "precompiled_charsmap": ""}),
    ("normalizer", {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(b"\xff\xff\xff\xff").decode()}),
    (
        "post_processor",
        {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "x", "type_id": 0}}] * 50,
            "pair": [],
            "special_tokens": {"x": {"id": "x", "ids": [1] * 1000, "tokens": ["a"] * 1000}},
        },
    ),
    (
        "model",
        {
            "type": "WordPiece",
            "unk_token": "[UNK]",
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 10**9,
            "vocab": {"[UNK]": 0, "a": 1},
        },
    ),
    ("model", {"type": "BPE", "dropout": 2.0, "unk_token": None, "vocab": {"a": 0}, "merges": [["a", "b"]]}),
    ("model", {"type": "Unigram", "unk_id": 7, "vocab": [["a", float("nan")]], "byte_fallback": False}),
    ("model", {"type": "WordLevel", "vocab": {"a": 2**32 - 1, "b": 0}, "unk_token": "zzz"}),
    ("decoder", {"type": "Strip", "content": " ", "start": 2**63, "stop": 0}),
    ("decoder", {"type": "Replace", "pattern": {"String": ""}, "content": "x" * 200}),
    (
        "added_tokens",
        [
            {
                "id": 2**31,
                "content": "",
                "single_word": True,
                "lstrip": True,
                "rstrip": True,
                "normalized": True,
                "special": True,
            }
        ],
    ),
]


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list) and len(node) <= 64:  # vocab/merge lists: only their first entries
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))
    elif isinstance(node, list):
        for index in range(3):
            yield from _paths(node[index], (*prefix, index))


def _set(doc: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _mutate_charsmap(rng: random.Random, blob: bytes) -> bytes:
    data = bytearray(blob)
    kind = rng.randrange(5)
    if kind == 0:
        data = data[: rng.randrange(len(data) + 1)]
    elif kind == 1:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 2:
        data[:4] = rng.choice([0, 4, 7, len(data), len(data) + 4, 2**32 - 4]).to_bytes(4, "little")
    elif kind == 3:
        at = 4 + 4 * rng.randrange(max(1, (len(data) - 4) // 4))
        data[at : at + 4] = rng.randrange(2**32).to_bytes(4, "little")
    else:
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(data)


def mutate(rng: random.Random, bases: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """One mutant: (a short description, the JSON text)."""
    name = rng.choice(sorted(bases))
    doc = copy.deepcopy(bases[name])
    steps = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.randrange(10)
        paths = [p for p, _ in _paths(doc) if p]
        if kind == 0 and paths:  # a number or any scalar set to an edge value
            path = rng.choice(paths)
            _set(doc, path, rng.choice(EDGE_NUMBERS))
            steps.append(f"edge-number {'.'.join(map(str, path))}")
        elif kind == 1:
            strings = [p for p, v in _paths(doc) if p and isinstance(v, str)]
            if strings:
                path = rng.choice(strings)
                _set(doc, path, rng.choice(EDGE_STRINGS))
                steps.append(f"edge-string {'.'.join(map(str, path))}")
        elif kind == 2:  # a regex planted in a Split pre-tokenizer or a Replace normalizer
            pattern = {"Regex": rng.choice(HOSTILE_REGEXES)}
            if rng.random() < 0.5:
                doc["pre_tokenizer"] = {"type": "Split", "pattern": pattern, "behavior": "Isolated", "invert": False}
            else:
                doc["normalizer"] = {"type": "Replace", "pattern": pattern, "content": rng.choice(["", "x", "▁"])}
            steps.append(f"regex {pattern['Regex'][:30]!r}")
        elif kind == 3:
            component, value = rng.choice(HOSTILE_COMPONENTS)
            doc[component] = copy.deepcopy(value)
            steps.append(f"hostile {component}")
        elif kind == 4 and paths:  # a key removed, or a type renamed
            path = rng.choice(paths)
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict) and path[-1] == "type":
                parent["type"] = rng.choice(TYPE_NAMES)
                steps.append(f"type {'.'.join(map(str, path))}")
            elif isinstance(parent, dict):
                del parent[path[-1]]
                steps.append(f"delete {'.'.join(map(str, path))}")
        elif kind == 5:  # a component taken from another base
            component = rng.choice(COMPONENTS)
            other = bases[rng.choice(sorted(bases))]
            doc[component] = copy.deepcopy(other.get(component))
            steps.append(f"swap {component}")
        elif kind == 6:  # the Precompiled trie corrupted
            normalizer = bases["unigram_precompiled"]["normalizer"]["normalizers"][0]
            blob = _mutate_charsmap(rng, base64.b64decode(normalizer["precompiled_charsmap"]))
            doc["normalizer"] = {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(blob).decode()}
            steps.append("charsmap")
        elif kind == 7:  # nested deep
            depth = rng.choice([10, 60, 130, 400])
            node: Any = {"type": "Lowercase"}
            for _ in range(depth):
                node = {"type": "Sequence", "normalizers": [node]}
            doc["normalizer"] = node
            steps.append(f"deep {depth}")
            break  # nothing walks a deep tree after this
        elif kind == 8:  # lists: an element duplicated, emptied or doubled
            lists = [p for p, v in _paths(doc) if p and isinstance(v, list) and v]
            if lists:
                path = rng.choice(lists)
                parent = doc
                for key in path:
                    parent = parent[key]
                choice = rng.randrange(3)
                if choice == 0:
                    parent.append(copy.deepcopy(parent[0]))
                elif choice == 1:
                    parent.clear()
                else:
                    parent.extend(copy.deepcopy(parent[:8]))
                steps.append(f"list {'.'.join(map(str, path))}")
        else:
            steps.append("text")
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    if steps and steps[-1] == "text":  # textual damage on the serialised file
        damage = rng.randrange(6)
        if damage == 0:
            text = text[: rng.randrange(len(text))]
        elif damage == 1:
            at = rng.randrange(len(text))
            text = text[:at] + chr(rng.randrange(32, 0x3000)) + text[at + 1 :]
        elif damage == 2:
            text = text.replace('"version"', '"version": 1, "version"', 1)  # a duplicate key
        elif damage == 3:
            text = text.replace('"version"', '"x": ' + "9" * 5000 + ', "version"', 1)
        elif damage == 4:
            text = "[" * 5000 + text
        else:
            text = text.replace('"', "'", rng.randint(1, 3))
    return f"{name}: {'; '.join(steps)}", text


# -- use of a loaded tokenizer ---------------------------------------------------------------------
PROBES = ["", "hello world", "Ａｂ① naïve café 日本語 😀 ma-nu-ba-lum \r\n\tend", "a" * 300 + "b", " " * 200 + "x"]
LONG_PROBE = ("the quick brown fox 日本語 " * 400)[:9000]


def exercise(tokenizer: Any, thorough: bool = True) -> str:
    """Use a loaded tokenizer the ways a user would; return what it did. ``thorough`` adds a
    9,000-character text under truncation (the prefix-window path)."""
    from axon_core import AxonError

    outcomes = []
    for call in (
        lambda: [tokenizer.encode(p) for p in PROBES],
        lambda: tokenizer.encode_batch(PROBES),
        lambda: tokenizer.tokenize(PROBES[2]),
        lambda: tokenizer.encode(PROBES[1], PROBES[2]),
        lambda: tokenizer.decode(tokenizer.encode(PROBES[2])[:50]),
        lambda: tokenizer.decode_batch([tokenizer.encode(p)[:20] for p in PROBES]),
        lambda: (tokenizer.enable_truncation(16), tokenizer.encode(LONG_PROBE if thorough else PROBES[3])),
        lambda: tokenizer.encode_batch(PROBES),
    ):
        try:
            call()
            outcomes.append("ok")
        except AxonError as exc:
            outcomes.append(type(exc).__name__)
    return "use " + ",".join(sorted(set(outcomes)))


def run_case(text: str, as_file: bool, folder: str, thorough: bool = True) -> tuple[str, str]:
    """Load and use one mutant; (outcome, detail). Only typed outcomes are returned: anything else
    propagates to the worker, which reports it as a failure."""
    from axon_text import Tokenizer, TokenizerError

    try:
        if as_file:
            path = os.path.join(folder, "tokenizer.json")
            with open(path, "w", encoding="utf-8", errors="surrogatepass") as handle:
                handle.write(text)
            tokenizer = Tokenizer.from_file(path)
        else:
            tokenizer = Tokenizer.from_str(text)
    except TokenizerError as exc:
        return "refused", exc.field or "(no field)"
    return "loaded", exercise(tokenizer, thorough)


def _worker_main(memory_bytes: int, cpu_seconds: int) -> None:
    """A worker: reads one JSON job a line from stdin, answers one JSON line on stdout."""
    os.environ["RUST_BACKTRACE"] = "0"
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    folder = tempfile.mkdtemp()
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr, never into the replies
    for line in sys.stdin:
        index, text, as_file, thorough = json.loads(line)
        usage = resource.getrusage(resource.RUSAGE_SELF)  # this case's CPU budget: SIGXCPU past it
        spent = int(usage.ru_utime + usage.ru_stime) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_seconds, resource.RLIM_INFINITY))
        start = time.perf_counter()
        try:
            outcome, detail = run_case(text, as_file, folder, thorough)
        except BaseException as exc:  # noqa: BLE001 (reported to the parent as a failure)
            outcome, detail = "UNTYPED", f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:200]}"
        replies.write(json.dumps([index, outcome, detail, time.perf_counter() - start]) + "\n")


class _Worker:
    def __init__(self, memory_bytes: int, cpu_seconds: int) -> None:
        command = [sys.executable, __file__, "--worker", str(memory_bytes), str(cpu_seconds)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)

    def ask(self, job: list[Any], seconds: float) -> list[Any] | None:
        """The reply, or None if the worker died or did not answer in ``seconds``."""
        try:
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
        except OSError:
            return None
        if not self.selector.select(seconds):
            return None
        line = self.process.stdout.readline()
        return json.loads(line) if line else None

    def kill(self) -> str:
        self.process.kill()
        code = self.process.wait(10)
        self.selector.close()
        return f"worker exit code {code}"

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)
        self.selector.close()


def run_isolated(
    cases: list[tuple[str, str]],
    case_seconds: float = 10.0,
    memory_bytes: int = 2 << 30,
    cpu_seconds: int = 10,
    file_every: int = 10,
    thorough_every: int = 8,
) -> dict[str, Any]:
    """Run every case in a worker process (RLIMIT_AS ``memory_bytes``; RLIMIT_CPU set before each
    case to ``cpu_seconds`` past what the worker has used), one case at a time; a case that takes
    over ``case_seconds`` is a hang (the worker is killed), a worker that dies (abort, signal, the
    CPU limit) is a crash; a new worker takes the next case. Every ``file_every``-th case is read
    from a file, every ``thorough_every``-th also encodes a long text under truncation."""
    counts: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    failures: list[tuple[str, str, str]] = []
    slowest = (0.0, "")
    worker: _Worker | None = None
    for index, (description, text) in enumerate(cases):
        if worker is None:
            worker = _Worker(memory_bytes, cpu_seconds)
        started = time.monotonic()
        job = [index, text, index % file_every == 0, index % thorough_every == 0]
        reply = worker.ask(job, case_seconds)
        if reply is None:
            waited = time.monotonic() - started
            outcome = "HANG" if waited >= case_seconds else "CRASH"
            detail, seconds = worker.kill(), waited
            worker = None
        else:
            _, outcome, detail, seconds = reply
        counts[outcome if outcome in ("refused", "UNTYPED", "CRASH", "HANG") else detail] += 1
        if outcome == "refused":
            fields[detail.split("[")[0].split(".")[0]] += 1
        if outcome in ("UNTYPED", "CRASH", "HANG"):
            failures.append((description, outcome, detail))
        if seconds > slowest[0]:
            slowest = (seconds, description)
    if worker is not None:
        worker.close()
    return {
        "cases": len(cases),
        "outcomes": dict(counts),
        "refused_by_field": dict(fields),
        "failures": failures,
        "slowest": (round(slowest[0], 3), slowest[1]),
    }


def mutants(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    bases = base_files()
    cases = [(f"{name}: unmodified", json.dumps(doc)) for name, doc in sorted(bases.items())]
    while len(cases) < count:
        cases.append(mutate(rng, bases))
    return cases


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    _worker_main(int(sys.argv[2]), int(sys.argv[3]))

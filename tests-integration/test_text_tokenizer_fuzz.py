"""Fuzzing axon-text's tokenizer.json loader with 12,000 mutated files (seeded) built from six small
valid ones that cover every component family of HF tokenizers (byte-level and character BPE,
WordPiece, a Llama-3-style Split regex, a character model with normalizer sequence and template,
Unigram with a SentencePiece Precompiled charsmap built in the test helper).

Mutations (``packages/axon-text/tests/_tokenizer_mutants.py``): scalars set to edge values (0, -1,
2**31, 2**64, 10**30, floats, bools, null, wrong types), strings set to edge strings (empty, 5,000
characters, lone surrogates, regex metacharacters), catastrophic and malformed regexes planted in a
Split pre-tokenizer or a Replace normalizer, hostile components (Fixed padding 2**31, truncation
2**40, FixedLength 0, Replace rules that grow text, templates adding 50,000 tokens, WordPiece words
of 10**9 characters, NaN scores, ids past 2**32), keys deleted, types renamed, components swapped
between files, the Precompiled trie corrupted (cut, bit flips, header, units), 10-400-deep nesting,
lists emptied or grown, and damage to the JSON text (cuts, stray characters, duplicate keys, a
5,000-digit integer, 5,000 open brackets).

Each mutant is loaded (every tenth through a real file) and, when it loads, used: encode, batch,
tokenize, pair, decode, and (every eighth) a 9,000-character text under truncation. Every case runs
in a worker process with RLIMIT_AS 2 GiB and RLIMIT_CPU 10 s per case, watched by the parent (20 s
of wall time): it must end in a loaded tokenizer or a TokenizerError (an axon error when used) --
no other exception, no hang, no crash (an abort on a failed allocation would kill the worker).
The counts are printed (``pytest -s``).
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "_tokenizer_mutants", ROOT / "packages/axon-text/tests/_tokenizer_mutants.py"
)
mutants = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutants)

CASES = 12_000


def test_ten_thousand_mutated_tokenizer_files_end_in_typed_errors() -> None:
    start = time.perf_counter()
    cases = mutants.mutants(CASES, seed=23)
    report = mutants.run_isolated(cases, case_seconds=20.0, memory_bytes=2 << 30, cpu_seconds=10)
    report["seconds"] = round(time.perf_counter() - start, 1)
    print("tokenizer fuzz:", json.dumps({k: v for k, v in report.items() if k != "failures"}))
    assert report["failures"] == [], report["failures"][:10]
    outcomes = report["outcomes"]
    assert sum(outcomes.values()) == CASES
    loaded = sum(n for key, n in outcomes.items() if key.startswith("use"))
    # both paths are exercised in bulk: files the checks or the engine refuse, and files that load
    assert outcomes["refused"] > 3_000 and loaded > 2_000, outcomes
    assert set(report["refused_by_field"]) >= {"normalizer", "pre_tokenizer", "model", "post_processor", "padding"}

"""The loader fuzz: 10,000 mutants per format (safetensors, JSON, .axon state dicts, Checkpoints)
plus hostile paths, each loaded in an isolated worker process under RLIMIT_AS and RLIMIT_CPU with a
wall-clock limit (the engine and its mutations: packages/axon-serialize/tests/_fuzz.py).

Allowed outcomes: a SerializationError, or a load that an independent naive reader of the same
bytes agrees with (for the JSON format: every value in the file is exactly the loaded value). No
other exception, no hang, no crash, no worker restart, no header-sized allocation. The counts are
printed (``pytest -s``). About a minute on one core.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

pytestmark = pytest.mark.slow

_path = Path(__file__).resolve().parents[1] / "packages" / "axon-serialize" / "tests" / "_fuzz.py"
_spec = importlib.util.spec_from_file_location("_axon_serialize_fuzz", _path)
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)

PER_FORMAT = 10_000
FOREIGN = 1_000  # extra mutants of a safetensors file that the safetensors package wrote


def test_every_mutant_loads_exactly_or_raises_serialization_error(tmp_path) -> None:
    bases = fuzz.base_files(tmp_path)
    foreign = safetensors.numpy.save(
        {"emb": np.arange(24, dtype=np.float32).reshape(6, 4), "pos": np.arange(3, dtype=np.int64)},
        metadata={"note": "written by safetensors"},  # one key: the Rust writer orders a map's keys at random
    )

    def cases():
        for seed, fmt in enumerate(fuzz.FORMATS):
            yield fmt, "unmutated", bases[fmt]
            for kind, content in fuzz.mutants(fmt, bases[fmt], PER_FORMAT, seed=seed, sweep=True):
                yield fmt, kind, content
            for kind, path in fuzz.special_paths(tmp_path, fmt):
                yield fmt, kind, path
        yield "safetensors", "foreign-unmutated", foreign
        for kind, content in fuzz.mutants("safetensors", foreign, FOREIGN, seed=99, sweep=True):
            yield "safetensors", f"foreign-{kind}", content

    start = time.perf_counter()
    results = fuzz.run_cases(cases(), tmp_path)
    seconds = time.perf_counter() - start
    print(f"\n{fuzz.report(results)}\n{sum(results['outcomes'].values())} cases in {seconds:.0f} s")
    kinds = sorted({kind.removeprefix("foreign-").split("+")[0] for _, kind in results["kinds"]})
    print(f"mutation kinds: {kinds}")

    assert results["failures"] == [], fuzz.report(results)
    assert results["restarts"] == 0
    for fmt in fuzz.FORMATS:
        total = sum(n for (f, _), n in results["outcomes"].items() if f == fmt)
        assert total >= PER_FORMAT + 1 + 3
        # Both outcomes occur: the mutations reach past the first check, and valid files still load.
        assert results["outcomes"][fmt, "ok"] > 10 and results["outcomes"][fmt, "typed"] > PER_FORMAT // 2
    for name in ("unmutated", "foreign-unmutated"):
        assert results["kinds"]["safetensors", name] == 1
    assert results["peak_rss_kb"] < 256 * 1024  # MiB-sized at most: no allocation sized by a header field

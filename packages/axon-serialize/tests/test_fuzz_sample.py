"""A fast sample of the loader fuzzer (tests-integration/test_serialize_fuzz.py runs 10,000 mutants
per format): mutants of a valid file of each format, loaded in an isolated worker process under
memory and CPU limits, end in a load that a naive reader agrees with or in a SerializationError."""

from __future__ import annotations

import importlib.util
import signal
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("_axon_serialize_fuzz", Path(__file__).with_name("_fuzz.py"))
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)

SAMPLE = 150  # per format


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    bases = fuzz.base_files(folder)

    def cases():
        for seed, fmt in enumerate(fuzz.FORMATS):
            yield fmt, "unmutated", bases[fmt]
            for kind, content in fuzz.mutants(fmt, bases[fmt], SAMPLE, seed=100 + seed, sweep=False):
                yield fmt, kind, content
            for kind, path in fuzz.special_paths(folder, fmt):
                yield fmt, kind, path

    return fuzz.run_cases(cases(), folder)


def test_every_mutant_loads_or_raises_serialization_error(results) -> None:
    assert results["failures"] == [], fuzz.report(results)
    assert results["restarts"] == 0


def test_the_sample_ran_every_format_and_the_valid_files_loaded(results) -> None:
    for fmt in fuzz.FORMATS:
        assert sum(n for (f, _), n in results["outcomes"].items() if f == fmt) >= SAMPLE + 3
        assert results["kinds"][fmt, "unmutated"] == 1 and results["outcomes"][fmt, "ok"] >= 1
        assert results["outcomes"][fmt, "typed"] > SAMPLE // 2
        assert results["kinds"][fmt, "fifo"] == 1 and results["kinds"][fmt, "link to /dev/zero"] == 1


def test_the_worker_reports_what_it_must_not_pass(tmp_path) -> None:
    # The harness itself: a typed error passes; an untyped one, a hang, a crash, a CPU spin and an
    # allocation past the memory limit are each reported, and a dead or stuck worker is replaced.
    path = tmp_path / "x.json"
    path.write_bytes(b"{}")
    worker = fuzz.Worker()
    old = fuzz.CASE_WALL_SECONDS
    try:
        assert worker.run("json", path)["outcome"] == "typed"
        assert worker.run("checkpoint", path)["outcome"] == "typed"
        memory = worker.run("selftest-memory", path)
        assert memory["outcome"] == "untyped" and memory["detail"].startswith("MemoryError"), memory
        fuzz.CASE_WALL_SECONDS = 2.0
        assert worker.run("selftest-hang", path)["outcome"] == "hang"
        fuzz.CASE_WALL_SECONDS = 60.0  # a spin of about one CPU second, on a shared machine
        assert worker.run("selftest-crash", path) == {"outcome": "died", "detail": f"exit status {-signal.SIGSEGV}"}
        assert worker.run("selftest-cpu", path) == {"outcome": "died", "detail": f"exit status {-signal.SIGXCPU}"}
        assert worker.restarts == 3 and worker.run("json", path)["outcome"] == "typed"
    finally:
        fuzz.CASE_WALL_SECONDS = old
        worker.close()

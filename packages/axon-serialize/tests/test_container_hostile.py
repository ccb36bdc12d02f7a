"""Truncated, corrupted and hostile axon files get a SerializationError naming the problem,
never a crash, a hang or an allocation sized by a header field. Includes a hypothesis fuzz."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from axon_serialize import SerializationError, read_container, write_container
from axon_serialize.container import MAGIC

_VALID: list[bytes] = []
# The data section of the hostile-header fuzz: 128 distinct bytes.
FUZZ_DATA = bytes(range(128))


def _valid_file(tmp_path) -> bytes:
    """The bytes of one valid file (written once: the fuzzers mutate copies of it)."""
    if not _VALID:
        path = tmp_path / "valid.axon"
        write_container(
            path,
            {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.array([1, 2], np.int64)},
            tree={"x": 1},
            metadata={"kind": "state_dict"},
        )
        _VALID.append(path.read_bytes())
    return _VALID[0]


def _with_header(header: dict, data: bytes = b"\0" * 128) -> bytes:
    """A file with an arbitrary header and a correct checksum (so only the header is hostile)."""
    body = json.dumps(header).encode()
    prefix = struct.pack("<8sIQ", MAGIC, 1, len(body)) + body
    prefix += b"\0" * (-len(prefix) % 64)
    content = prefix + data
    return content + hashlib.sha256(content).digest()


def _load(tmp_path, content: bytes, name: str = "f.axon"):
    path = tmp_path / name
    path.write_bytes(content)
    return read_container(path)


def test_valid_file_round_trips(tmp_path) -> None:
    tensors, tree, metadata = _load(tmp_path, _valid_file(tmp_path))
    np.testing.assert_array_equal(tensors["a"], np.arange(12, dtype=np.float32).reshape(3, 4))
    assert tensors["b"].tolist() == [1, 2] and tree == {"x": 1} and metadata == {"kind": "state_dict"}


def test_every_truncation_is_reported(tmp_path) -> None:
    content = _valid_file(tmp_path)
    for length in range(len(content)):
        with pytest.raises(SerializationError):
            _load(tmp_path, content[:length])


def test_flipped_data_byte_fails_the_checksum(tmp_path) -> None:
    content = bytearray(_valid_file(tmp_path))
    content[-40] ^= 0x01
    with pytest.raises(SerializationError, match="checksum mismatch"):
        _load(tmp_path, bytes(content))


def test_wrong_magic_and_version(tmp_path) -> None:
    content = _valid_file(tmp_path)
    with pytest.raises(SerializationError, match="offset 0: not an axon file"):
        _load(tmp_path, b"PKZIPxxx" + content[8:])
    with pytest.raises(SerializationError, match="offset 8: unsupported version 7"):
        _load(tmp_path, content[:8] + struct.pack("<I", 7) + content[12:])


def test_header_length_past_the_end(tmp_path) -> None:
    content = _valid_file(tmp_path)
    with pytest.raises(SerializationError, match="offset 12: header length 18446744073709551615 exceeds"):
        _load(tmp_path, content[:12] + struct.pack("<Q", 2**64 - 1) + content[20:])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"dtype": "float32", "shape": [2**40, 2**40], "offset": 0, "nbytes": 2**82}, "more than 281474976710656"),
        ({"dtype": "float32", "shape": [0, 2**61], "offset": 0, "nbytes": 0}, "more than 281474976710656"),
        ({"dtype": "float32", "shape": [2**20, 2**20], "offset": 0, "nbytes": 2**42}, "run past the data section"),
        ({"dtype": "float32", "shape": [2**20, 2**20], "offset": 0, "nbytes": 16}, "needs 4398046511104 bytes"),
        ({"dtype": "float32", "shape": [2**40, 2**40], "offset": 0, "nbytes": 16}, "spans 4835703278458516698824704"),
        ({"dtype": "float32", "shape": [1] * 65, "offset": 0, "nbytes": 4}, "65 dimensions, more than 64"),
        ({"dtype": "float32", "shape": [4], "offset": 10**12, "nbytes": 16}, "run past the data section"),
        ({"dtype": "float99", "shape": [4], "offset": 0, "nbytes": 16}, "unknown dtype 'float99'"),
        ({"dtype": "float32", "shape": [-4], "offset": 0, "nbytes": 16}, "bad shape"),
        ({"dtype": "float32", "shape": "4", "offset": 0, "nbytes": 16}, "bad shape"),
        ({"dtype": "float32", "shape": [4], "offset": -64, "nbytes": 16}, "bad offset"),
        ({"dtype": "float32", "shape": [4], "offset": 0, "nbytes": True}, "bad offset"),
        ("not an object", "entry is not an object"),
    ],
)
def test_hostile_headers(tmp_path, entry, message) -> None:
    with pytest.raises(SerializationError, match=message):
        _load(tmp_path, _with_header({"tensors": {"w": entry}, "tree": None}))


def test_overlapping_tensors(tmp_path) -> None:
    table = {
        "a": {"dtype": "float32", "shape": [8], "offset": 0, "nbytes": 32},
        "b": {"dtype": "float32", "shape": [8], "offset": 16, "nbytes": 32},
    }
    with pytest.raises(SerializationError, match="overlap at data offset 16"):
        _load(tmp_path, _with_header({"tensors": table}))


def test_header_that_is_not_json(tmp_path) -> None:
    body = b"\xff\xfe{"
    prefix = struct.pack("<8sIQ", MAGIC, 1, len(body)) + body + b"\0" * 64
    with pytest.raises(SerializationError, match="offset 20: header is not valid JSON"):
        _load(tmp_path, prefix + hashlib.sha256(prefix).digest())


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_mutated_files_only_raise_serialization_error(tmp_path, data) -> None:
    content = bytearray(_valid_file(tmp_path))
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "overwrite_int"]))
        if kind == "flip" and content:
            at = data.draw(st.integers(0, len(content) - 1))
            content[at] ^= data.draw(st.integers(1, 255))
        elif kind == "truncate":
            del content[data.draw(st.integers(0, len(content))) :]
        elif kind == "insert":
            at = data.draw(st.integers(0, len(content)))
            content[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        elif len(content) >= 8:
            at = data.draw(st.integers(0, len(content) - 8))
            content[at : at + 8] = struct.pack("<Q", data.draw(st.sampled_from([0, 1, 2**31, 2**63, 2**64 - 1])))
    try:
        _load(tmp_path, bytes(content))
    except SerializationError:
        pass


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    dtype=st.sampled_from(["float32", "int64", "bool", "bfloat16", "nope", 3, None]),
    shape=st.one_of(st.lists(st.integers(-2, 2**62), max_size=4), st.text(max_size=3), st.none()),
    offset=st.one_of(st.integers(-10, 2**64), st.floats(), st.none()),
    nbytes=st.one_of(st.integers(-10, 2**64), st.none()),
)
def test_fuzz_hostile_headers_with_valid_checksums(tmp_path, dtype, shape, offset, nbytes) -> None:
    entry = {"dtype": dtype, "shape": shape, "offset": offset, "nbytes": nbytes}
    content = _with_header({"tensors": {"w": entry}}, FUZZ_DATA)
    try:
        tensors, _, _ = _load(tmp_path, content)
    except SerializationError:
        return
    # Anything accepted must be exactly what the header describes: its dtype and shape, and the bytes
    # of the data section it points at (all distinct, so a read from elsewhere shows).
    w = tensors["w"]
    assert w.nbytes == nbytes <= 128 and list(w.shape) == shape and str(w.dtype) == dtype
    assert w.tobytes() == FUZZ_DATA[offset : offset + nbytes]

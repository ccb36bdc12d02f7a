"""Issue 23's hostile inputs, each in every format it applies to: every problem is a
SerializationError naming it, the exact JSON format refuses what it cannot hold exactly, only
regular files are read, a truncation while reading is an error (no mmap, so no SIGBUS), and the
.axon file's optional HMAC catches what its SHA-256 cannot."""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
import signal
import struct
import sys

import numpy as np
import pytest

import axon_serialize._files as files
import axon_serialize.container as container
from axon_serialize import (
    Checkpoint,
    SerializationError,
    TrainingState,
    load_json,
    load_safetensors,
    load_state_dict,
    read_container,
    save_state_dict,
    write_container,
)
from axon_serialize.container import MAGIC
from axon_tensor import from_numpy

BIG = "1" * 4301  # one digit past CPython's default int_max_str_digits


def axon_bytes(header: dict | str, data: bytes = b"\0" * 64, digest: bool = True) -> bytes:
    """An .axon file around ``header`` (a dict, or raw JSON text) with a correct SHA-256 (or a wrong one)."""
    text = (header if isinstance(header, str) else json.dumps(header)).encode()
    body = struct.pack("<8sIQ", MAGIC, 1, len(text)) + text
    body += b"\0" * (-len(body) % 64) + data
    return body + (hashlib.sha256(body).digest() if digest else b"\0" * 32)


def safetensors_bytes(header: dict | str, data: bytes = b"\0" * 8) -> bytes:
    text = (header if isinstance(header, str) else json.dumps(header)).encode()
    return struct.pack("<Q", len(text)) + text + data


def json_bytes(tensors: dict | str) -> bytes:
    if isinstance(tensors, str):
        return ('{"format": "axon-state-dict", "version": 1, "tensors": ' + tensors + "}").encode()
    return json.dumps({"format": "axon-state-dict", "version": 1, "tensors": tensors}).encode()


def checkpoint_bytes(tree: dict | str, table: dict | None = None, data: bytes = b"\0" * 64) -> bytes:
    tree_text = tree if isinstance(tree, str) else json.dumps(tree)
    header = f'{{"tensors": {json.dumps(table or {})}, "tree": {tree_text}, "metadata": {{"kind": "checkpoint"}}}}'
    return axon_bytes(header, data)


def load(tmp_path, fmt: str, content: bytes):
    path = tmp_path / f"f{'.safetensors' if fmt == 'safetensors' else '.json' if fmt == 'json' else '.axon'}"
    path.write_bytes(content)
    return Checkpoint.load(path) if fmt == "checkpoint" else load_state_dict(path)


def f32(shape: list, nbytes: int = 4) -> dict:
    return {"dtype": "float32", "shape": shape, "offset": 0, "nbytes": nbytes}


def hostile_shape(fmt: str, shape: list, nbytes: int = 4) -> bytes:
    """A file of ``fmt`` whose one tensor has ``shape``, everything else valid."""
    if fmt == "safetensors":
        return safetensors_bytes({"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, nbytes]}}, b"\0" * nbytes)
    if fmt == "json":
        return json_bytes({"w": {"dtype": "float32", "shape": shape, "values": [1.0] * (nbytes // 4)}})
    if fmt == "axon":
        return axon_bytes({"tensors": {"w": f32(shape, nbytes)}, "metadata": {"kind": "state_dict"}})
    return checkpoint_bytes({"model": {"w": {"__tensor__": "w"}}, "training": {}}, {"w": f32(shape, nbytes)})


ALL = ["safetensors", "json", "axon", "checkpoint"]


# ---- shapes NumPy cannot describe ----


@pytest.mark.parametrize("fmt", ALL)
def test_more_than_64_dimensions(tmp_path, fmt) -> None:
    with pytest.raises(SerializationError, match="65 dimensions, more than 64"):
        load(tmp_path, fmt, hostile_shape(fmt, [1] * 65))
    loaded = load(tmp_path, fmt, hostile_shape(fmt, [1] * 64))
    assert (loaded.model if fmt == "checkpoint" else loaded)["w"].shape == (1,) * 64


@pytest.mark.parametrize("fmt", ALL)
def test_an_empty_shape_too_wide_for_numpy(tmp_path, fmt) -> None:
    with pytest.raises(SerializationError, match=r"shape \[0, 9223372036854775808\] spans"):
        load(tmp_path, fmt, hostile_shape(fmt, [0, 2**63], nbytes=0))


# ---- integers Python's json cannot convert ----


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("safetensors", safetensors_bytes(f'{{"w": {{"dtype": "F32", "shape": [{BIG}], "data_offsets": [0, 4]}}}}')),
        ("json", json_bytes(f'{{"w": {{"dtype": "int64", "shape": [1], "values": [{BIG}]}}}}')),
        ("axon", axon_bytes(f'{{"tensors": {{}}, "tree": {BIG}}}')),
        ("checkpoint", checkpoint_bytes(f'{{"model": {{}}, "training": {{"step": {BIG}}}}}')),
    ],
)
def test_an_integer_of_4301_digits(tmp_path, fmt, content) -> None:
    with pytest.raises(SerializationError, match="an integer of 4301 digits"):
        load(tmp_path, fmt, content)


def test_a_huge_integer_in_a_corrupted_file_is_reported_as_corruption(tmp_path) -> None:
    content = axon_bytes(f'{{"tensors": {{}}, "tree": {BIG}}}', digest=False)
    with pytest.raises(SerializationError, match="checksum mismatch.*an integer of 4301 digits"):
        load(tmp_path, "axon", content)


@pytest.mark.parametrize("limit", [0, 640, 4300])
def test_the_digit_cap_holds_whatever_the_interpreters_limit(tmp_path, limit) -> None:
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(limit)
    try:
        with pytest.raises(SerializationError, match="an integer of 5000 digits"):
            load(tmp_path, "axon", axon_bytes(f'{{"tensors": {{}}, "tree": {"9" * 5000}}}'))
        path = tmp_path / "thousand.axon"
        path.write_bytes(axon_bytes(f'{{"tensors": {{}}, "tree": {"9" * 1000}}}'))
        if limit == 640:  # the interpreter's own lower limit is respected, as a typed error
            with pytest.raises(SerializationError, match="an integer of 1000 digits"):
                read_container(path)
        else:
            assert read_container(path)[1] == int("9" * 1000)
    finally:
        sys.set_int_max_str_digits(previous)


# ---- values of the wrong type where a name or tag is expected ----


@pytest.mark.parametrize("dtype", [["float32"], {"a": 1}, 3, None])
@pytest.mark.parametrize("fmt", ["json", "axon"])
def test_an_unhashable_or_non_string_dtype(tmp_path, fmt, dtype) -> None:
    entry = {"dtype": dtype, "shape": [1], "values": [1.0]} if fmt == "json" else {**f32([1]), "dtype": dtype}
    content = json_bytes({"w": entry}) if fmt == "json" else axon_bytes({"tensors": {"w": entry}})
    with pytest.raises(SerializationError, match="unknown dtype"):
        load(tmp_path, fmt, content)


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"model": {"w": {"__tensor__": []}}, "training": {}}, r"refers to tensor \[\]"),
        ({"model": {"w": {"__tensor__": {}}}, "training": {}}, r"refers to tensor \{\}"),
        ({"model": {"w": {"__float__": []}}, "training": {}}, "bad non-finite float"),
        ({"model": {"w": {"__bytes__": 5}}, "training": {}}, "bad hex bytes"),
        ({"model": {"w": {"__dict__": [[[], 1]]}}, "training": {}}, "not hashable"),
        ({"model": {"w": {"__tuple__": 5}}, "training": {}}, "expected a list"),
        ({"model": [], "training": {}}, "lacks model or training"),
        ({"model": {}, "training": {}, "optimizer": [1]}, r"checkpoint optimizer is \[1\], not a dict"),
        ({"model": {}, "training": {}, "rng": 5}, "checkpoint rng is 5, not a dict"),
    ],
)
def test_bad_checkpoint_trees(tmp_path, tree, message) -> None:
    with pytest.raises(SerializationError, match=message):
        load(tmp_path, "checkpoint", checkpoint_bytes(tree))


@pytest.mark.parametrize("depth", [101, 500, 100_000])
def test_deep_nesting(tmp_path, depth) -> None:
    deep = "[" * depth + "]" * depth
    with pytest.raises(SerializationError, match="nested (deeper than 100 levels|too deeply)"):
        load(tmp_path, "checkpoint", checkpoint_bytes(f'{{"model": {{}}, "training": {{}}, "extra": {{"x": {deep}}}}}'))
    with pytest.raises(SerializationError, match="nested too deeply" if depth > 1000 else "is .*, not a number"):
        load(tmp_path, "json", json_bytes(f'{{"w": {{"dtype": "float32", "shape": [1], "values": {deep}}}}}'))


def test_deep_trees_within_the_limit_round_trip_and_cycles_are_refused_at_save(tmp_path) -> None:
    deep: list = []
    for _ in range(99):
        deep = [deep]
    Checkpoint(model={}, extra={"deep": deep}).save(tmp_path / "deep.axon")
    assert Checkpoint.load(tmp_path / "deep.axon").extra["deep"] == deep
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(SerializationError, match="nested deeper than 100 levels at extra.c.0.0"):
        Checkpoint(model={}, extra={"c": cycle}).save(tmp_path / "cycle.axon")
    assert not (tmp_path / "cycle.axon").exists()


# ---- the exact JSON format ----


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        ("float32", None, "value 0 is None, not a number"),
        ("float32", True, "value 0 is True, not a number"),
        ("float32", [1.0], r"value 0 is \[1.0\], not a number"),
        ("float32", "1.0", "value 0 is '1.0', not a number"),
        ("float32", 1e39, r"not exactly representable in float32 \(it would become inf\)"),
        ("float32", 1e-46, r"not exactly representable in float32 \(it would become 0.0\)"),
        ("float32", 0.1, r"\(0.1\) is not exactly representable in float32"),
        ("float32", 2**24 + 1, r"\(16777217\) is not exactly representable in float32"),
        ("float16", 65520.0, r"float16 \(it would become inf\)"),
        ("bfloat16", 1.001, "not exactly representable in bfloat16"),
        ("float64", 2**53 + 1, "not exactly representable in float64"),
        ("float64", 10**400, "not exactly representable in float64"),
        ("int64", 1.5, "value 0 is 1.5, not an integer"),
        ("int64", 1.0, "value 0 is 1.0, not an integer"),
        ("int64", True, "value 0 is True, not an integer"),
        ("int64", None, "value 0 is None, not an integer"),
        ("int8", 128, r"not an integer in \[-128, 127\]"),
        ("uint8", -1, r"not an integer in \[0, 255\]"),
        ("int64", 2**63, r"not an integer in \[-9223372036854775808, 9223372036854775807\]"),
        ("bool", 1, "value 0 is 1, not true/false"),
        ("bool", None, "not true/false"),
        ("complex64", [1.0], r"value 0 is \[1.0\], not a \[real, imag\] pair"),
        ("complex64", 1.0, "not a \\[real, imag\\] pair"),
        ("complex64", [0.0, 1e39], r"value 0 \(imag part\) \(1e\+39\) is not exactly representable in float32"),
    ],
)
def test_the_exact_json_format_refuses_what_it_would_change(tmp_path, dtype, value, message) -> None:
    with pytest.raises(SerializationError, match=message):
        load(tmp_path, "json", json_bytes({"w": {"dtype": dtype, "shape": [1], "values": [value]}}))


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("NaN", "NaN is not JSON"),
        ("Infinity", "Infinity is not JSON"),
        ("-Infinity", "-Infinity is not JSON"),
        ("1e400", "the number 1e400 overflows a float64"),
        ("-1e400", "overflows a float64"),
        ("1e-400", "the number 1e-400 underflows a float64 to zero"),
        ("1" + "0" * 309 + ".0", "the number 1000.* overflows a float64"),  # no exponent at all
        ("0." + "0" * 400 + "1", "underflows a float64 to zero"),
        ("1" + "0" * 199 + "e110", "overflows a float64"),  # a 200-digit run, a 3-digit exponent
        ("1" + "0" * 150 + "e200", "overflows a float64"),
        ("1" + "0" * 150 + "E+200", "overflows a float64"),
        ("1" + "0" * 150 + ".0e-500", "underflows a float64 to zero"),
    ],
)
def test_json_tokens_python_would_turn_into_other_numbers(tmp_path, token, message) -> None:
    with pytest.raises(SerializationError, match=message):
        load(tmp_path, "json", json_bytes(f'{{"w": {{"dtype": "float64", "shape": [1], "values": [{token}]}}}}'))


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        ("float32", 0.5, 0.5),
        ("float32", 3, 3.0),
        ("float32", "nan", math.nan),
        ("float32", "-inf", -math.inf),
        ("float32", -0.0, -0.0),
        ("float32", float(np.float32(0.1)), float(np.float32(0.1))),
        ("float32", float(np.float32(1e-45)), float(np.float32(1e-45))),  # the smallest subnormal
        ("float64", 5e-324, 5e-324),
        ("float64", 2**53, 2.0**53),
        ("float64", 0.0, 0.0),
        ("float16", 65504.0, 65504.0),
        ("int64", -(2**63), -(2**63)),
        ("int64", 2**63 - 1, 2**63 - 1),
        ("uint8", 255, 255),
        ("bool", False, False),
    ],
)
def test_the_exact_json_format_reads_what_it_can_hold(tmp_path, dtype, value, expected) -> None:
    loaded = load(tmp_path, "json", json_bytes({"w": {"dtype": dtype, "shape": [1], "values": [value]}}))
    got = loaded["w"].numpy().tolist()[0]
    assert (math.isnan(got) and math.isnan(expected)) or (
        got == expected and math.copysign(1, got) == math.copysign(1, expected)
    )


@pytest.mark.parametrize(
    "token", ["1" + "0" * 198 + "e99", "1" + "0" * 199 + "e108", "0." + "0" * 197 + "1e-99", "1e99", "-2.5e-99"]
)
def test_long_and_scaled_numbers_that_fit_are_read(tmp_path, token) -> None:
    loaded = load(tmp_path, "json", json_bytes(f'{{"w": {{"dtype": "float64", "shape": [1], "values": [{token}]}}}}'))
    assert loaded["w"].numpy().tolist() == [float(token)]


def test_unsupported_json_version(tmp_path) -> None:
    content = json.dumps({"format": "axon-state-dict", "version": 2, "tensors": {}}).encode()
    with pytest.raises(SerializationError, match="unsupported version 2"):
        load(tmp_path, "json", content)


# ---- duplicate names ----


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        (
            "json",
            json_bytes(
                '{"w": {"dtype": "float32", "shape": [1], "values": [1.0]}, '
                '"w": {"dtype": "float32", "shape": [1], "values": [2.0]}}'
            ),
        ),
        ("json", json_bytes('{"w": {"dtype": "float32", "shape": [1], "shape": [2], "values": [1.0, 2.0]}}')),
        (
            "axon",
            axon_bytes(
                '{"tensors": {"w": {"dtype": "float32", "shape": [1], "offset": 0, "nbytes": 4}, '
                '"w": {"dtype": "float32", "shape": [1], "offset": 0, "nbytes": 4}}}'
            ),
        ),
        (
            "safetensors",
            safetensors_bytes(
                '{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, '
                '"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}'
            ),
        ),
        ("checkpoint", checkpoint_bytes('{"model": {}, "model": {}, "training": {}}')),
    ],
)
def test_duplicate_names(tmp_path, fmt, content) -> None:
    with pytest.raises(SerializationError, match="duplicate key '(w|shape|model)'"):
        load(tmp_path, fmt, content)


# ---- TrainingState ----


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("epoch", "x", "a non-negative int"),
        ("epoch", -1, "a non-negative int"),
        ("epoch", True, "a non-negative int"),
        ("step", [1], "a non-negative int"),
        ("step", 1.0, "a non-negative int"),
        ("loss_history", 3, "a list of numbers"),
        ("loss_history", [1.0, "a"], "a list of numbers"),
        ("loss_history", [None], "a list of numbers"),
        ("best_metric", "0.5", "a number or null"),
        ("best_metric", [0.5], "a number or null"),
        ("metric_histories", [], "a dict of lists of numbers"),
        ("metric_histories", {"acc": [None]}, "a dict of lists of numbers"),
        ("metric_histories", {"acc": 0.5}, "a dict of lists of numbers"),
    ],
)
def test_training_state_fields_are_type_checked(tmp_path, field, value, expected) -> None:
    content = checkpoint_bytes({"model": {}, "training": {field: value}})
    with pytest.raises(SerializationError, match=rf"training\.{field} is .*, expected {expected}"):
        load(tmp_path, "checkpoint", content)
    with pytest.raises(SerializationError, match=rf"training\.{field}"):
        TrainingState.from_dict({field: value})


def test_training_state_keeps_valid_values_and_ignores_unknown_keys(tmp_path) -> None:
    tree = {"model": {}, "training": {"epoch": 2, "step": 9, "loss_history": [1, 0.5], "best_metric": None, "new": 1}}
    loaded = load(tmp_path, "checkpoint", checkpoint_bytes(tree)).training
    assert loaded == TrainingState(epoch=2, step=9, loss_history=[1, 0.5], best_metric=None)


# ---- paths that are not regular files ----


@pytest.fixture
def deadline():
    """Turns a hang into a failure after 20 s."""

    def expire(signum, frame):
        raise TimeoutError("the loader hung")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def _loader(fmt: str):
    return Checkpoint.load if fmt == "checkpoint" else load_state_dict


SUFFIXES = {"safetensors": ".safetensors", "json": ".json", "axon": ".axon", "checkpoint": ".axon"}


@pytest.mark.parametrize("fmt", ALL)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, deadline, fmt) -> None:
    fifo = tmp_path / f"model{SUFFIXES[fmt]}"
    os.mkfifo(fifo)
    with pytest.raises(SerializationError, match="is a FIFO; only regular files are read"):
        _loader(fmt)(fifo)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
@pytest.mark.parametrize("fmt", ALL)
def test_a_device_behind_a_model_name_is_refused(tmp_path, deadline, fmt, device) -> None:
    link = tmp_path / f"model{SUFFIXES[fmt]}"
    os.symlink(device, link)
    with pytest.raises(SerializationError, match="is a character device"):
        _loader(fmt)(link)


@pytest.mark.parametrize("fmt", ALL)
def test_a_directory_is_refused(tmp_path, fmt) -> None:
    folder = tmp_path / f"model{SUFFIXES[fmt]}"
    folder.mkdir()
    with pytest.raises(SerializationError, match="is a directory"):
        _loader(fmt)(folder)


# ---- files that change while they are read ----


def _saved(tmp_path, fmt: str):
    state = {"w": from_numpy(np.arange(4096, dtype=np.float32)), "b": from_numpy(np.ones(7, np.int64))}
    path = tmp_path / f"model{SUFFIXES[fmt]}"
    if fmt == "checkpoint":
        Checkpoint(model=state).save(path)
    else:
        save_state_dict(state, path)
    return path


@pytest.mark.parametrize("fmt", ALL)
def test_a_file_truncated_while_being_read_is_an_error(tmp_path, monkeypatch, fmt) -> None:
    # Another process truncates the file just after the loader opened it and took its size. With a
    # mmap this was a SIGBUS; a plain read sees the file end early.
    path = _saved(tmp_path, fmt)

    def truncating(real):
        def open_then_truncate(target, where):
            handle, size = real(target, where)
            os.truncate(target, size // 2)
            return handle, size

        return open_then_truncate

    monkeypatch.setattr(files, "open_regular", truncating(files.open_regular))
    monkeypatch.setattr(container, "open_regular", truncating(container.open_regular))
    with pytest.raises(SerializationError, match=r"bytes early \(truncated while being read\?\)"):
        _loader(fmt)(path)


def test_a_file_growing_while_being_read_is_an_error(tmp_path, monkeypatch) -> None:
    path = _saved(tmp_path, "json")
    real = files.open_regular

    def open_then_append(target, where):
        handle, size = real(target, where)
        with open(target, "ab") as more:
            more.write(b" ")
        return handle, size

    monkeypatch.setattr(files, "open_regular", open_then_append)
    with pytest.raises(SerializationError, match="grew past"):
        load_json(path)


@pytest.mark.parametrize("fmt", ALL)
def test_no_loader_maps_the_file(tmp_path, monkeypatch, fmt) -> None:
    path = _saved(tmp_path, fmt)

    def refuse(*args, **kwargs):
        raise AssertionError("a loader used mmap")

    monkeypatch.setattr(mmap, "mmap", refuse)
    loaded = _loader(fmt)(path)
    state = loaded.model if fmt == "checkpoint" else loaded
    assert state["w"].numpy().tolist() == list(range(4096)) and state["b"].numpy().tolist() == [1] * 7


# ---- integrity: corruption versus tampering ----


def _tamper(path) -> None:
    """Change one data byte and write a fresh plain SHA-256, as anyone with write access could."""
    content = bytearray(path.read_bytes())
    content[-40] ^= 0xFF
    content[-32:] = hashlib.sha256(bytes(content[:-32])).digest()
    path.write_bytes(bytes(content))


def test_the_sha256_detects_corruption_but_not_tampering(tmp_path) -> None:
    path = tmp_path / "c.axon"
    Checkpoint(model={"w": from_numpy(np.zeros(64, np.float32))}).save(path)
    corrupted = bytearray(path.read_bytes())
    corrupted[-40] ^= 0xFF
    (tmp_path / "corrupt.axon").write_bytes(bytes(corrupted))
    with pytest.raises(SerializationError, match="checksum mismatch"):
        Checkpoint.load(tmp_path / "corrupt.axon")
    _tamper(path)
    assert Checkpoint.load(path).model["w"].numpy()[-2] != 0  # the tampered value loads: no key, no defence


def test_a_keyed_checkpoint_detects_tampering(tmp_path) -> None:
    key = os.urandom(32)
    path = tmp_path / "c.axon"
    Checkpoint(model={"w": from_numpy(np.arange(64, dtype=np.float32))}).save(path, key=key)
    assert Checkpoint.load(path, key=key).model["w"].numpy().tolist() == list(range(64))
    with pytest.raises(SerializationError, match=r"signed \(HMAC-SHA256\); pass key="):
        Checkpoint.load(path)
    with pytest.raises(SerializationError, match="HMAC mismatch: the file was altered or the key is wrong"):
        Checkpoint.load(path, key=os.urandom(32))
    _tamper(path)
    with pytest.raises(SerializationError, match="HMAC mismatch"):
        Checkpoint.load(path, key=key)


def test_a_signed_state_dict(tmp_path) -> None:
    key = b"k" * 32
    save_state_dict({"w": from_numpy(np.arange(3, dtype=np.float32))}, tmp_path / "w.axon", key=key)
    assert load_state_dict(tmp_path / "w.axon", key=key)["w"].numpy().tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(SerializationError, match="pass key="):
        load_state_dict(tmp_path / "w.axon")
    with pytest.raises(SerializationError, match="only the axon format can be signed with a key, not json"):
        save_state_dict({"w": from_numpy(np.zeros(1, np.float32))}, tmp_path / "w.json", key=key)
    assert not (tmp_path / "w.json").exists()


def test_a_key_refuses_an_unsigned_file(tmp_path) -> None:
    # Otherwise an attacker would strip the signature: rewrite the file unsigned.
    write_container(tmp_path / "plain.axon", {"w": np.zeros(4, np.float32)}, tree=None, metadata={"kind": "state_dict"})
    with pytest.raises(SerializationError, match="not signed, but a key was given"):
        read_container(tmp_path / "plain.axon", key=b"secret")
    with pytest.raises(TypeError, match="key must be non-empty bytes"):
        read_container(tmp_path / "plain.axon", key="secret")
    with pytest.raises(TypeError, match="key must be non-empty bytes"):
        write_container(tmp_path / "x.axon", {}, tree=None, key=b"")


def test_a_damaged_header_is_reported_as_corruption(tmp_path) -> None:
    path = tmp_path / "c.axon"
    Checkpoint(model={"w": from_numpy(np.zeros(4, np.float32))}).save(path)
    content = bytearray(path.read_bytes())
    content[20] = ord("x")  # the header's first byte: no longer valid JSON
    path.write_bytes(bytes(content))
    with pytest.raises(SerializationError, match=r"checksum mismatch: the file is corrupted \(.*not valid JSON"):
        Checkpoint.load(path)


def test_what_the_safetensors_parser_rejects_is_a_serialization_error(tmp_path) -> None:
    path = tmp_path / "w.safetensors"
    save_state_dict({"w": from_numpy(np.arange(3, dtype=np.float32))}, path)
    assert load_safetensors(path)["w"].numpy().tolist() == [0.0, 1.0, 2.0]
    path.write_bytes(safetensors_bytes({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}))
    with pytest.raises(SerializationError, match="not a valid safetensors file"):
        load_safetensors(path)

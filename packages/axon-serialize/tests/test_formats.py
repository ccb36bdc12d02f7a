"""Round trips of every format and dtype, bit for bit, against NumPy's own bytes."""

from __future__ import annotations

import json
import math

import ml_dtypes
import numpy as np
import pytest

from axon_serialize import (
    SerializationError,
    load_json,
    load_safetensors,
    load_state_dict,
    save_json,
    save_safetensors,
    save_state_dict,
)
from axon_tensor import from_numpy

RNG = np.random.default_rng(7)


def _sample(dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return RNG.integers(0, 2, (3, 4)).astype(bool)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return RNG.integers(info.min, info.max, (3, 4), dtype=dtype, endpoint=True)
    if dtype.kind == "c":
        return (RNG.standard_normal((2, 3)) + 1j * RNG.standard_normal((2, 3))).astype(dtype)
    # Random bit patterns cover subnormals, huge values, NaN payload-free specials.
    bits = RNG.integers(0, 2 ** (8 * dtype.itemsize), (5, 7), dtype=np.uint64).astype(f"u{dtype.itemsize}")
    values = bits.view(dtype).copy()
    values[np.isnan(values.astype(np.float64))] = np.nan
    values.flat[:4] = np.array([np.inf, -np.inf, -0.0, np.nan], dtype=np.float64).astype(dtype)
    return values


DTYPES = [
    np.bool_,
    np.uint8,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.float16,
    ml_dtypes.bfloat16,
    np.float32,
    np.float64,
    np.complex64,
]


def _same_bits(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype.kind in "fcV":
        # NaN payloads may be canonicalised; everything else must be the identical bits.
        nan = np.isnan(a.astype(np.complex128 if a.dtype.kind == "c" else np.float64))
        assert np.array_equal(nan, np.isnan(b.astype(np.complex128 if b.dtype.kind == "c" else np.float64)))
        assert a[~nan].tobytes() == b[~nan].tobytes()
    else:
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("suffix", [".safetensors", ".json", ".axon"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip_is_exact(tmp_path, suffix, dtype) -> None:
    arrays = {
        "layer.weight": _sample(dtype),
        "scalar": _sample(dtype).reshape(-1)[:1].reshape(()),
        "empty": np.zeros((0, 3), dtype=dtype),
    }
    path = tmp_path / f"state{suffix}"
    save_state_dict({k: from_numpy(v) for k, v in arrays.items()}, path)
    loaded = load_state_dict(path)
    assert sorted(loaded) == sorted(arrays)
    for name, array in arrays.items():
        _same_bits(array, loaded[name].numpy())


@pytest.mark.parametrize("suffix", [".safetensors", ".json", ".axon"])
def test_non_contiguous_sources_are_written_in_logical_order(tmp_path, suffix) -> None:
    base = RNG.standard_normal((4, 6)).astype(np.float32)
    path = tmp_path / f"t{suffix}"
    save_state_dict({"t": from_numpy(base).numpy().T[::1]}, path)
    np.testing.assert_array_equal(load_state_dict(path)["t"].numpy(), base.T)


def test_json_is_readable_and_exact_for_float32(tmp_path) -> None:
    values = np.array([0.1, 1 / 3, 1e-45, 3.4028235e38, -2.5], dtype=np.float32)
    save_json({"w": from_numpy(values)}, tmp_path / "w.json")
    document = json.loads((tmp_path / "w.json").read_text())
    assert document["tensors"]["w"]["dtype"] == "float32" and document["tensors"]["w"]["shape"] == [5]
    assert document["tensors"]["w"]["values"][0] == float(np.float32(0.1))
    assert load_json(tmp_path / "w.json")["w"].numpy().tobytes() == values.tobytes()


def test_json_rejects_wrong_value_count(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {
                "format": "axon-state-dict",
                "version": 1,
                "tensors": {"w": {"dtype": "float32", "shape": [2, 2], "values": [1, 2, 3]}},
            }
        )
    )
    with pytest.raises(SerializationError, match=r"'w'.*needs 4 values, found 3"):
        load_json(path)


def test_json_rejects_unknown_dtype_and_garbage(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"format": "axon-state-dict", "tensors": {"w": {"dtype": "float128", "shape": [1], "values": [1]}}})
    )
    with pytest.raises(SerializationError, match="unknown dtype 'float128'"):
        load_json(path)
    path.write_text("{not json")
    with pytest.raises(SerializationError, match="not valid JSON"):
        load_json(path)


def test_safetensors_refuses_complex128_and_garbage(tmp_path) -> None:
    with pytest.raises(SerializationError, match="complex128"):
        save_safetensors({"c": from_numpy(np.zeros(2, np.complex128))}, tmp_path / "c.safetensors")
    (tmp_path / "g.safetensors").write_bytes(b"\xff" * 64)
    with pytest.raises(SerializationError, match="not a valid safetensors file"):
        load_safetensors(tmp_path / "g.safetensors")


def test_unknown_suffix_needs_a_format(tmp_path) -> None:
    with pytest.raises(SerializationError, match="suffix"):
        save_state_dict({}, tmp_path / "x.bin")
    save_state_dict({"a": from_numpy(np.ones(2, np.float32))}, tmp_path / "x.bin", format="axon")
    assert load_state_dict(tmp_path / "x.bin", format="axon")["a"].numpy().tolist() == [1.0, 1.0]


def test_missing_file_is_a_serialization_error(tmp_path) -> None:
    for suffix in (".safetensors", ".json", ".axon"):
        with pytest.raises(SerializationError, match="cannot read"):
            load_state_dict(tmp_path / f"absent{suffix}")


def test_nan_and_inf_survive_json(tmp_path) -> None:
    values = np.array([math.nan, math.inf, -math.inf, 1.5], dtype=np.float64)
    save_json({"v": from_numpy(values)}, tmp_path / "v.json")
    assert '"nan"' in (tmp_path / "v.json").read_text()
    np.testing.assert_array_equal(load_json(tmp_path / "v.json")["v"].numpy(), values)


@pytest.mark.parametrize("suffix", [".safetensors", ".json", ".axon"])
def test_empty_tensors_with_wide_dimensions_round_trip(tmp_path, suffix) -> None:
    state = {
        "w": np.ones((2, 2), np.float32),
        "mask": np.zeros((0, 1024), np.float32),
        "e": np.zeros((4096, 0), np.int64),
    }
    save_state_dict({k: from_numpy(v) for k, v in state.items()}, tmp_path / f"m{suffix}")
    loaded = load_state_dict(tmp_path / f"m{suffix}")
    for name, array in state.items():
        assert loaded[name].shape == array.shape and loaded[name].numpy().dtype == array.dtype
    np.testing.assert_array_equal(loaded["w"].numpy(), state["w"])

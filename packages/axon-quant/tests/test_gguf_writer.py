"""Our GGUF writer, read back by gguf-py's GGUFReader (the oracle): keys, values, value types,
tensor types, dims and bytes; inferred types; errors that name the key or tensor and leave no file."""

from __future__ import annotations

import gguf
import ml_dtypes
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q

from axon_quant import GGUFValueType, read_gguf, write_gguf
from axon_quant.errors import GGUFError
from axon_quant.tensor import QuantTensor

V = GGUFValueType
RNG = np.random.default_rng(11)


def read_back(path):
    """{key: (types, value)} and {name: (type, dims, bytes)} as gguf-py reads them."""
    reader = gguf.GGUFReader(path)
    fields = {
        k: (tuple(V(t) for t in f.types), f.contents()) for k, f in reader.fields.items() if not k.startswith("GGUF.")
    }
    tensors = {t.name: (t.tensor_type, tuple(int(d) for d in t.shape), t.data.tobytes()) for t in reader.tensors}
    return reader, fields, tensors


# value, types= entry (None: inferred), the type gguf-py must read back, the value it must read back
VALUE_CASES = [
    ("s", None, (V.STRING,), "s"),
    ("naïve — 😀", None, (V.STRING,), "naïve — 😀"),
    (True, None, (V.BOOL,), True),
    (7, None, (V.UINT32,), 7),
    (2**32 - 1, None, (V.UINT32,), 2**32 - 1),
    (-5, None, (V.INT32,), -5),
    (2**32, None, (V.INT64,), 2**32),
    (-(2**40), None, (V.INT64,), -(2**40)),
    (2**64 - 1, None, (V.UINT64,), 2**64 - 1),
    (0.1, None, (V.FLOAT32,), float(np.float32(0.1))),
    (np.float32(2.5), None, (V.FLOAT32,), 2.5),
    (np.int64(3), None, (V.UINT32,), 3),
    (["a", "bc", ""], None, (V.ARRAY, V.STRING), ["a", "bc", ""]),
    ([1, 2, 3], None, (V.ARRAY, V.UINT32), [1, 2, 3]),
    ([1, -2], None, (V.ARRAY, V.INT32), [1, -2]),
    ([1, 2.5], None, (V.ARRAY, V.FLOAT32), [1.0, 2.5]),
    ([True, False], None, (V.ARRAY, V.BOOL), [True, False]),
    (3, V.INT32, (V.INT32,), 3),
    (3, "uint8", (V.UINT8,), 3),
    (-3, V.INT16, (V.INT16,), -3),
    (1, V.FLOAT64, (V.FLOAT64,), 1.0),
    (1 / 3, V.FLOAT64, (V.FLOAT64,), 1 / 3),
    ([1, 2], V.INT32, (V.ARRAY, V.INT32), [1, 2]),
    ([1, 2], (V.ARRAY, V.UINT64), (V.ARRAY, V.UINT64), [1, 2]),
    ([-1, 0], V.INT8, (V.ARRAY, V.INT8), [-1, 0]),
]


def test_metadata_types_and_values_read_back_by_gguf(tmp_path):
    metadata = {f"case.{i}": case[0] for i, case in enumerate(VALUE_CASES)}
    types = {f"case.{i}": case[1] for i, case in enumerate(VALUE_CASES) if case[1] is not None}
    write_gguf(tmp_path / "m.gguf", metadata, types=types)
    _, fields, _ = read_back(tmp_path / "m.gguf")
    assert list(fields) == list(metadata)
    for i, (value, _, want_types, want_value) in enumerate(VALUE_CASES):
        assert fields[f"case.{i}"] == (want_types, want_value), (value, fields[f"case.{i}"])


def test_nested_arrays_round_trip_through_gguf_and_us(tmp_path):
    nested = [[1, 2], [], [3, 4, 5]]
    write_gguf(tmp_path / "n.gguf", {"n": nested, "e": [[]]}, types={"e": (V.ARRAY, V.ARRAY, V.FLOAT32)})
    _, fields, _ = read_back(tmp_path / "n.gguf")
    assert fields["n"] == ((V.ARRAY, V.ARRAY, V.UINT32), [1, 2, 3, 4, 5])  # gguf-py flattens nesting
    reader = gguf.GGUFReader(tmp_path / "n.gguf")
    # gguf-py gives no type for an empty array's elements; its raw parts hold the element type written
    outer_element, outer_length, inner_element, inner_length = (int(p[0]) for p in reader.fields["e"].parts[3:7])
    assert (outer_element, outer_length, inner_element, inner_length) == (V.ARRAY, 1, V.FLOAT32, 0)
    with read_gguf(tmp_path / "n.gguf") as f:
        assert f.metadata == {"n": nested, "e": [[]]}
        assert f.metadata_types["e"] == (V.ARRAY, V.ARRAY, V.FLOAT32)


@pytest.mark.parametrize("alignment", [None, 1, 64, 4096])
def test_tensors_read_back_by_gguf(tmp_path, alignment):
    f32 = RNG.standard_normal((3, 5)).astype(np.float32)
    f16 = RNG.standard_normal(9).astype(np.float16)
    bf16 = RNG.standard_normal((2, 2, 4)).astype(ml_dtypes.bfloat16)
    q8_raw = gguf.quants.quantize(RNG.standard_normal((4, 64)).astype(np.float32), Q.Q8_0)
    q4k = QuantTensor(RNG.integers(0, 256, (3, 2, 144), dtype=np.uint8), "q4_k", (3, 2, 256))
    tensors = {
        "f32": f32,
        "f16": f16,
        "bf16": bf16,
        "q8": QuantTensor(q8_raw, "q8_0", (4, 64)),
        "q4k": q4k,
        "strided": f32.T,
        "i32": np.arange(6, dtype=np.int32),
        "be": f32.astype(">f4"),
    }
    write_gguf(tmp_path / "t.gguf", {"general.architecture": "llama"}, tensors, alignment=alignment)
    reader, fields, got = read_back(tmp_path / "t.gguf")
    assert reader.alignment == (alignment or 32) and reader.data_offset % reader.alignment == 0
    assert ("general.alignment" in fields) == (alignment not in (None, 32))
    expected = {
        "f32": (Q.F32, (5, 3), f32.tobytes()),
        "f16": (Q.F16, (9,), f16.tobytes()),
        "bf16": (Q.BF16, (4, 2, 2), bf16.tobytes()),
        "q8": (Q.Q8_0, (64, 4), q8_raw.tobytes()),
        "q4k": (Q.Q4_K, (256, 2, 3), q4k.raw.tobytes()),
        "strided": (Q.F32, (3, 5), np.ascontiguousarray(f32.T).tobytes()),
        "i32": (Q.I32, (6,), np.arange(6, dtype=np.int32).tobytes()),
        "be": (Q.F32, (5, 3), f32.tobytes()),
    }
    assert got == expected
    deq = gguf.quants.dequantize(reader.tensors[3].data, Q.Q8_0)
    np.testing.assert_array_equal(deq, gguf.quants.dequantize(q8_raw, Q.Q8_0))


def test_gguf_file_copy_is_byte_identical(tmp_path):
    source = tmp_path / "a.gguf"
    write_gguf(
        source,
        {"general.architecture": "llama", "x": [1, 2], "y": -1.5, "z": ["p", "q"]},
        {"w": RNG.standard_normal((4, 32)).astype(np.float16), "b": np.ones(3, np.float32)},
        alignment=16,
    )
    with read_gguf(source) as f:
        write_gguf(tmp_path / "b.gguf", f.metadata, f.tensors, types=f.metadata_types)
    assert (tmp_path / "b.gguf").read_bytes() == source.read_bytes()


ERROR_CASES = [
    ({"k": []}, {}, None, "cannot infer the element type of an empty list", "k"),
    ({"k": [1, "a"]}, {}, None, "mixed or unsupported element types", "k"),
    ({"k": 2**64}, {}, None, r"fit no GGUF integer type", "k"),
    ({"k": 300}, {"k": V.UINT8}, None, r"UINT8 holds \[0, 255\]", "k"),
    ({"k": -1}, {"k": "uint32"}, None, r"UINT32 holds", "k"),
    ({"k": 1.5}, {"k": V.INT32}, None, "INT32 value must be an int", "k"),
    ({"k": 1}, {"k": V.BOOL}, None, "BOOL value must be True or False", "k"),
    ({"k": 1e39}, {}, None, "beyond the FLOAT32 range", "k"),
    ({"k": b"x"}, {}, None, "a bytes has no GGUF type", "k"),
    ({"k": "x"}, {"k": "uint99"}, None, "is not a GGUF value type", "k"),
    ({"k": 1}, {"other": V.UINT8}, None, "types= names keys that are not in the metadata", None),
    ({"general.alignment": 64}, {}, 32, "alignment=32 but the metadata says general.alignment=64", "general.alignment"),
    ({"general.alignment": 64}, {"general.alignment": V.INT32}, None, "must be a UINT32", "general.alignment"),
    ({}, {}, 48, "not a power of two", "general.alignment"),
    ({"k": [[[[[[[[[1]]]]]]]]]}, {}, None, "lists nested more than 8 deep", "k"),
    ({"k" * 65536: 1}, {}, None, "GGUF keys take at most 65535", "k" * 80),
]


@pytest.mark.parametrize(("metadata", "types", "alignment", "message", "field"), ERROR_CASES)
def test_metadata_errors_name_the_key_and_write_nothing(tmp_path, metadata, types, alignment, message, field):
    target = tmp_path / "bad.gguf"
    with pytest.raises(GGUFError, match=message) as info:
        write_gguf(target, metadata, types=types, alignment=alignment)
    assert info.value.field == field and info.value.path == str(target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (np.zeros(4, np.uint16), "a uint16 array has no ggml type"),
        (np.zeros((1, 1, 1, 1, 2), np.float32), "has 5 dimensions"),
        (np.float32(1.0), "must be a QuantTensor or a NumPy array"),
        (np.zeros((), np.float32), "has 0 dimensions"),
    ],
)
def test_tensor_errors_name_the_tensor(tmp_path, tensor, message):
    with pytest.raises(GGUFError, match=message) as info:
        write_gguf(tmp_path / "bad.gguf", {}, {"t": tensor})
    assert info.value.field == "t"
    with pytest.raises(GGUFError, match="llama.cpp .GGML_MAX_NAME. takes at most 63"):
        write_gguf(tmp_path / "bad.gguf", {}, {"n" * 64: np.zeros(1, np.float32)})
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "m.gguf"
    write_gguf(target, {"a": 1}, {"t": np.ones(2, np.float32)})
    before = target.read_bytes()

    class Exploding(np.ndarray):
        @property
        def flags(self):  # fails while the tensor data is being streamed
            raise OSError("disk full")

    bad = np.ones(2, np.float32).view(Exploding)
    with pytest.raises(OSError, match="disk full"):
        write_gguf(target, {"a": 2}, {"t": bad})
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf"]

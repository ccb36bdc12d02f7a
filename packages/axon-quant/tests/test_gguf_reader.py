"""Our GGUF reader against gguf-py's GGUFReader on files gguf-py's GGUFWriter wrote: every key,
value and value type, every tensor's dims, type, offset and bytes; tensors are read-only views of
one mmap."""

from __future__ import annotations

import mmap

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType
from gguf import GGUFValueType as TheirValueType

from axon_quant import GGUFFile, GGUFValueType, read_gguf

RNG = np.random.default_rng(7)


def write_with_gguf(path, *, alignment=None, endianess=gguf.GGUFEndian.LITTLE):
    """A small file from gguf-py's writer: every scalar type, strings, arrays (nested too) and
    f32 / f16 / q8_0 / q4_k / q6_k / i32 tensors of 1 to 3 dimensions."""
    writer = gguf.GGUFWriter(path, "llama", endianess=endianess)
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    writer.add_uint8("test.u8", 250)
    writer.add_int8("test.i8", -100)
    writer.add_uint16("test.u16", 65000)
    writer.add_int16("test.i16", -32000)
    writer.add_uint32("test.u32", 4_000_000_000)
    writer.add_int32("test.i32", -2_000_000_000)
    writer.add_float32("test.f32", 0.1)
    writer.add_uint64("test.u64", 2**64 - 1)
    writer.add_int64("test.i64", -(2**63))
    writer.add_float64("test.f64", 1 / 3)
    writer.add_bool("test.true", True)
    writer.add_bool("test.false", False)
    writer.add_string("test.unicode", "naïve café — 😀 中文")
    writer.add_array("test.strings", ["a", "", "bb", "é"])
    writer.add_array("test.ints", [1, -2, 3])
    writer.add_array("test.floats", [0.5, -1.25])
    writer.add_array("test.bools", [True, False, True])
    writer.add_array("test.nested", [[1, 2], [3], [4, 5, 6]])
    writer.add_key_value("test.u64s", [0, 2**64 - 1], TheirValueType.ARRAY, sub_type=TheirValueType.UINT64)
    writer.add_tensor("f32.vec", RNG.standard_normal(7).astype(np.float32))
    writer.add_tensor("f16.mat", RNG.standard_normal((3, 5)).astype(np.float16))
    writer.add_tensor("i32.cube", RNG.integers(-9, 9, (2, 3, 4)).astype(np.int32))
    q8 = gguf.quants.quantize(RNG.standard_normal((4, 64)).astype(np.float32), GGMLQuantizationType.Q8_0)
    writer.add_tensor("q8.mat", q8, raw_dtype=GGMLQuantizationType.Q8_0)
    # gguf.quants cannot quantize K-quants; any bytes are valid blocks for the reader.
    writer.add_tensor("q4k.mat", RNG.integers(0, 256, (2, 144), dtype=np.uint8), raw_dtype=GGMLQuantizationType.Q4_K)
    writer.add_tensor("q6k.mat", RNG.integers(0, 256, (3, 420), dtype=np.uint8), raw_dtype=GGMLQuantizationType.Q6_K)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def flatten(value):
    if isinstance(value, list) and value and isinstance(value[0], list):
        return [item for inner in value for item in flatten(inner)]
    return value


def assert_same_as_gguf_reader(ours: GGUFFile, path) -> None:
    theirs = gguf.GGUFReader(path)
    keys = [k for k in theirs.fields if not k.startswith("GGUF.")]  # GGUF.* are gguf-py's header pseudo-fields
    assert list(ours.metadata) == keys
    for key in keys:
        field = theirs.fields[key]
        assert ours.metadata_types[key] == tuple(GGUFValueType(t) for t in field.types), key
        # gguf-py flattens nested arrays (its FIXME); their nesting is checked against the written value.
        assert flatten(ours.metadata[key]) == field.contents(), key
    assert ours.version == theirs.fields["GGUF.version"].contents()
    assert (ours.alignment, ours.data_offset) == (theirs.alignment, theirs.data_offset)
    assert list(ours.tensors) == [t.name for t in theirs.tensors]
    for t in theirs.tensors:
        info, tensor = ours.tensor_infos[t.name], ours.tensors[t.name]
        assert info.dims == tuple(int(d) for d in t.shape)
        assert (info.ggml_type.id, info.offset, info.nbytes) == (int(t.tensor_type), t.data_offset, t.n_bytes)
        assert tensor.shape == tuple(reversed(info.dims)) and tensor.ggml_type is info.ggml_type
        assert tensor.raw.tobytes() == t.data.tobytes(), t.name


@pytest.mark.parametrize("alignment", [None, 64, 1])
def test_gguf_writer_file_reads_like_gguf_reader(tmp_path, alignment):
    path = write_with_gguf(tmp_path / "t.gguf", alignment=alignment)
    with read_gguf(path) as f:
        assert_same_as_gguf_reader(f, path)
        assert f.alignment == (alignment or 32) and f.data_offset % f.alignment == 0
        assert f.metadata["test.u64"] == 2**64 - 1 and f.metadata["test.i64"] == -(2**63)
        assert f.metadata["test.f32"] == float(np.float32(0.1)) and f.metadata["test.true"] is True
        assert f.metadata["test.nested"] == [[1, 2], [3], [4, 5, 6]]
        assert f.metadata_types["test.nested"] == (GGUFValueType.ARRAY, GGUFValueType.ARRAY, GGUFValueType.INT32)
        assert f.tensors["q6k.mat"].raw.shape == (3, 2 * 210)
        assert f.tensors["i32.cube"].shape == (2, 3, 4) and f.tensor_infos["i32.cube"].dims == (4, 3, 2)


def test_tensors_are_read_only_views_of_one_map(tmp_path):
    path = write_with_gguf(tmp_path / "t.gguf")
    f = GGUFFile.open(path)
    roots = set()
    for tensor in f.tensors.values():
        assert not tensor.raw.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            tensor.raw[..., :1] = 0
        base = tensor.raw
        while isinstance(base, np.ndarray):
            base = base.base
        base = base.obj if isinstance(base, memoryview) else base  # np.frombuffer keeps a memoryview of the map
        roots.add(id(base))
        assert isinstance(base, mmap.mmap)
    assert roots == {id(f._map)}
    kept = f.tensors["f32.vec"].raw
    f.close()
    assert f.tensors == {}
    assert kept.view(np.float32).shape == (7,)  # a view kept past close() keeps the map alive
    del kept


def test_from_buffer_matches_open(tmp_path):
    path = write_with_gguf(tmp_path / "t.gguf")
    data = path.read_bytes()
    from_bytes = GGUFFile.from_buffer(data, name="memory")
    with read_gguf(path) as from_file:
        assert from_bytes.metadata == from_file.metadata
        assert from_bytes.metadata_types == from_file.metadata_types
        assert from_bytes.tensor_infos == from_file.tensor_infos
        for name, tensor in from_file.tensors.items():
            assert np.array_equal(from_bytes.tensors[name].raw, tensor.raw)
    assert not GGUFFile.from_buffer(bytearray(data)).tensors["f32.vec"].raw.flags.writeable


def test_version_2_reads_like_gguf_reader(tmp_path):
    """GGUF v2 has v3's little-endian layout (v3 added big-endian files), so a patched version reads the same."""
    v3 = write_with_gguf(tmp_path / "v3.gguf").read_bytes()
    v2 = tmp_path / "v2.gguf"
    v2.write_bytes(v3[:4] + (2).to_bytes(4, "little") + v3[8:])
    with read_gguf(v2) as f:
        assert f.version == 2
        assert_same_as_gguf_reader(f, v2)

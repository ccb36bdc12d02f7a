"""``python -m axon_quant inspect``, run as a real command on a file gguf-py's GGUFWriter wrote, its
output checked against gguf-py's GGUFReader (tests-integration runs it on the real SmolLM2 file)."""

from __future__ import annotations

import json
import subprocess
import sys

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q


def inspect(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "axon_quant", "inspect", *args], check=False, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inspect") / "small.gguf"
    rng = np.random.default_rng(5)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_block_count(2)
    writer.add_float32("test.nan", float("nan"))
    writer.add_string("test.long", "x" * 300)
    writer.add_array("tokenizer.ggml.tokens", [f"tok{i}" for i in range(40)])
    writer.add_array("test.scores", [float(i) / 4 for i in range(12)])
    writer.add_tensor(
        "token_embd.weight",
        gguf.quants.quantize(rng.standard_normal((40, 64)).astype(np.float32), Q.Q8_0),
        raw_dtype=Q.Q8_0,
    )
    writer.add_tensor("output_norm.weight", np.ones(64, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def check_json_against_gguf(out: dict, path, items: int | None = None) -> None:
    reader = gguf.GGUFReader(path)
    assert out["version"] == reader.fields["GGUF.version"].contents()
    assert (out["alignment"], out["data_offset"]) == (reader.alignment, reader.data_offset)
    keys = [k for k in reader.fields if not k.startswith("GGUF.")]
    assert list(out["metadata"]) == keys
    for key in keys:
        field, entry = reader.fields[key], out["metadata"][key]
        assert entry["type"] == [t.name for t in field.types], key
        want = field.contents()
        if isinstance(want, float) and np.isnan(want):
            assert entry["value"] == "nan"
        elif isinstance(want, list):
            assert entry["length"] == len(want) and entry["value"] == want[:items], key
            assert entry.get("truncated", False) == (items is not None and len(want) > items)
        else:
            assert entry["value"] == want, key
    assert [t["name"] for t in out["tensors"]] == [t.name for t in reader.tensors]
    for row, t in zip(out["tensors"], reader.tensors, strict=True):
        assert row["type"] == t.tensor_type.name.lower()
        assert row["dims"] == [int(d) for d in t.shape] and row["shape"] == row["dims"][::-1]
        assert (row["bytes"], row["offset"]) == (t.n_bytes, t.data_offset)


def test_json_matches_gguf_reader(small_file):
    done = inspect(str(small_file), "--json")
    assert done.returncode == 0, done.stderr
    check_json_against_gguf(json.loads(done.stdout), small_file)
    done = inspect(str(small_file), "--json", "--items", "3")
    check_json_against_gguf(json.loads(done.stdout), small_file, items=3)


def test_text_output(small_file):
    done = inspect(str(small_file))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    reader = gguf.GGUFReader(small_file)
    assert lines[0] == (
        f"{small_file}: GGUF v3, {small_file.stat().st_size:,} bytes, alignment 32, data at {reader.data_offset:,}"
    )
    assert any(
        line.split()
        == [
            "tokenizer.ggml.tokens",
            "ARRAY/STRING",
            "[40",
            "items]",
            "['tok0',",
            "'tok1',",
            "'tok2',",
            "'tok3',",
            "'tok4',",
            "...]",
        ]
        for line in lines
    )
    assert any(line.split()[:2] == ["llama.block_count", "UINT32"] and line.split()[2] == "2" for line in lines)
    assert any("... (300 chars)" in line for line in lines)
    embd = reader.tensors[0]
    assert ["token_embd.weight", "q8_0", "40x64", f"{embd.n_bytes:,}", f"{embd.data_offset:,}"] in [
        line.split() for line in lines
    ]


def test_bad_file_exits_1_naming_the_field(small_file, tmp_path):
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(small_file.read_bytes()[:100])
    done = inspect(str(cut))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"error: 6 key/value pairs need at least 84 bytes, the file has 76 left (file {cut}, "
        "field 'header.kv_count', offset 16)\n"
    )

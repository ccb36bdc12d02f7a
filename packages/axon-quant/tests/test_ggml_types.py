"""The ggml type table against gguf-py's (ids, names, block sizes, bytes per block)."""

from __future__ import annotations

import pytest
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from axon_quant.errors import QuantError
from axon_quant.ggml_types import GGML_TYPES, ggml_type, row_bytes


@pytest.mark.parametrize("name", sorted(GGML_TYPES))
def test_type_matches_gguf(name):
    ours = GGML_TYPES[name]
    theirs = GGMLQuantizationType(ours.id)
    assert theirs.name.lower() == name
    assert GGML_QUANT_SIZES[theirs] == (ours.block_size, ours.type_size)
    assert ggml_type(name.upper()) is ours and ggml_type(ours.id) is ours and ggml_type(theirs) is ours


def test_row_bytes_and_errors():
    assert row_bytes("q4_1", 64) == 2 * GGML_QUANT_SIZES[GGMLQuantizationType.Q4_1][1]
    with pytest.raises(QuantError, match="q4_1: a row of 33 values"):
        row_bytes("q4_1", 33)
    with pytest.raises(QuantError, match="unknown ggml type 'q9_9'"):
        ggml_type("q9_9")
    with pytest.raises(QuantError, match="unknown ggml type id 99"):
        ggml_type(99)

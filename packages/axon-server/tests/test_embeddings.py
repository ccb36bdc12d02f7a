"""/v1/embeddings against all-MiniLM-L6-v2 computed here through axon_llm (BertModel, mean over
real tokens, L2 norm; transformers is the oracle of tests-integration/test_server_openai.py)."""

from __future__ import annotations

import base64

import numpy as np

import axon_llm
from axon_autograd import no_grad

TEXTS = ["The cat sits outside.", "A man is playing guitar.", "naïve café — Ångström", "x"]


def reference(path, texts):
    tokenizer, model = axon_llm.load_tokenizer(path), axon_llm.from_pretrained(path)
    out = []
    for text in texts:  # one at a time: no padding involved
        encoded = tokenizer([text], return_tensors="axon")
        with no_grad():
            hidden = model(**encoded).last_hidden_state.numpy()[0].astype(np.float64)
        mean = hidden.mean(axis=0)
        out.append(mean / np.linalg.norm(mean))
    return np.array(out), sum(len(tokenizer(t)["input_ids"]) for t in texts)


def test_embeddings_equal_axon_llm_unpadded_and_base64_equals_float(client, paths):
    expected, tokens = reference(paths["minilm"], TEXTS)
    out = client.post("/v1/embeddings", json={"model": "minilm", "input": TEXTS}).json()
    got = np.array([d["embedding"] for d in out["data"]])
    assert [d["index"] for d in out["data"]] == list(range(len(TEXTS)))
    assert got.shape == (4, 384)
    assert np.abs(got - expected).max() <= 1e-5  # the server pads the batch; the reference does not
    assert out["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}
    packed = client.post("/v1/embeddings", json={"model": "minilm", "input": TEXTS, "encoding_format": "base64"}).json()
    decoded = np.array([np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in packed["data"]])
    assert np.array_equal(decoded, got.astype(np.float32))
    single = client.post("/v1/embeddings", json={"model": "minilm", "input": TEXTS[0]}).json()
    assert np.abs(np.array(single["data"][0]["embedding"]) - expected[0]).max() <= 1e-5

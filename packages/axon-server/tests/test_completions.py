"""/v1/completions and /v1/chat/completions against axon_quant.runtime.generate (the same GGUF,
loaded apart) and NumPy's log-softmax of the runtime's own logits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from axon_quant.cli.generate import chat_prompt
from axon_quant.runtime import SamplingParams, generate

PROMPT = "The three primary colors are"


def complete(client, **body):
    r = client.post("/v1/completions", json={"model": "smol", **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_greedy_completion_equals_the_runtime(client, oracle_model):
    model, tok = oracle_model
    expected = generate(model, tok, PROMPT, max_tokens=12)
    out = complete(client, prompt=PROMPT, max_tokens=12, temperature=0)
    choice = out["choices"][0]
    assert choice["text"] == expected.text
    assert choice["finish_reason"] == ("length" if expected.stop_reason == "length" else "stop")
    assert out["usage"] == {
        "prompt_tokens": expected.prompt_tokens,
        "completion_tokens": len(expected.tokens),
        "total_tokens": expected.prompt_tokens + len(expected.tokens),
    }


def test_token_id_prompt_equals_the_text_prompt(client, oracle_model):
    _, tok = oracle_model
    by_text = complete(client, prompt=PROMPT, max_tokens=6, temperature=0)
    by_ids = complete(client, prompt=tok.encode(PROMPT), max_tokens=6, temperature=0)
    assert by_ids["choices"][0]["text"] == by_text["choices"][0]["text"]


def test_logprobs_are_the_log_softmax_of_the_runtime_logits(client, oracle_model):
    model, tok = oracle_model
    out = complete(client, prompt=PROMPT, max_tokens=5, temperature=0, logprobs=3)
    lp = out["choices"][0]["logprobs"]
    model.reset()
    logits = model.prefill(tok.encode(PROMPT))
    for i in range(5):
        x = logits.astype(np.float64)
        ref = x - (x.max() + np.log(np.exp(x - x.max()).sum()))
        token = int(np.argmax(x))
        best = np.argsort(-ref, kind="stable")[:3]
        assert lp["tokens"][i] == tok.token_to_piece(token).decode("utf-8", "replace")
        assert abs(lp["token_logprobs"][i] - ref[token]) <= 1e-9
        assert list(lp["top_logprobs"][i].values()) == pytest.approx(ref[best].tolist(), abs=1e-9)
        logits = model.decode(token)
    offsets = np.cumsum([0] + [len(t) for t in lp["tokens"]])[:-1].tolist()
    assert lp["text_offset"] == offsets


def test_stop_string_cuts_where_str_find_does(client):
    full = complete(client, prompt=PROMPT, max_tokens=12, temperature=0)["choices"][0]["text"]
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    cut = complete(client, prompt=PROMPT, max_tokens=12, temperature=0, stop=[stop])["choices"][0]
    assert cut["text"] == full[: full.find(stop)]
    assert cut["finish_reason"] == "stop"


def test_seeded_sampling_repeats_and_n_uses_seed_plus_index(client, oracle_model):
    model, tok = oracle_model
    body = {"prompt": PROMPT, "max_tokens": 8, "temperature": 0.9, "top_p": 0.9}
    two = complete(client, seed=7, n=2, **body)["choices"]
    again = complete(client, seed=7, n=2, **body)["choices"]
    assert [c["text"] for c in two] == [c["text"] for c in again]
    for i, choice in enumerate(two):
        ref = generate(
            model, tok, PROMPT, max_tokens=8, sampling=SamplingParams(temperature=0.9, top_p=0.9, seed=7 + i)
        )
        assert choice["text"] == ref.text


def test_streamed_completion_concatenates_to_the_whole(client):
    whole = complete(client, prompt=PROMPT, max_tokens=10, temperature=0)
    body = {"model": "smol", "prompt": PROMPT, "max_tokens": 10, "temperature": 0, "stream": True}
    body["stream_options"] = {"include_usage": True}
    with client.stream("POST", "/v1/completions", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    assert text == whole["choices"][0]["text"]
    assert chunks[-1]["usage"] == whole["usage"]
    assert chunks[-2]["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]


def chat(client, **body):
    r = client.post("/v1/chat/completions", json={"model": "smol", **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_greedy_chat_equals_the_runtime_on_the_template(client, oracle_model):
    model, tok = oracle_model
    question = "What is the capital of France?"
    text = chat_prompt(tok, question, "Answer in one sentence.")
    expected = generate(model, tok, tok.encode(text, add_special=False, parse_special=True), max_tokens=20)
    messages = [{"role": "system", "content": "Answer in one sentence."}, {"role": "user", "content": question}]
    out = chat(client, messages=messages, max_tokens=20, temperature=0)
    assert out["choices"][0]["message"] == {"role": "assistant", "content": expected.text}
    assert "Paris" in expected.text
    assert out["usage"]["prompt_tokens"] == expected.prompt_tokens
    assert out["usage"]["completion_tokens"] == len(expected.tokens)


def test_streamed_chat_with_logprobs(client):
    messages = [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]
    whole = chat(client, messages=messages, max_tokens=8, temperature=0, logprobs=True, top_logprobs=2)
    body = {"model": "smol", "messages": messages, "max_tokens": 8, "temperature": 0, "stream": True}
    body |= {"logprobs": True, "top_logprobs": 2}
    with client.stream("POST", "/v1/chat/completions", json=body) as r:
        lines = [line for line in r.iter_lines() if line]
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    streamed = [e for c in chunks if c["choices"][0]["logprobs"] for e in c["choices"][0]["logprobs"]["content"]]
    assert text == whole["choices"][0]["message"]["content"]
    assert streamed == whole["choices"][0]["logprobs"]["content"]
    assert all(len(e["top_logprobs"]) == 2 and e["top_logprobs"][0]["logprob"] >= e["logprob"] for e in streamed)
    assert all(bytes(e["bytes"]).decode("utf-8", "replace") == e["token"] for e in streamed)

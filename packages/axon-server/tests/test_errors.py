"""Refusals in OpenAI's error shape: auth, unknown fields, malformed JSON, ranges, unknown or wrong
models, prompts past the context, oversize bodies, a full queue."""

from __future__ import annotations

import pytest


def assert_error(r, status: int, code: str | None = None, param: str | None = None) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if code is not None:
        assert error["code"] == code
    if param is not None:
        assert error["param"] == param
    return error


def test_health_needs_no_key_and_v1_needs_the_right_one(client):
    assert client.get("/health", headers={"Authorization": ""}).json() == {"status": "ok"}
    assert client.get("/ready", headers={"Authorization": ""}).json()["models"] == ["minilm", "smol"]
    for header in ["", "Bearer", "Bearer wrong-key", "Basic dGVzdDp0ZXN0", "Bearer test-key-0123456789x"]:
        r = client.get("/v1/models", headers={"Authorization": header})
        assert assert_error(r, 401, "invalid_api_key")["type"] == "authentication_error"
        assert r.headers["www-authenticate"] == "Bearer"
    models = client.get("/v1/models").json()
    assert [(m["id"], m["kind"]) for m in models["data"]] == [("smol", "generation"), ("minilm", "embedding")]
    assert client.get("/v1/models/smol").json()["id"] == "smol"
    assert_error(client.get("/v1/models/nope"), 404, "model_not_found")


@pytest.mark.parametrize(
    ("route", "body", "param"),
    [
        ("/v1/completions", {"model": "smol", "prompt": "x", "echo": True}, "echo"),
        ("/v1/completions", {"model": "smol", "prompt": "x", "temperature": 2.5}, "temperature"),
        ("/v1/completions", {"model": "smol", "prompt": "x", "top_p": 0}, "top_p"),
        ("/v1/completions", {"model": "smol", "prompt": "x", "max_tokens": 0}, "max_tokens"),
        ("/v1/completions", {"model": "smol", "prompt": "x", "logprobs": 6}, "logprobs"),
        ("/v1/completions", {"model": "smol", "prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ("/v1/completions", {"model": "smol"}, "prompt"),
        ("/v1/chat/completions", {"model": "smol", "messages": []}, "messages"),
        ("/v1/chat/completions", {"model": "smol", "messages": [{"role": "robot", "content": "x"}]}, None),
        ("/v1/chat/completions", {"model": "smol", "messages": [{"role": "user", "content": "x", "x": 1}]}, None),
        ("/v1/chat/completions", {"model": "smol", "messages": [{"role": "user", "content": "x"}], "tools": []}, None),
        ("/v1/embeddings", {"model": "minilm", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ("/v1/embeddings", {"model": "minilm", "input": [1, 2]}, None),
    ],
)
def test_invalid_bodies_are_422(client, route, body, param):
    error = assert_error(client.post(route, json=body), 422, "invalid_request", param)
    assert error["type"] == "invalid_request_error"


def test_malformed_json_is_422(client):
    r = client.post(
        "/v1/completions", content=b'{"model": "smol", "prompt": ', headers={"Content-Type": "application/json"}
    )
    assert "JSON" in assert_error(r, 422)["message"]


def test_unknown_and_wrong_kind_models(client):
    assert_error(
        client.post("/v1/completions", json={"model": "gpt-4", "prompt": "x"}), 404, "model_not_found", "model"
    )
    assert_error(client.post("/v1/completions", json={"model": "minilm", "prompt": "x"}), 400, "wrong_model_kind")
    assert_error(client.post("/v1/embeddings", json={"model": "smol", "input": "x"}), 400, "wrong_model_kind")


def test_prompt_past_the_context_and_bad_token_ids(client):
    long = " ".join(["word"] * 400)
    r = client.post("/v1/completions", json={"model": "smol", "prompt": long})
    assert "256" in assert_error(r, 400, "context_length_exceeded", "prompt")["message"]
    assert_error(client.post("/v1/completions", json={"model": "smol", "prompt": [1, 10**9]}), 400)
    assert_error(client.post("/v1/completions", json={"model": "smol", "prompt": []}), 400)
    assert_error(client.post("/v1/embeddings", json={"model": "minilm", "input": []}), 400, param="input")


def test_too_many_choices_is_400(client):
    r = client.post("/v1/completions", json={"model": "smol", "prompt": ["a", "b", "c"], "n": 3})
    assert_error(r, 400, param="n")


def test_oversize_body_is_413_before_parsing(make_client):
    with make_client(max_body_bytes=1000) as c:
        r = c.post("/v1/completions", json={"model": "smol", "prompt": "x" * 2000})
        assert_error(r, 413, "body_too_large")
        chunks = (b"x" * 600 for _ in range(3))  # no Content-Length: counted as it streams in
        assert_error(c.post("/v1/completions", content=chunks, headers={"Content-Type": "application/json"}), 413)
        assert c.post("/v1/completions", json={"model": "smol", "prompt": "Hi", "max_tokens": 1}).status_code == 200


def test_full_queue_is_429_with_retry_after(make_client):
    with make_client(max_queue=0, retry_after_s=3) as c:  # 2 slots, nothing may wait
        r = c.post("/v1/completions", json={"model": "smol", "prompt": "Hi", "n": 3})
        assert assert_error(r, 429, "queue_full")["type"] == "rate_limit_error"
        assert r.headers["retry-after"] == "3"

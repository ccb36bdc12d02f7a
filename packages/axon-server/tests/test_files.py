"""/models and /datasets: streamed, capped, checksummed, atomic uploads; versions; inspect against
gguf-py's reader and safetensors' own loader; download byte-identical; per-user isolation; and the
Prometheus text at /metrics."""

from __future__ import annotations

import hashlib
import os
import re

import gguf
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from axon_quant import write_gguf


@pytest.fixture()
def server(make_client, tmp_path):
    with make_client(data_dir=tmp_path / "data", max_upload_bytes=200_000) as c:
        yield c, tmp_path


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_token(c, name, role="user"):
    r = c.post("/users", json={"username": name, "password": "password-123", "role": role})
    assert r.status_code == 201
    body = {"username": name, "password": "password-123"}
    return c.post("/auth/login", json=body, headers={"Authorization": ""}).json()["access_token"]


def upload(c, kind, name, filename, data, headers=None, **params):
    return c.post(f"/{kind}", params={"name": name, "filename": filename, **params}, content=data, headers=headers)


def stored_files(tmp_path, kind="model"):
    folder = tmp_path / "data" / "files" / kind
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_gguf_upload_inspect_download_versions_delete(server):
    c, tmp = server
    path = tmp / "tiny.gguf"
    weights = {"w": np.arange(64, dtype=np.float32).reshape(2, 32), "b": np.ones(32, np.float16)}
    write_gguf(path, {"general.architecture": "llama", "llama.block_count": 2}, weights)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    r = upload(c, "models", "tiny", "tiny.gguf", data, headers={"X-Checksum-SHA256": sha})
    assert r.status_code == 201, r.text
    card = r.json()
    assert (card["version"], card["size"], card["sha256"]) == (1, len(data), sha)
    info = c.get(f"/models/{card['id']}").json()["inspect"]
    reader = gguf.GGUFReader(path)
    assert info["format"] == "gguf"
    assert sorted(info["tensors"]) == sorted(t.name for t in reader.tensors)
    for t in reader.tensors:
        assert info["tensors"][t.name]["dims"] == [int(d) for d in t.shape]
        assert info["tensors"][t.name]["type"].upper() == t.tensor_type.name
    assert info["metadata"]["llama.block_count"] == 2 == int(reader.fields["llama.block_count"].parts[-1][0])
    down = c.get(f"/models/{card['id']}/download")
    assert down.content == data and down.headers["x-checksum-sha256"] == sha
    second = upload(c, "models", "tiny", "tiny-v2.gguf", data + b"").json()
    assert second["version"] == 2
    assert [(m["name"], m["version"]) for m in c.get("/models").json()["data"]] == [("tiny", 1), ("tiny", 2)]
    assert len(stored_files(tmp)) == 2
    assert c.delete(f"/models/{card['id']}").status_code == 200
    assert c.get(f"/models/{card['id']}").status_code == 404
    assert len(stored_files(tmp)) == 1


def test_safetensors_dataset_inspect_equals_safetensors(server):
    c, tmp = server
    path = tmp / "d.safetensors"
    save_file({"x": np.zeros((3, 4), np.float32), "y": np.arange(5, dtype=np.int64)}, str(path), metadata={"a": "b"})
    card = upload(c, "datasets", "toy", "d.safetensors", path.read_bytes()).json()
    info = c.get(f"/datasets/{card['id']}").json()["inspect"]
    with safe_open(str(path), framework="numpy") as f:
        assert info["metadata"] == f.metadata()
        assert {k: (v["dtype"], v["shape"]) for k, v in info["tensors"].items()} == {
            k: ({"float32": "F32", "int64": "I64"}[str(f.get_tensor(k).dtype)], list(f.get_tensor(k).shape))
            for k in f.keys()
        }
    assert c.get(f"/models/{card['id']}").status_code == 404  # a dataset id is not a model
    damaged = upload(c, "datasets", "bad", "bad.safetensors", b"\xff" * 16).json()
    assert "error" in c.get(f"/datasets/{damaged['id']}").json()["inspect"]


def test_refused_uploads_leave_nothing_on_disk(server):
    c, tmp = server
    r = upload(c, "models", "m", "m.bin", b"abc", headers={"X-Checksum-SHA256": "0" * 64})
    assert r.status_code == 400 and r.json()["error"]["code"] == "checksum_mismatch"
    r = upload(c, "models", "m", "m.bin", iter([b"x" * 100_000] * 3))  # streamed, no Content-Length
    assert r.status_code == 413 and r.json()["error"]["code"] == "upload_too_large"
    assert upload(c, "models", "m", "m.bin", b"x" * 300_000).status_code == 413
    assert upload(c, "models", "m", "m.bin", b"").status_code == 400
    for name, filename in [("../etc", "a.bin"), ("a", "../../passwd"), ("a", "x/y"), (".hidden", "a"), ("a", "a..b")]:
        r = upload(c, "models", name, filename, b"abc")
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_name", (name, filename)
    assert upload(c, "models", "a", "a", b"abc", headers={"X-Checksum-SHA256": "zz"}).status_code == 422
    assert stored_files(tmp) == []
    assert c.get("/models").json()["data"] == []


def test_users_see_only_their_own_files(server):
    c, _ = server
    alice, bob, reader = user_token(c, "alice"), user_token(c, "bob"), user_token(c, "rita", "read-only")
    card = upload(c, "models", "mine", "mine.bin", b"alice's bytes", headers=bearer(alice)).json()
    assert c.get("/models", headers=bearer(bob)).json()["data"] == []
    for method, suffix in [("GET", ""), ("GET", "/download"), ("DELETE", "")]:
        assert c.request(method, f"/models/{card['id']}{suffix}", headers=bearer(bob)).status_code == 404
    assert upload(c, "models", "x", "x.bin", b"x", headers=bearer(reader)).status_code == 403
    assert [m["id"] for m in c.get("/models").json()["data"]] == [card["id"]]  # the admin sees all
    assert c.get(f"/models/{card['id']}/download", headers=bearer(alice)).content == b"alice's bytes"
    assert c.get("/models", headers={"Authorization": ""}).status_code == 401


def test_metrics_are_prometheus_text(client):
    client.post("/v1/completions", json={"model": "smol", "prompt": "Hi", "max_tokens": 2, "temperature": 0})
    assert client.get("/metrics", headers={"Authorization": ""}).status_code == 401
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    label = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
    sample = re.compile(rf"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{{{label}(,{label})*\}})? -?[0-9.e+-]+$")
    values = {}
    for line in r.text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$", line), line
            continue
        assert sample.match(line), line
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    key = 'axon_http_requests_total{method="POST",route="/v1/completions",status="200"}'
    assert values[key] >= 1
    ready = client.get("/ready").json()["schedulers"]["smol"]
    assert values['axon_scheduler_tokens_total{model="smol"}'] == ready["tokens"]
    assert values['axon_scheduler_active{model="smol"}'] == 0

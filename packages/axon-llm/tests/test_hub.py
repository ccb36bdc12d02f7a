"""axon_llm.hub against a real HTTP server on 127.0.0.1 (http.server in a thread) and file:// mirrors.

The server honours ``Range`` like a CDN does and can cut a connection mid-file; hashes are checked
with hashlib on the bytes the test made.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import socket
import threading

import numpy as np
import pytest

from axon_llm import hub
from axon_llm.errors import LLMError
from axon_llm.hub import (
    HubChecksumError,
    HubError,
    HubFile,
    HubModel,
    HubOfflineError,
    download_file,
    fetch_model,
    hub_cache_dir,
)

PAYLOAD = np.random.default_rng(0).integers(0, 256, 3 * (1 << 20) + 12345, dtype=np.uint8).tobytes()
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Server:
    """Serves ``files`` (path -> bytes). ``cut_after``: the next ``cuts`` responses stop after that
    many body bytes and drop the connection. ``honour_range``: answer Range with 206 (else 200)."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.cut_after, self.cuts, self.honour_range = files, None, 0, True
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match and server.honour_range:
                    start = int(match.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                part = body[start:]
                if server.cuts > 0 and server.cut_after is not None:
                    server.cuts -= 1
                    self.wfile.write(part[: server.cut_after])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _leftovers(folder) -> list[str]:
    return sorted(p for p in os.listdir(folder) if not p.endswith(".lock"))


def test_download_resumes_with_range_after_a_cut_connection(tmp_path):
    with _Server({"/w.bin": PAYLOAD}) as server:
        server.cut_after, server.cuts = 1_000_000, 1
        seen = []
        path = download_file(
            server.url + "/w.bin", tmp_path / "w.bin", PAYLOAD_SHA, progress=lambda d, t: seen.append((d, t))
        )
    assert path.read_bytes() == PAYLOAD
    assert server.requests == [("/w.bin", None), ("/w.bin", "bytes=1000000-")]
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert _leftovers(tmp_path) == ["w.bin"]


def test_a_later_call_resumes_the_partial_file(tmp_path):
    with _Server({"/w.bin": PAYLOAD}) as server:
        server.cut_after, server.cuts = 777_777, 1
        with pytest.raises(HubError, match=r"cut 1 times; 777777 of \d+ bytes are kept") as info:
            download_file(server.url + "/w.bin", tmp_path / "w.bin", PAYLOAD_SHA, retries=0)
        assert not isinstance(info.value, HubChecksumError)
        partial = tmp_path / "w.bin.partial"
        assert partial.read_bytes() == PAYLOAD[:777_777]
        assert not (tmp_path / "w.bin").exists()
        download_file(server.url + "/w.bin", tmp_path / "w.bin", PAYLOAD_SHA, size=len(PAYLOAD))
    assert (tmp_path / "w.bin").read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/w.bin", "bytes=777777-")
    assert _leftovers(tmp_path) == ["w.bin"]


def test_a_server_ignoring_range_restarts_the_file(tmp_path):
    with _Server({"/w.bin": PAYLOAD}) as server:
        server.cut_after, server.cuts, server.honour_range = 500_000, 2, False
        download_file(server.url + "/w.bin", tmp_path / "w.bin", PAYLOAD_SHA)
    assert (tmp_path / "w.bin").read_bytes() == PAYLOAD
    assert [r for _, r in server.requests] == [None, "bytes=500000-", "bytes=500000-"]


def test_complete_partial_file_is_finished_without_a_body(tmp_path):
    (tmp_path / "w.bin.partial").write_bytes(PAYLOAD)
    with _Server({"/w.bin": PAYLOAD}) as server:
        download_file(server.url + "/w.bin", tmp_path / "w.bin", PAYLOAD_SHA, size=len(PAYLOAD))
    assert server.requests == [("/w.bin", f"bytes={len(PAYLOAD)}-")]
    assert (tmp_path / "w.bin").read_bytes() == PAYLOAD


def test_wrong_sha256_is_refused_and_nothing_is_left(tmp_path):
    wrong = hashlib.sha256(b"something else").hexdigest()
    with _Server({"/w.bin": PAYLOAD}) as server:
        server.cut_after, server.cuts = 100_000, 1  # a resumed download is checked as a whole too
        with pytest.raises(HubChecksumError, match=f"has sha256 {PAYLOAD_SHA}, expected {wrong}"):
            download_file(server.url + "/w.bin", tmp_path / "w.bin", wrong)
    assert _leftovers(tmp_path) == []


def test_http_errors_and_bad_arguments_are_typed(tmp_path):
    with _Server({}) as server:
        with pytest.raises(HubError, match="HTTP 404"):
            download_file(server.url + "/missing.bin", tmp_path / "m.bin")
    with pytest.raises(HubError, match="64 hex digits"):
        download_file("http://127.0.0.1:1/x", tmp_path / "x", "abc")
    with pytest.raises(HubError, match="only http, https and file"):
        download_file("ftp://example.invalid/x", tmp_path / "x")
    assert issubclass(HubError, LLMError)


def test_unreachable_host_is_an_offline_error_naming_url_and_destination(tmp_path):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: connection refused
    url = f"http://127.0.0.1:{port}/model.gguf"
    with pytest.raises(HubOfflineError) as info:
        download_file(url, tmp_path / "model.gguf", PAYLOAD_SHA, timeout=5)
    text = str(info.value)
    assert url in text and str(tmp_path / "model.gguf") in text and PAYLOAD_SHA in text
    assert info.value.url == url and info.value.destination == str(tmp_path / "model.gguf")


@pytest.fixture
def tiny_model(monkeypatch):
    files = {"config.json": b'{"model_type": "llama"}', "weights/model.bin": PAYLOAD[:4096]}
    model = HubModel(
        name="Tiny-Test-Model",
        architecture="llama",
        parameters=1024,
        files=tuple(
            HubFile(name, f"http://127.0.0.1:9/tiny/{name}", hashlib.sha256(data).hexdigest(), len(data))
            for name, data in files.items()
        ),
        source="made by test_hub.py",
    )
    monkeypatch.setitem(hub.REGISTRY, model.name.lower(), model)
    monkeypatch.delenv("AXON_HUB_MIRROR", raising=False)
    monkeypatch.delenv("AXON_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return model, files


def _mirror(tmp_path, model, files):
    root = tmp_path / "mirror"
    for name, data in files.items():
        (root / model.name / name).parent.mkdir(parents=True, exist_ok=True)
        (root / model.name / name).write_bytes(data)
    return root


def test_file_mirror_fills_the_cache_and_offline_then_works(tmp_path, tiny_model):
    model, files = tiny_model
    root = _mirror(tmp_path, model, files)
    cache = tmp_path / "cache"
    path = fetch_model("tiny-test-model", cache_dir=cache, mirror=root.as_uri())
    assert path == cache / model.name
    for name, data in files.items():
        assert (path / name).read_bytes() == data
    for name in files:  # remove the mirror: the cache alone serves the model now
        os.remove(root / model.name / name)
    assert fetch_model(model.name, cache_dir=cache, offline=True) == path


def test_plain_folder_and_http_mirrors(tmp_path, tiny_model, monkeypatch):
    model, files = tiny_model
    root = _mirror(tmp_path, model, files)
    monkeypatch.setenv("AXON_HUB_MIRROR", str(root))
    path = fetch_model(model.name, cache_dir=tmp_path / "c1")
    assert (path / "weights/model.bin").read_bytes() == files["weights/model.bin"]
    monkeypatch.delenv("AXON_HUB_MIRROR")
    served = {f"/m/{model.name}/{name}": data for name, data in files.items()}
    with _Server(served) as server:
        path = fetch_model(model.name, cache_dir=tmp_path / "c2", mirror=server.url + "/m")
    assert (path / "config.json").read_bytes() == files["config.json"]


def test_offline_error_names_the_url_and_the_cache_path(tmp_path, tiny_model):
    model, _ = tiny_model
    cache = tmp_path / "cache"
    with pytest.raises(HubOfflineError) as info:
        fetch_model(model.name, cache_dir=cache, offline=True)
    text = str(info.value)
    assert model.files[0].url in text
    assert str(cache / model.name / model.files[0].name) in text
    assert "offline mode is on" in text and "AXON_HUB_MIRROR" in text


def test_offline_environment_variable(tmp_path, tiny_model, monkeypatch):
    model, _ = tiny_model
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubOfflineError, match="offline mode is on"):
        fetch_model(model.name, cache_dir=tmp_path)


def test_a_corrupted_cache_file_is_reported(tmp_path, tiny_model):
    model, files = tiny_model
    root = _mirror(tmp_path, model, files)
    cache = tmp_path / "cache"
    path = fetch_model(model.name, cache_dir=cache, mirror=root)
    (path / "config.json").write_bytes(b'{"model_type": "gpt2"}')
    with pytest.raises(HubChecksumError, match="delete it to fetch it again"):
        fetch_model(model.name, cache_dir=cache, mirror=root)


def test_a_corrupted_mirror_file_leaves_nothing_in_the_cache(tmp_path, tiny_model):
    model, files = tiny_model
    root = _mirror(tmp_path, model, files)
    (root / model.name / "weights/model.bin").write_bytes(b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(HubChecksumError, match="expected " + model.files[1].sha256):
        fetch_model(model.name, cache_dir=cache, mirror=root.as_uri())
    assert sorted(os.listdir(cache / model.name / "weights")) == []


def test_local_paths_and_file_urls_pass_through(tmp_path):
    (tmp_path / "model").mkdir()
    assert fetch_model(tmp_path / "model") == tmp_path / "model"
    assert fetch_model((tmp_path / "model").as_uri()) == tmp_path / "model"
    with pytest.raises(HubError, match="no file or folder"):
        fetch_model((tmp_path / "nope").as_uri())
    with pytest.raises(HubError, match="no file or folder"):
        fetch_model(str(tmp_path / "nope"))
    with pytest.raises(HubError, match="known: .*SmolLM2-135M-Instruct-Q4_1"):
        fetch_model("no-such-model")


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert hub_cache_dir() == tmp_path / "axon" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hub_cache_dir() == tmp_path / "home" / ".cache" / "axon" / "hub"

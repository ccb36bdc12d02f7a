"""``axon start`` → ``status`` → ``GET /health`` → ``logs`` → ``stop`` on a tiny GGUF (the daemon: a
pid file naming a live axon_server process, its log holding the run's API key, which then opens
``/v1/models``), and ``axon serve`` in the foreground answering the same requests."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

AXON = str(Path(sys.executable).with_name("axon"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _running(pid: int) -> bool:
    """Whether pid runs (an exited process nobody has reaped yet, state Z, does not)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _get(url: str, key: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_start_status_health_logs_stop(axon, tiny_gguf, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AXON_API_KEY"} | {"AXON_HOME": str(tmp_path / "home")}
    port = _free_port()
    started = axon("start", "--model", str(tiny_gguf), "--port", str(port), "--ctx", "64", cwd=tmp_path, env=env)
    assert started.returncode == 0, started.stderr
    state = tmp_path / "home" / "server"
    info = json.loads((state / "server.pid").read_text())
    try:
        assert info["url"] == f"http://127.0.0.1:{port}" and f"pid {info['pid']}" in started.stdout
        assert b"axon_server" in open(f"/proc/{info['pid']}/cmdline", "rb").read()
        status = axon("status", "--json", cwd=tmp_path, env=env)
        assert status.returncode == 0, status.stderr
        shown = json.loads(status.stdout)
        assert shown["running"] and shown["pid"] == info["pid"] and shown["health"] == "ok"
        assert shown["ready_models"] == ["tiny"]
        assert _get(f"http://127.0.0.1:{port}/health") == {"status": "ok"}
        logs = axon("logs", cwd=tmp_path, env=env)
        assert logs.returncode == 0 and logs.stdout == (state / "server.log").read_text()
        key = re.search(r"this run's key is (\S+)", logs.stdout).group(1)
        assert [m["id"] for m in _get(f"http://127.0.0.1:{port}/v1/models", key)["data"]] == ["tiny"]
        again = axon("start", "--model", str(tiny_gguf), "--port", str(port), cwd=tmp_path, env=env)
        assert again.returncode == 1 and "already runs" in again.stderr
    finally:
        stopped = axon("stop", cwd=tmp_path, env=env)
    assert stopped.returncode == 0 and f"stopped pid {info['pid']}" in stopped.stdout, stopped.stderr
    assert not (state / "server.pid").exists() and not _running(info["pid"])
    after = axon("status", cwd=tmp_path, env=env)
    assert after.returncode == 0 and after.stdout.strip() == "not running"
    assert axon("stop", cwd=tmp_path, env=env).returncode == 1


def test_serve_in_the_foreground(tiny_gguf, tmp_path):
    port = _free_port()
    command = [AXON, "serve", "--model", str(tiny_gguf), "--port", str(port), "--ctx", "64", "--api-key", "k"]
    server = subprocess.Popen(command + ["--data-dir", str(tmp_path / "data")], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, "axon serve exited"
            try:
                health = _get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                assert time.monotonic() < deadline, "no /health answer in 120 s"
                time.sleep(0.5)
        assert health == {"status": "ok"}
        assert [m["id"] for m in _get(f"http://127.0.0.1:{port}/v1/models", "k")["data"]] == ["tiny"]
    finally:
        server.terminate()
        server.wait(timeout=60)

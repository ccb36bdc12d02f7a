"""TrainingMonitor's server and JSON endpoint, over real HTTP on localhost."""

from __future__ import annotations

import json
import math
import socket
import time
import tracemalloc
import urllib.error
import urllib.request

import pytest

from axon import TrainingMonitor
from axon.monitor.metrics import History
from axon.monitor.server import SECURITY_HEADERS


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read()


@pytest.fixture
def monitor():
    with TrainingMonitor("digits-mlp", 12_345).total_epochs(4).batch_size(32).launch() as running:
        yield running


def test_metrics_endpoint_serves_what_was_logged(monitor: TrainingMonitor) -> None:
    monitor.log_epoch(1, 2.5, val_loss=2.0, extras={"accuracy": 0.5})
    monitor.log_epoch(2, 1.5, val_loss=1.25, extras={"accuracy": 0.75})
    monitor.log_step(10, 1.75)
    monitor.set_status("training")
    status, content_type, body = _get(monitor.url + "api/metrics")
    assert status == 200 and content_type == "application/json"
    metrics = json.loads(body)
    assert metrics["name"] == "digits-mlp" and metrics["param_count"] == 12_345
    assert metrics["total_epochs"] == 4 and metrics["batch_size"] == 32 and metrics["status"] == "training"
    assert [(e["epoch"], e["train_loss"], e["val_loss"]) for e in metrics["epochs"]] == [(1, 2.5, 2.0), (2, 1.5, 1.25)]
    assert [e["extras"]["accuracy"] for e in metrics["epochs"]] == [0.5, 0.75]
    assert metrics["best_val_loss"] == 1.25 and metrics["best_epoch"] == 2
    assert metrics["steps"][0]["step"] == 10 and metrics["steps"][0]["loss"] == 1.75
    assert metrics["eta_seconds"] is not None and metrics["eta_seconds"] >= 0


def test_non_finite_losses_stay_valid_json(monitor: TrainingMonitor) -> None:
    monitor.log_epoch(1, math.nan, val_loss=math.inf)
    _, _, body = _get(monitor.url + "api/metrics")
    metrics = json.loads(body)  # the standard parser rejects NaN tokens only with parse_constant; check the text too
    assert b"NaN" not in body and b"Infinity" not in body
    assert metrics["epochs"][0]["train_loss"] is None and metrics["epochs"][0]["val_loss"] is None
    assert metrics["best_val_loss"] is None


def test_page_and_assets_ship_with_the_package(monitor: TrainingMonitor) -> None:
    status, content_type, page = _get(monitor.url)
    assert status == 200 and content_type.startswith("text/html")
    assert b"/static/dashboard.js" in page and b"http" not in page.replace(b"http://www.w3.org", b"")
    for asset in ("static/dashboard.js", "static/dashboard.css"):
        status, _, body = _get(monitor.url + asset)
        assert status == 200 and len(body) > 100


def test_unknown_path_is_404_with_json(monitor: TrainingMonitor) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        _get(monitor.url + "nope")
    assert caught.value.code == 404
    assert "nope" in json.loads(caught.value.read())["error"]


def test_binds_loopback_on_a_free_port_and_stops() -> None:
    first = TrainingMonitor("a", 1).launch()
    second = TrainingMonitor("b", 1).launch()
    first_url = first.url
    try:
        assert first.port != second.port
        assert first_url.startswith("http://127.0.0.1:")
    finally:
        first.close()
        second.close()
    with pytest.raises(urllib.error.URLError):
        _get(first_url + "api/metrics")


def test_does_not_open_a_browser_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))
    with TrainingMonitor("quiet", 1).launch():
        pass
    assert opened == []
    with TrainingMonitor("loud", 1).launch(open_browser=True) as loud:
        assert opened == [loud.url]


def test_url_before_launch_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="launch"):
        TrainingMonitor("x", 1).url


# -- hardening: Host allowlist, security headers, deadlines, connection cap, bounded history ---------
def _raw(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send ``request`` on a fresh socket and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_forged_or_missing_host_is_refused(monitor: TrainingMonitor) -> None:
    port = monitor.port
    for host in (b"evil.example", b"evil.example:%d" % port, b"127.0.0.1:1", b"localhost"):
        response = _raw(port, b"GET /api/metrics HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        assert _status(response) == 421 and b"digits-mlp" not in response
    assert _status(_raw(port, b"GET /api/metrics HTTP/1.0\r\n\r\n")) == 421
    for host in (b"localhost:%d" % port, b"127.0.0.1:%d" % port, b"LOCALHOST:%d" % port):
        assert _status(_raw(port, b"GET /api/metrics HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")) == 200


def test_allowed_hosts_extend_the_names() -> None:
    with TrainingMonitor("lan", 1).launch(allowed_hosts=["trainer.lan"]) as running:
        port = running.port
        assert _status(_raw(port, b"GET / HTTP/1.1\r\nHost: trainer.lan:%d\r\n\r\n" % port)) == 200
        assert _status(_raw(port, b"GET / HTTP/1.1\r\nHost: other.lan:%d\r\n\r\n" % port)) == 421


def test_every_response_carries_the_security_headers(monitor: TrainingMonitor) -> None:
    port = monitor.port
    for path, host in (("/", "localhost"), ("/api/metrics", "localhost"), ("/nope", "localhost"), ("/", "evil")):
        response = _raw(port, f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        head = response.split(b"\r\n\r\n", 1)[0].decode().lower()
        for name, value in SECURITY_HEADERS.items():
            assert f"{name.lower()}: {value.lower()}" in head, (path, name)
        assert "server: axon-monitor" in head and "python" not in head
    bad = _raw(port, b"POST / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert _status(bad) == 501 and b"x-frame-options: deny" in bad.lower()


def test_idle_and_trickling_clients_are_dropped_at_the_deadline() -> None:
    with TrainingMonitor("deadline", 1).launch(request_timeout=0.5) as running:
        idle = socket.create_connection(("127.0.0.1", running.port), timeout=5)
        trickle = socket.create_connection(("127.0.0.1", running.port), timeout=5)
        start = time.monotonic()
        trickle.sendall(b"GET / HTTP/1.1\r\n")
        dropped_trickle = None
        while time.monotonic() - start < 4:
            try:
                trickle.sendall(b"X-Slow: 1\r\n")  # a header every 50 ms, never the blank line
            except OSError:
                dropped_trickle = time.monotonic() - start
                break
            time.sleep(0.05)
        assert idle.recv(1024) == b""  # closed by the server, no response
        assert dropped_trickle is not None and dropped_trickle < 2.0
        idle.close()
        trickle.close()
        assert _status(_raw(running.port, b"GET / HTTP/1.0\r\nHost: localhost:%d\r\n\r\n" % running.port)) == 200


def test_idle_connections_cannot_lock_clients_out() -> None:
    with TrainingMonitor("cap", 1).launch(max_connections=2, request_timeout=30.0) as running:
        port, server = running.port, running._server
        holders = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
        time.sleep(0.7)  # past the half-second grace: idle ones may now be closed to make room
        assert server.open_connections <= 2 and server.refused_connections == 3
        response = _raw(port, b"GET / HTTP/1.0\r\nHost: localhost:%d\r\n\r\n" % port)
        assert _status(response) == 200 and server.evicted_connections == 1
        for sock in holders:
            sock.close()


def _slow_reader(port: int) -> socket.socket:
    """A client that asks for the metrics and never reads (a 4 KB receive window)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /api/metrics HTTP/1.0\r\nHost: localhost:%d\r\n\r\n" % port)
    return sock


def test_a_client_that_does_not_read_is_dropped_and_others_get_503_meanwhile() -> None:
    monitor = TrainingMonitor("slow", 1)
    for step in range(2000):  # a metrics response of about 1 MB
        monitor.log_step(step, 0.5, {f"metric_{i}": 0.25 for i in range(24)})
    with monitor.launch(max_connections=1, response_timeout=1.0) as running:
        port, server = running.port, running._server
        reader = _slow_reader(port)
        time.sleep(0.3)
        start = time.monotonic()
        assert _status(_raw(port, b"GET / HTTP/1.0\r\nHost: localhost:%d\r\n\r\n" % port)) == 503
        assert time.monotonic() - start < 0.5 and server.refused_connections == 1
        time.sleep(1.2)  # past the response deadline: the server gave up on the reader
        assert server.open_connections == 0
        assert _status(_raw(port, b"GET / HTTP/1.0\r\nHost: localhost:%d\r\n\r\n" % port)) == 200
        reader.close()


def test_binding_beyond_loopback_warns() -> None:
    with pytest.warns(UserWarning, match="no authentication"):
        running = TrainingMonitor("open", 1).launch(host="0.0.0.0")
    running.close()


def test_step_history_is_bounded_and_keeps_the_newest() -> None:
    monitor = TrainingMonitor("long", 1, history=200)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for step in range(100_000):
        monitor.log_step(step, 1.0 / (step + 1))
    retained = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    metrics = monitor.metrics()
    steps = [s["step"] for s in metrics["steps"]]
    assert len(steps) == 200 and metrics["steps_logged"] == 100_000
    assert steps == sorted(steps) and steps[-100:] == list(range(99_900, 100_000))
    older = steps[:100]
    # a uniform sample of steps 0..99,899: every fifth of that range holds some of it
    assert all(any(k * 19_980 <= s < (k + 1) * 19_980 for s in older) for k in range(5))
    assert retained < 1_000_000  # 200 records, not 100,000 (about 30 MB unbounded)


def test_history_sample_is_uniform_over_the_older_records() -> None:
    counts = [0] * 4
    for seed in range(200):
        history = History(size=20, seed=seed)
        for value in range(1010):
            history.add({"v": value})
        for record in history.sample:  # drawn from values 0..999
            counts[record["v"] // 250] += 1
    # 200 runs x 10 sampled = 2,000 draws, 500 expected per quarter; 5 standard deviations is ~97
    assert all(abs(c - 500) < 100 for c in counts), counts


def test_best_validation_and_eta_cover_epochs_beyond_the_history() -> None:
    monitor = TrainingMonitor("epochs", 1, history=10).total_epochs(100)
    for epoch in range(1, 51):
        monitor.log_epoch(epoch, 1.0, val_loss=0.5 if epoch == 3 else 1.0 + epoch)
    metrics = monitor.metrics()
    assert len(metrics["epochs"]) == 10 and metrics["epochs"][-1]["epoch"] == 50
    assert metrics["best_val_loss"] == 0.5 and metrics["best_epoch"] == 3 and metrics["epochs_logged"] == 50

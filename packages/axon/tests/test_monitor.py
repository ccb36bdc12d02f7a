"""TrainingMonitor's server and JSON endpoint, over real HTTP on localhost."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request

import pytest

from axon import TrainingMonitor


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

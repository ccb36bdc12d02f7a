"""The dashboard in a real headless Chromium: it loads, charts the logged points, and updates live,
under the server's Content-Security-Policy (no inline or eval'd script: waits go through selectors,
which the policy allows, and any violation the browser reports fails the test)."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from axon import TrainingMonitor

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page():
    if not shutil.which(CHROMIUM):
        pytest.fail("Debian's chromium is required for the browser test (make setup installs it)")
    with playwright_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield context.new_page()
        finally:
            context.close()


def _points(page, series: str) -> list[tuple[float, float]]:
    found = page.eval_on_selector_all(
        f"#loss-chart circle.point[data-series='{series}']",
        "els => els.map(e => [Number(e.dataset.x), Number(e.dataset.y)])",
    )
    return [tuple(point) for point in found]


def _wait_for_epochs(page, count: int) -> None:
    page.wait_for_selector(f"body[data-epochs-shown='{count}']", state="attached", timeout=10_000)


def test_dashboard_charts_logged_epochs_and_updates_live(page) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    with TrainingMonitor("browser-run", 4321).total_epochs(5).batch_size(16).launch() as monitor:
        losses = [(1, 2.0, 2.2), (2, 1.4, 1.6), (3, 0.9, 1.1)]
        for epoch, train, val in losses:
            monitor.log_epoch(epoch, train, val_loss=val, extras={"accuracy": epoch / 10})
        response = page.goto(monitor.url)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        _wait_for_epochs(page, 3)
        assert page.inner_text("#run-name") == "browser-run"
        assert page.inner_text("#params") == "4,321"
        assert _points(page, "train_loss") == [(e, t) for e, t, _ in losses]
        assert _points(page, "val_loss") == [(e, v) for e, _, v in losses]
        assert page.inner_text("#best").startswith("1.1000 (epoch 3)")
        assert page.eval_on_selector_all("#extra-accuracy circle.point", "els => els.length") == 3

        monitor.log_epoch(4, 0.5, val_loss=0.7, extras={"accuracy": 0.4})
        _wait_for_epochs(page, 4)
        assert _points(page, "train_loss")[-1] == (4, 0.5)
        assert page.inner_text("#epoch") == "4 / 5"
        assert page.inner_text("#best").startswith("0.7000 (epoch 4)")
    assert not [text for text in console if "Content Security Policy" in text]

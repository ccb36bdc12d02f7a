"""``TrainingMonitor``: a live training dashboard served on localhost."""

from __future__ import annotations

import webbrowser
from typing import Any, Iterable

from .metrics import RunMetrics
from .server import DashboardServer

__all__ = ["TrainingMonitor"]


class TrainingMonitor:
    """Live loss and metric charts for a training run.

    ``TrainingMonitor(name, param_count).total_epochs(n).batch_size(b).launch()`` starts a
    dashboard on ``http://127.0.0.1:<port>`` (a free port unless ``port`` is given); the
    training loop then calls :meth:`log_epoch`, :meth:`log_step` and :meth:`set_status`.
    The page polls ``/api/metrics`` (JSON) and redraws. No browser opens unless
    ``launch(open_browser=True)``. Memory stays bounded however long the run: ``history`` epochs
    and ``history`` steps are kept (the newest half all, the older ones a uniform sample).
    """

    def __init__(self, name: str, param_count: int, history: int = 2000) -> None:
        self._metrics = RunMetrics(name=str(name), param_count=int(param_count), history=int(history))
        self._server: DashboardServer | None = None

    def total_epochs(self, epochs: int) -> "TrainingMonitor":
        self._metrics.total_epochs = int(epochs)
        return self

    def batch_size(self, size: int) -> "TrainingMonitor":
        self._metrics.batch_size = int(size)
        return self

    def launch(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        open_browser: bool = False,
        *,
        allowed_hosts: Iterable[str] = (),
        max_connections: int = 48,
        request_timeout: float = 5.0,
        response_timeout: float = 10.0,
    ) -> "TrainingMonitor":
        """Start serving; ``port=0`` picks a free port. Returns self.

        A host other than loopback warns (no authentication); ``allowed_hosts`` adds names the
        ``Host`` header may carry (DNS-rebinding protection refuses the rest with 421).
        ``max_connections``, ``request_timeout`` and ``response_timeout``: see ``DashboardServer``.
        """
        if self._server is not None:
            raise RuntimeError(f"TrainingMonitor already serving at {self.url}")
        self._server = DashboardServer(
            self._metrics.snapshot,
            host=host,
            port=port,
            allowed_hosts=allowed_hosts,
            max_connections=max_connections,
            request_timeout=request_timeout,
            response_timeout=response_timeout,
        )
        self._server.start()
        self._metrics.set_status("running")
        if open_browser:
            webbrowser.open(self.url)
        return self

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("TrainingMonitor is not launched; call launch() first")
        host = self._server.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self._server.port}/"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("TrainingMonitor is not launched; call launch() first")
        return self._server.port

    def log_epoch(
        self, epoch: int, train_loss: float, val_loss: float | None = None, extras: dict[str, float] | None = None
    ) -> None:
        """Record one epoch's losses and any extra metrics (e.g. ``{"accuracy": 0.97}``)."""
        self._metrics.add_epoch(epoch, train_loss, val_loss, extras or {})

    def log_step(self, step: int, loss: float, extras: dict[str, float] | None = None) -> None:
        """Record one optimisation step's loss."""
        self._metrics.add_step(step, loss, extras or {})

    def set_status(self, status: str) -> None:
        """Free text shown on the page (``"running"``, ``"done"``, ``"diverged"``...)."""
        self._metrics.set_status(status)

    def metrics(self) -> dict[str, Any]:
        """The same dict the JSON endpoint serves."""
        return self._metrics.snapshot()

    def close(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> "TrainingMonitor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

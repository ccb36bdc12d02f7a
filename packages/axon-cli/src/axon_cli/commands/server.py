"""``axon serve`` (axon-server in the foreground) and ``axon start`` / ``status`` / ``logs`` / ``stop``
(the same server as a background daemon).

The daemon's state lives in ``--state-dir`` (``$AXON_HOME/server``): ``server.pid`` (JSON: pid,
url, models, log, started; written atomically), ``server.log`` (the server's stdout and stderr)
and ``data/`` (its database and uploads). ``start`` returns once ``GET /health`` answers (or fails
with the log's last line when the server exits first); ``stop`` sends SIGTERM to the server's
process group and SIGKILL after ``--timeout`` seconds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import typer

from .._errors import CLIError
from .datasets import axon_home

_MODEL_HELP = "a GGUF file (generation) or a BERT-family HF folder (embeddings), as [NAME=]PATH; repeatable"


def _server_argv(models: list[str], host: str, port: int, api_key: str | None, extra: list[str]) -> list[str]:
    if importlib.util.find_spec("axon_server") is None:
        raise CLIError("this command needs axon_server (pip install axon[server])")
    if not models:
        raise typer.BadParameter("give at least one --model", param_hint="--model")
    argv = [sys.executable, "-m", "axon_server", "--host", host, "--port", str(port)]
    for model in models:
        path = model.split("=", 1)[1] if "=" in model and not Path(model).exists() else model
        if not Path(path).exists():
            raise CLIError(f"--model {model}: no such file or folder")
        argv += ["--model", model]
    return argv + (["--api-key", api_key] if api_key else []) + extra


def serve(
    model: list[str] = typer.Option([], "--model", help=_MODEL_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="the address to listen on"),
    port: int = typer.Option(8000, "--port", help="the TCP port"),
    api_key: str | None = typer.Option(None, "--api-key", help="the bearer key (default: AXON_API_KEY)"),
    ctx: int | None = typer.Option(None, "--ctx", min=1, help="KV-cache positions per slot (the server's 2048)"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="the server's database and uploads"),
) -> None:
    """Run axon-server (python -m axon_server) in the foreground; Ctrl-C stops it."""
    extra = (["--data-dir", str(data_dir)] if data_dir is not None else []) + (["--ctx", str(ctx)] if ctx else [])
    argv = _server_argv(model, host, port, api_key, extra)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # the server takes this process: its signals and exit status are ours


def _pid_file(state_dir: Path) -> Path:
    return state_dir / "server.pid"


def _read_pid_file(state_dir: Path) -> dict[str, Any] | None:
    path = _pid_file(state_dir)
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CLIError(f"{path}: not a pid file of axon start ({exc})") from exc
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        raise CLIError(f"{path}: not a pid file of axon start (no pid)")
    return info


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie no one has reaped yet counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _is_server(pid: int) -> bool:
    """Whether ``pid`` runs and is an axon-server (not another process that reused a stale pid)."""
    if not _alive(pid):
        return False
    try:
        return b"axon_server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _get(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def _tail(path: Path, lines: int) -> list[str]:
    if not path.is_file():
        return []
    return path.read_text(errors="replace").splitlines()[-lines:] if lines else []


def start(
    model: list[str] = typer.Option([], "--model", help=_MODEL_HELP),
    host: str = typer.Option("127.0.0.1", "--host", help="the address to listen on"),
    port: int = typer.Option(8000, "--port", help="the TCP port"),
    api_key: str | None = typer.Option(None, "--api-key", help="the bearer key (default: AXON_API_KEY)"),
    ctx: int | None = typer.Option(None, "--ctx", min=1, help="KV-cache positions per slot (the server's 2048)"),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="pid file, log and data ($AXON_HOME/server)"),
    wait: float = typer.Option(120.0, "--wait", min=0.0, help="seconds to wait for GET /health to answer"),
) -> None:
    """Start axon-server as a background daemon (pid file and log file in --state-dir)."""
    from axon_core import atomic_writer

    state = state_dir or axon_home() / "server"
    running = _read_pid_file(state)
    if running is not None and _is_server(running["pid"]):
        raise CLIError(f"the server already runs (pid {running['pid']}, {running['url']}); axon stop first")
    state.mkdir(parents=True, exist_ok=True)
    log_path = state / "server.log"
    extra = ["--data-dir", str(state / "data")] + (["--ctx", str(ctx)] if ctx else [])
    argv = _server_argv(model, host, port, api_key, extra)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: no terminal signal of ours reaches it
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://{host}:{port}"
    info = {"pid": process.pid, "url": url, "models": model, "log": str(log_path), "started": time.time()}
    with atomic_writer(_pid_file(state)) as handle:
        handle.write(json.dumps(info).encode())
    deadline = time.monotonic() + wait
    while True:
        if process.poll() is not None:
            _pid_file(state).unlink(missing_ok=True)
            last = (_tail(log_path, 1) or ["(empty log)"])[0]
            raise CLIError(f"the server exited with status {process.returncode}: {last} (log: {log_path})")
        try:
            if _get(url + "/health").get("status") == "ok":
                break
        except (urllib.error.URLError, OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise CLIError(f"the server (pid {process.pid}) did not answer {url}/health in {wait:g} s; see {log_path}")
        time.sleep(0.25)
    typer.echo(f"started pid {process.pid} on {url} (log: {log_path})")


def status(
    state_dir: Path | None = typer.Option(None, "--state-dir", help="the folder axon start used ($AXON_HOME/server)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Whether the daemon runs: its pid, URL, GET /health and the models GET /ready lists."""
    state = state_dir or axon_home() / "server"
    info = _read_pid_file(state)
    result: dict[str, Any] = {"running": False, "pid_file": str(_pid_file(state))}
    if info is not None:
        result.update(info)
        result["running"] = _is_server(info["pid"])
        if result["running"]:
            try:
                result["health"] = _get(info["url"] + "/health").get("status")
                result["ready_models"] = _get(info["url"] + "/ready").get("models")
            except (urllib.error.URLError, OSError, ValueError) as exc:
                result["health"] = f"no answer ({exc})"
    if as_json:
        typer.echo(json.dumps(result))
    elif not result["running"]:
        stale = f" (stale pid file: pid {info['pid']} is gone)" if info is not None else ""
        typer.echo(f"not running{stale}")
    else:
        typer.echo(f"running: pid {result['pid']} on {result['url']}, health {result['health']}")
        typer.echo(f"models: {', '.join(result.get('ready_models') or [])}; log: {result['log']}")


def logs(
    lines: int = typer.Option(50, "--lines", "-n", min=0, help="the last N lines"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new lines while the server runs"),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="the folder axon start used ($AXON_HOME/server)"),
) -> None:
    """The daemon's log (its stdout and stderr)."""
    state = state_dir or axon_home() / "server"
    log_path = state / "server.log"
    if not log_path.is_file():
        raise CLIError(f"{log_path}: no server log (axon start writes it)")
    for line in _tail(log_path, lines):
        typer.echo(line)
    if not follow:
        return
    info = _read_pid_file(state)
    with open(log_path, errors="replace") as handle:
        handle.seek(0, os.SEEK_END)
        while True:
            line = handle.readline()
            if line:
                typer.echo(line.rstrip("\n"))
                continue
            if info is None or not _is_server(info["pid"]):
                return
            time.sleep(0.25)


def stop(
    state_dir: Path | None = typer.Option(None, "--state-dir", help="the folder axon start used ($AXON_HOME/server)"),
    timeout: float = typer.Option(20.0, "--timeout", min=0.0, help="seconds after SIGTERM before SIGKILL"),
) -> None:
    """Stop the daemon: SIGTERM (then SIGKILL after --timeout), and remove its pid file."""
    state = state_dir or axon_home() / "server"
    info = _read_pid_file(state)
    if info is None:
        raise CLIError(f"the server is not running (no {_pid_file(state)})")
    pid = info["pid"]
    if _is_server(pid):
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        typer.echo(f"stopped pid {pid}")
    else:
        typer.echo(f"pid {pid} had already exited; removed its pid file")
    _pid_file(state).unlink(missing_ok=True)

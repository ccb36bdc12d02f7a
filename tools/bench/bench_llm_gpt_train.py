"""Training-step time of a GPT in axon-llm vs the same model in PyTorch CPU eager, written as JSON.

    python tools/bench/bench_llm_gpt_train.py [--steps N] [--rounds R] [--out bench-results/bench_llm_gpt_train.json]

The model is issue 12's: GPT-2 blocks with d_model 384, 6 layers, 6 heads, sequences of 256 tokens,
batch 8 (a byte-level vocabulary of 256 by default), dropout off. The peer is transformers'
``GPT2LMHeadModel`` of the same config (PyTorch eager, its default ``sdpa`` attention), built with
the same seed; axon's model is loaded from the peer's ``save_pretrained`` folder, so both start
from the same weights. A step is zero_grad, forward, HF's shifted cross-entropy, backward and an
AdamW update (``axon_optim.AdamW`` vs ``torch.optim.AdamW``, lr 3e-4, weight decay 0.01). Each
framework runs in its own subprocess, alternating ``--rounds`` times; a round's ratio is axon's
median step over PyTorch's, the reported ratio the median over rounds (a slow spell of a shared
machine skews one round, not the result). The first step's losses of both are recorded: they are
the same computation, so they agree to float32 rounding. The machine's load is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np
from _harness import machine_info, run_child, time_steps, write_report

SHAPE = {"n_embd": 384, "n_layer": 6, "n_head": 6}
SEQ, BATCH, SEED = 256, 8, 0
LR, WEIGHT_DECAY = 3e-4, 0.01


def _torch_model(vocab: int):
    import torch
    import transformers

    torch.manual_seed(SEED)
    config = transformers.GPT2Config(
        vocab_size=vocab,
        n_positions=SEQ,
        **SHAPE,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=None,
        eos_token_id=None,
    )
    return transformers.GPT2LMHeadModel(config)


def _batch(vocab: int) -> np.ndarray:
    return np.random.default_rng(SEED).integers(0, vocab, (BATCH, SEQ))


def _axon_step(vocab: int):
    import axon_optim
    import axon_tensor
    from axon_llm import GPT2LMHeadModel

    with tempfile.TemporaryDirectory() as folder:
        _torch_model(vocab).save_pretrained(folder)
        model = GPT2LMHeadModel.from_pretrained(folder)
    model.train()
    ids = axon_tensor.tensor(_batch(vocab))
    opt = axon_optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    def step() -> float:
        opt.zero_grad()
        loss = model.loss(ids)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def _torch_step(vocab: int):
    import torch

    model = _torch_model(vocab)
    model.train()
    ids = torch.tensor(_batch(vocab))
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    def step() -> float:
        opt.zero_grad()
        loss = model(ids, labels=ids).loss
        loss.backward()
        opt.step()
        return loss.item()

    return step


def _measure(framework: str, vocab: int, steps: int, warmup: int) -> dict:
    step = (_axon_step if framework == "axon" else _torch_step)(vocab)
    first_loss = step()
    result = time_steps(step, steps, max(warmup - 1, 0))
    result["first_loss"] = first_loss
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--vocab", type=int, default=256)
    parser.add_argument("--out", default="bench-results/bench_llm_gpt_train.json")
    parser.add_argument("--child", metavar="FRAMEWORK", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = ["--steps", str(args.steps), "--warmup", str(args.warmup), "--vocab", str(args.vocab)]
    if args.child:
        print(json.dumps(_measure(args.child, args.vocab, args.steps, args.warmup)))
        return
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {"axon": [], "torch": []}
    for _ in range(args.rounds):
        for framework in ("axon", "torch"):
            runs[framework].append(run_child(__file__, framework, *sizes))
    round_ratios = [a["median_step_s"] / t["median_step_s"] for a, t in zip(runs["axon"], runs["torch"])]
    results = {
        framework: {
            "median_step_s": float(np.median([r["median_step_s"] for r in rs])),
            "min_step_s": float(np.min([r["min_step_s"] for r in rs])),
            "peak_rss_mib": float(np.max([r["peak_rss_mib"] for r in rs])),
            "tokens_per_s": BATCH * SEQ / float(np.median([r["median_step_s"] for r in rs])),
            "rounds": rs,
        }
        for framework, rs in runs.items()
    }
    ratio = float(np.median(round_ratios))
    first_loss_gap = abs(runs["axon"][0]["first_loss"] - runs["torch"][0]["first_loss"])
    a, t = results["axon"], results["torch"]
    print(
        f"GPT {SHAPE} seq {SEQ} batch {BATCH}: axon {a['median_step_s']:.2f} s/step, torch "
        f"{t['median_step_s']:.2f} s/step, ratio axon/torch {ratio:.2f} (rounds: "
        f"{', '.join(f'{r:.2f}' for r in round_ratios)}); first losses differ by {first_loss_gap:.1e}"
    )
    report = {
        "benchmark": "llm_gpt_train_step",
        "machine": machine_info(load_before, load_keys="load_average_1_5_15min"),
        "model": {**SHAPE, "seq": SEQ, "batch": BATCH, "vocab_size": args.vocab, "dropout": 0.0},
        "peer": "transformers GPT2LMHeadModel, PyTorch CPU eager (sdpa attention), same weights",
        "optimizer": f"AdamW lr={LR} weight_decay={WEIGHT_DECAY}: axon_optim.AdamW vs torch.optim.AdamW",
        "steps": args.steps,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "results": results,
        "time_ratio_per_round": round_ratios,
        "time_ratio_axon_over_torch": ratio,
        "rss_ratio_axon_over_torch": a["peak_rss_mib"] / t["peak_rss_mib"],
        "first_loss_abs_diff": first_loss_gap,
    }
    print(f"wrote {write_report(report, args.out)}")


if __name__ == "__main__":
    main()

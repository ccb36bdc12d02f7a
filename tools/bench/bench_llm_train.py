"""LLM training-step speed and peak RSS of axon against PyTorch CPU eager, written as JSON.

    python tools/bench/bench_llm_train.py [--steps N] [--rounds R] [--out bench-results/bench_llm_train.json]

Two models, each trained with AdamW (betas 0.9/0.95, weight decay 0.1 on matrices), gradient
clipping at 1.0 and warmup + cosine, on the same random token batches:

- ``llama_12m``: the demo's default model (``examples/train_llm.py --size 12m``: LLaMA, hidden 384,
  6 layers, 6 heads / 2 key-value heads, SwiGLU 1024, vocab 4096), batch 8 x seq 128. axon runs the
  demo's own ``Trainer.train_step`` (flash attention); PyTorch runs ``transformers``'
  ``LlamaForCausalLM`` (``attn_implementation="sdpa"``, PyTorch's fused attention), initialised
  alike (N(0, 0.02)) from its own seed.
- ``gpt_384x6``: issue 12's GPT step: GPT-2 blocks, d_model 384, 6 layers, 6 heads, seq 256, batch 8
  (vocab 4096, dropout 0), axon-llm's ``GPT2LMHeadModel`` in the same loop against ``transformers``'
  (sdpa).

A step is zero_grad, the causal-LM loss, backward, ``clip_grad_norm_``, the optimizer step and the
scheduler step. Both frameworks get ``--threads`` compute threads (OpenBLAS / OpenMP / PyTorch's
intra-op pool; 1 by default: on a shared 2-core machine spinning worker threads make a step slower,
for both); ``--threads 0`` leaves each library its own default. Each (framework, model) pair runs
in its own subprocess so peak RSS is its own; ``--rounds`` alternates axon and PyTorch
subprocesses, each round gives the ratio axon / PyTorch of median step times and the reported
ratio is the median over rounds. Tokens/s is batch x seq over
the median step. The machine and its load average are recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from _harness import machine_info, run_child, time_steps, write_report

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VOCAB = 4096
#: (batch, seq) per model: the demo's default for its LLaMA, issue 12's for the GPT.
SHAPES = {"llama_12m": (8, 128), "gpt_384x6": (8, 256)}
LR, WARMUP, TOTAL_STEPS = 1e-3, 10, 1000
MODELS = ("llama_12m", "gpt_384x6")


def _batches(model_name: str, steps: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, VOCAB, SHAPES[model_name], dtype=np.int64) for _ in range(steps)]


#: issue 12's GPT: GPT2Config fields (the same names in axon-llm and transformers), dropout off.
GPT_FIELDS = dict(vocab_size=VOCAB, n_positions=SHAPES["gpt_384x6"][1], n_embd=384, n_layer=6, n_head=6)
GPT_FIELDS.update(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)


def _axon_step(model_name: str, batches: list[np.ndarray]):
    sys.path.insert(0, str(EXAMPLES))
    from llm_demo.sizes import model_config
    from llm_demo.training import RunConfig, Trainer

    import axon_llm
    from axon_tensor import manual_seed

    batch, seq = SHAPES[model_name]
    run = RunConfig(size="12m", vocab_size=VOCAB, seq_len=seq, batch=batch, steps=TOTAL_STEPS, lr=LR, warmup=WARMUP)
    tokens = np.concatenate([b.reshape(-1) for b in batches]).astype(np.int32)
    model = None
    if model_name == "gpt_384x6":
        manual_seed(0)
        model = axon_llm.GPT2LMHeadModel(axon_llm.GPT2Config(**GPT_FIELDS))
    # The demo's loop (optimizer groups, schedule, clipping, flash attention) around either model.
    trainer = Trainer(run, model_config("12m", VOCAB, seq, 0), tokens, tokens[: seq * 4], model=model)
    return lambda: trainer.train_step().loss


def _torch_step(model_name: str, batches: list[np.ndarray]):
    import torch
    import transformers

    torch.manual_seed(0)
    if model_name == "llama_12m":
        sys.path.insert(0, str(EXAMPLES))
        from llm_demo.sizes import model_config

        config = model_config("12m", VOCAB, SHAPES[model_name][1], 0).to_dict()
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**config, attn_implementation="sdpa"))
    else:
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**GPT_FIELDS, attn_implementation="sdpa"))
    decay = [p for p in model.parameters() if p.ndim >= 2]
    plain = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": plain, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.95)
    )
    schedule = torch.optim.lr_scheduler.SequentialLR(
        optimizer,
        [
            torch.optim.lr_scheduler.LinearLR(optimizer, 1.0 / WARMUP, 1.0, WARMUP),
            torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, TOTAL_STEPS - WARMUP, LR * 0.1),
        ],
        milestones=[WARMUP],
    )
    feed = iter([torch.from_numpy(b) for b in batches])

    def step() -> float:
        ids = next(feed)
        optimizer.zero_grad()
        logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, VOCAB), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        return loss.item()

    return step


def _measure(framework: str, model: str, steps: int, warmup: int) -> dict:
    batches = _batches(model, steps + warmup)
    step = (_axon_step if framework == "axon" else _torch_step)(model, batches)
    result = time_steps(step, steps, warmup)
    result["tokens_per_s"] = int(np.prod(SHAPES[model])) / result["median_step_s"]
    from threadpoolctl import threadpool_info

    result["threads"] = {lib["internal_api"]: lib["num_threads"] for lib in threadpool_info()}
    if framework == "torch":
        import torch

        result["threads"]["torch"] = torch.get_num_threads()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    parser.add_argument("--threads", type=int, default=1, help="compute threads of both frameworks (1); 0: defaults")
    parser.add_argument("--out", default="bench-results/bench_llm_train.json")
    parser.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(_measure(args.child[0], args.child[1], args.steps, args.warmup)))
        return
    if args.threads:
        # Read by OpenBLAS and OpenMP when each child starts (before NumPy or PyTorch loads).
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)
    load_before = os.getloadavg()
    results: dict = {}
    for model in args.models.split(","):
        runs: dict[str, list[dict]] = {"axon": [], "torch": []}
        for _ in range(args.rounds):
            for framework in ("axon", "torch"):
                options = ["--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads)]
                runs[framework].append(run_child(__file__, framework, model, *options))
        round_ratios = [a["median_step_s"] / t["median_step_s"] for a, t in zip(runs["axon"], runs["torch"])]
        entry: dict = {
            framework: {
                "median_step_s": float(np.median([r["median_step_s"] for r in rs])),
                "min_step_s": float(np.min([r["min_step_s"] for r in rs])),
                "tokens_per_s": float(np.median([r["tokens_per_s"] for r in rs])),
                "peak_rss_mib": float(np.max([r["peak_rss_mib"] for r in rs])),
                "rounds": rs,
            }
            for framework, rs in runs.items()
        }
        entry["time_ratio_per_round"] = round_ratios
        entry["time_ratio_axon_over_torch"] = float(np.median(round_ratios))
        entry["rss_ratio_axon_over_torch"] = entry["axon"]["peak_rss_mib"] / entry["torch"]["peak_rss_mib"]
        results[model] = entry
        a, t = entry["axon"], entry["torch"]
        print(
            f"{model}: axon {a['median_step_s']:.2f} s/step ({a['tokens_per_s']:.0f} tok/s, "
            f"{a['peak_rss_mib']:.0f} MiB), torch {t['median_step_s']:.2f} s/step ({t['tokens_per_s']:.0f} tok/s, "
            f"{t['peak_rss_mib']:.0f} MiB); "
            f"time ratio {entry['time_ratio_axon_over_torch']:.2f} (rounds: "
            f"{', '.join(f'{r:.2f}' for r in round_ratios)}), RSS ratio {entry['rss_ratio_axon_over_torch']:.2f}"
        )
    report = {
        "benchmark": "llm_train_step",
        "machine": machine_info(load_before, load_keys="load_average_1_5_15min"),
        "batch_seq": SHAPES,
        "vocab_size": VOCAB,
        "steps": args.steps,
        "warmup": args.warmup,
        "rounds": args.rounds,
        "threads": args.threads or "library defaults",
        "step": "zero_grad, causal-LM loss, backward, clip_grad_norm_(1.0), AdamW step, warmup+cosine step",
        "peers": {
            "llama_12m": "examples/llm_demo Trainer.train_step vs transformers LlamaForCausalLM (sdpa)",
            "gpt_384x6": "axon_llm.GPT2LMHeadModel in that loop vs transformers GPT2LMHeadModel (sdpa), dropout 0",
        },
        "results": results,
    }
    print(f"wrote {write_report(report, args.out)}")


if __name__ == "__main__":
    main()

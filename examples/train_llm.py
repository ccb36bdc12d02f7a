"""Train a small LLaMA from scratch with axon, end to end (``make demo`` runs this with its defaults).

    python examples/train_llm.py [--size tiny|small|12m] [--steps N] [--device cpu|cuda|cuda-sim]
                                 [--monitor] [--resume] [--out DIR] ...

1. corpus: the Python standard library's own ``.py`` sources (PSF License) unless ``--corpus``
   names a folder or a text file; split train/validation by file;
2. tokenizer: byte-level BPE trained on the train split with axon-text (``--vocab-size``), saved
   as ``OUT/tokenizer.json``;
3. model: axon-llm's ``LlamaForCausalLM`` (``--size 12m``: 12.6 M parameters, the default;
   ``small``: 3 M; ``tiny``: 0.16 M), AdamW (the fused kernel on cuda), linear warmup + cosine
   decay, gradient clipping, flash attention (``--attention``), activation checkpointing
   (``--activation-checkpointing``); a rich progress bar (tokens/s, loss, ETA), the live
   TrainingMonitor in the browser (``--monitor``), validation loss and perplexity every
   ``--eval-every`` steps;
4. an atomic checkpoint every ``--checkpoint-every`` steps; ``--resume`` continues it bit for bit
   (``--stop-after K`` stops as if interrupted after step K);
5. a sampled text (prompt and settings printed), Q8_0 and Q4_0 GGUF files, generation from them
   with ``python -m axon_quant generate``, and how many greedy tokens the float and quantized
   models agree on;
6. a summary: parameters, tokens seen, validation perplexity against the unigram baseline, files
   written, time per stage (also ``OUT/summary.json``).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from llm_demo.pipeline import run  # noqa: E402
from llm_demo.sizes import SIZES  # noqa: E402
from llm_demo.training import ATTENTION_PATHS  # noqa: E402

DEFAULT_PROMPT = "class Parser:\n    def __init__(self"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train_llm.py", description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    data = parser.add_argument_group("data")
    data.add_argument("--corpus", default=None, metavar="PATH", help="a folder or a text file (the stdlib sources)")
    data.add_argument("--pattern", default="*.py", help="files of a --corpus folder to read (*.py)")
    data.add_argument("--val-percent", type=float, default=5.0, help="share of files (or lines) for validation (5)")
    data.add_argument("--max-corpus-chars", type=int, default=None, metavar="N", help="train on the first N chars")
    data.add_argument("--vocab-size", type=int, default=None, help="BPE vocabulary (the size's default)")
    model = parser.add_argument_group("model and training")
    model.add_argument("--size", choices=sorted(SIZES), default="12m", help="model preset (12m)")
    model.add_argument("--steps", type=int, default=None, help="optimisation steps (the size's default)")
    model.add_argument("--batch", type=int, default=None, help="windows per step (the size's default)")
    model.add_argument("--seq-len", type=int, default=None, help="tokens per window (the size's default)")
    model.add_argument("--lr", type=float, default=None, help="peak learning rate (the size's default)")
    model.add_argument("--warmup", type=int, default=None, help="linear warmup steps (steps/10, at most 100)")
    model.add_argument("--min-lr-ratio", type=float, default=0.1, help="final lr / peak lr of the cosine (0.1)")
    model.add_argument("--weight-decay", type=float, default=0.1, help="AdamW's decoupled weight decay (0.1)")
    model.add_argument("--clip", type=float, default=1.0, help="max global gradient 2-norm (1.0)")
    model.add_argument("--seed", type=int, default=0, help="seed of the weights, the data order and sampling (0)")
    model.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or cuda-sim (cpu)")
    model.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads (1: OpenBLAS's spinning workers slow a shared machine down; 0: the BLAS's default)",
    )
    model.add_argument("--attention", choices=ATTENTION_PATHS, default="flash", help="attention path (flash)")
    model.add_argument(
        "--activation-checkpointing", action="store_true", help="recompute each layer's activations in backward"
    )
    loop = parser.add_argument_group("evaluation, checkpoints, display")
    loop.add_argument("--eval-every", type=int, default=50, help="validation every N steps (50)")
    loop.add_argument("--eval-windows", type=int, default=32, help="validation windows per evaluation (32)")
    loop.add_argument("--checkpoint-every", type=int, default=50, help="checkpoint every N steps; 0: at the end (50)")
    loop.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.axon")
    loop.add_argument("--stop-after", type=int, default=None, metavar="K", help="stop after step K, as if interrupted")
    loop.add_argument("--monitor", action="store_true", help="serve the live TrainingMonitor dashboard")
    loop.add_argument("--monitor-port", type=int, default=0, help="its port (0: a free one)")
    loop.add_argument("--out", default="runs/train_llm", help="output folder (runs/train_llm)")
    export = parser.add_argument_group("sampling and GGUF")
    export.add_argument("--prompt", default=DEFAULT_PROMPT, help=f"prompt of the samples ({DEFAULT_PROMPT!r})")
    export.add_argument("--sample-tokens", type=int, default=96, help="tokens of the sampled text (96)")
    export.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (0.8)")
    export.add_argument("--top-k", type=int, default=40, help="sampling top-k (40)")
    export.add_argument("--greedy-tokens", type=int, default=32, help="greedy tokens compared float vs GGUF (32)")
    export.add_argument("--no-export", action="store_true", help="skip sampling and the GGUF files")
    return parser


def main(argv: list[str] | None = None) -> dict:
    """Parse ``argv`` and run the demo; returns the summary."""
    options = build_parser().parse_args(argv)
    if options.threads == 0:
        return run(options)
    # OpenBLAS's worker threads spin while they wait: on a machine whose cores are all busy a
    # step can take many times longer with two threads than with one.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print(f"--threads {options.threads}: threadpoolctl is not installed; the BLAS keeps its own thread count")
        return run(options)
    with threadpool_limits(limits=options.threads, user_api="blas"):
        return run(options)


if __name__ == "__main__":
    main()

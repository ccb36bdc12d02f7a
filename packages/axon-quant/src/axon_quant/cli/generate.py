"""``python -m axon_quant generate MODEL.gguf --prompt TEXT [options]``: text streamed to stdout as
it is generated, by :func:`axon_quant.runtime.generate`.

Sampling defaults are llama.cpp's (temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, repeat
penalty 1.0 over the last 64 tokens); ``--greedy`` (or ``--temperature 0``) picks the argmax.
``--chat`` renders the prompt with the model's chat template (``tokenizer.chat_template``) as one
user turn, after ``--system`` if given. ``--telemetry`` prints per-layer times to stderr at the end.
``--device cuda`` (or ``cuda-sim``) runs the layers as CUDA kernels (see ``DeviceModel``).
"""

from __future__ import annotations

import argparse
import sys

HELP = "Generate text from a GGUF model (llama, qwen2, gemma3), streamed to stdout."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the GGUF model file")
    parser.add_argument("--prompt", required=True, help="the prompt text")
    parser.add_argument("--max-tokens", type=int, default=128, metavar="N", help="tokens to generate at most (128)")
    parser.add_argument("--greedy", action="store_true", help="pick the most likely token every step")
    parser.add_argument("--temperature", type=float, default=0.8, metavar="T", help="0 is greedy (0.8)")
    parser.add_argument("--top-k", type=int, default=40, metavar="K", help="0 turns it off (40)")
    parser.add_argument("--top-p", type=float, default=0.95, metavar="P", help="1 turns it off (0.95)")
    parser.add_argument("--min-p", type=float, default=0.05, metavar="P", help="0 turns it off (0.05)")
    parser.add_argument("--repeat-penalty", type=float, default=1.0, metavar="R", help="1 turns it off (1.0)")
    parser.add_argument(
        "--repeat-last-n",
        type=int,
        default=64,
        metavar="N",
        help="tokens the penalty looks back over; 0: the whole context (64)",
    )
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="seed of the sampler (random if not given)")
    parser.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="stop before this text (repeatable; the text is not printed)",
    )
    parser.add_argument("--chat", action="store_true", help="apply the model's chat template to the prompt")
    parser.add_argument("--system", default=None, metavar="TEXT", help="a system message (with --chat)")
    parser.add_argument("--telemetry", action="store_true", help="print per-layer timings to stderr")
    parser.add_argument("--threads", type=int, default=None, metavar="N", help="compute threads (all CPUs)")
    parser.add_argument(
        "--device",
        default="cpu",
        metavar="DEVICE",
        help="cpu, cuda, cuda:N or cuda-sim: where the layers run (cpu); on a GPU device the weights stream "
        "from host memory one layer ahead",
    )
    parser.add_argument(
        "--ctx",
        type=int,
        default=None,
        metavar="N",
        help="context length to plan the KV cache for (min(2048, the model's))",
    )


def chat_prompt(tokenizer, user: str, system: str | None) -> str:
    """``user`` (after ``system``) rendered by the tokenizer's chat template, the assistant's turn open."""
    from ..chat import ChatTemplateError, apply_chat_template

    if not tokenizer.chat_template:
        raise ChatTemplateError("--chat: the model has no tokenizer.chat_template")
    messages = ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": user}
    ]

    def text(token: int | None) -> str:
        return tokenizer.token_text(token) if token is not None else ""

    return apply_chat_template(
        tokenizer.chat_template,
        messages,
        add_generation_prompt=True,
        bos_token=text(tokenizer.bos_id),
        eos_token=text(tokenizer.eos_id),
    )


def run(args: argparse.Namespace) -> int:
    from axon_core import DeviceError

    from ..errors import GGUFError, QuantError
    from ..runtime import SamplingParams, generate, load_model
    from ..tokenizer import GGUFTokenizer

    try:
        sampling = SamplingParams(
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            min_p=args.min_p,
            repetition_penalty=args.repeat_penalty,
            repeat_last_n=args.repeat_last_n,
            seed=args.seed,
            greedy=args.greedy,
        )
        model = load_model(
            args.model, max_ctx=args.ctx, threads=args.threads, telemetry=args.telemetry, device=args.device
        )
        tokenizer = GGUFTokenizer.from_metadata(model.gguf.metadata)
        if args.chat:
            text = chat_prompt(tokenizer, args.prompt, args.system)
            bos = tokenizer.token_text(tokenizer.bos_id) if tokenizer.bos_id is not None else None
            # The template writes BOS itself where the model wants one; do not add a second.
            prompt = tokenizer.encode(text, add_special=not (bos and text.startswith(bos)), parse_special=True)
        else:
            prompt = args.prompt

        def write(piece: str) -> None:
            sys.stdout.write(piece)
            sys.stdout.flush()

        generate(model, tokenizer, prompt, max_tokens=args.max_tokens, sampling=sampling, stop=args.stop, on_text=write)
        sys.stdout.write("\n")
        sys.stdout.flush()
        if model.telemetry is not None:
            print(model.telemetry.format_table(), file=sys.stderr)
    except (QuantError, GGUFError, DeviceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0

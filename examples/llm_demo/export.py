"""After training: sample text, write Q8_0 / Q4_0 GGUF files, generate from them with
``python -m axon_quant generate``, and count how long the quantized model's greedy choices follow
the float model's.

The count is taken on logits, not text: the float model's greedy continuation is run through the
quantized runtime in one pass (every position's logits), and the count is the number of leading
positions where the runtime's argmax is the float model's token. Greedy decoding from the GGUF
must then reproduce exactly that many of the float model's tokens; the CLI's printed text is
checked against the float text of those tokens.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import axon_llm
from axon_autograd import no_grad
from axon_quant.runtime import load_model
from axon_tensor import tensor
from axon_text import Tokenizer

__all__ = ["Agreement", "generate_with_cli", "greedy_agreement", "greedy_continuation", "sample_text", "write_gguf"]


@dataclass(frozen=True)
class Agreement:
    """How a GGUF file's greedy decoding follows the float model's ``float_tokens`` after the prompt.

    ``agreeing``: leading positions whose quantized argmax is the float token (of ``compared``);
    ``max_logit_error``: the largest |float - quantized| logit over those positions; ``cli_text``:
    what ``python -m axon_quant generate --greedy`` printed; ``cli_follows``: whether it starts with
    the float model's text of the ``agreeing`` tokens.
    """

    fmt: str
    path: Path
    agreeing: int
    compared: int
    max_logit_error: float
    cli_text: str
    cli_follows: bool


def sample_text(
    model: axon_llm.CausalLM,
    tokenizer: Tokenizer,
    prompt: str,
    max_new_tokens: int,
    temperature: float,
    top_k: int,
    seed: int,
) -> str:
    """A sampled continuation of ``prompt`` (temperature, top-k, seeded; KV-cache generation)."""
    ids = tokenizer.encode(prompt, add_special_tokens=False)
    out = model.generate(
        tensor(np.array([ids], dtype=np.int64)),
        max_new_tokens=max_new_tokens,
        do_sample=True,
        temperature=temperature,
        top_k=top_k,
        seed=seed,
    )
    return tokenizer.decode(out.numpy()[0, len(ids) :].tolist(), skip_special_tokens=False)


def greedy_continuation(model: axon_llm.CausalLM, prompt_ids: list[int], max_new_tokens: int) -> list[int]:
    """The float model's greedy tokens after ``prompt_ids`` (KV-cache generation; stops at end-of-text)."""
    out = model.generate(tensor(np.array([prompt_ids], dtype=np.int64)), max_new_tokens=max_new_tokens, do_sample=False)
    tokens = out.numpy()[0, len(prompt_ids) :].tolist()
    eos = model.config.eos_token_id
    return tokens[: tokens.index(eos)] if eos in tokens else tokens


def write_gguf(model: axon_llm.CausalLM, tokenizer: Tokenizer, path: Path, fmt: str) -> Path:
    """``axon_llm.save_gguf``: the weights quantized to ``fmt`` and the tokenizer in the file's metadata."""
    axon_llm.save_gguf(model, path, fmt, tokenizer=tokenizer)
    return path


def generate_with_cli(path: Path, prompt: str, max_tokens: int) -> str:
    """``python -m axon_quant generate PATH --prompt PROMPT --greedy --max-tokens N``: the printed text."""
    command = [sys.executable, "-m", "axon_quant", "generate", str(path), "--prompt", prompt, "--greedy"]
    command += ["--max-tokens", str(max_tokens)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    # The command ends its output with one newline of its own.
    return done.stdout[:-1] if done.stdout.endswith("\n") else done.stdout


def greedy_agreement(
    model: axon_llm.CausalLM,
    tokenizer: Tokenizer,
    path: Path,
    fmt: str,
    prompt: str,
    prompt_ids: list[int],
    float_tokens: list[int],
) -> Agreement:
    """Compare the GGUF file's logits along the float greedy path, then its CLI's greedy text."""
    if not float_tokens:
        # The float model ended the text at once: there is nothing to follow.
        return Agreement(fmt, path, 0, 0, 0.0, generate_with_cli(path, prompt, 1), True)
    sequence = np.array(prompt_ids + float_tokens, dtype=np.int64)
    device = next(iter(model.parameters())).device
    with no_grad():
        float_logits = model(tensor(sequence[None, :-1], device=device)).data.numpy()[0]
    runtime = load_model(str(path), max_ctx=len(sequence) + 1, logits_rows=len(sequence) - 1, prefetch=False)
    try:
        quant_logits = np.array(runtime.prefill(sequence[:-1], all_logits=True))
    finally:
        runtime.close()
    first = len(prompt_ids) - 1
    chosen = quant_logits[first:].argmax(axis=1)
    matches = chosen == sequence[first + 1 :]
    agreeing = int(len(matches) if matches.all() else np.argmin(matches))
    span = slice(first, first + max(agreeing, 1))
    error = float(np.abs(float_logits[span] - quant_logits[span]).max())
    cli_text = generate_with_cli(path, prompt, len(float_tokens))
    expected = tokenizer.decode(float_tokens[:agreeing], skip_special_tokens=False)
    return Agreement(fmt, path, agreeing, len(float_tokens), error, cli_text, cli_text.startswith(expected))

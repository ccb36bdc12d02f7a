"""The demo's stages in order, each timed: corpus -> tokenizer -> model -> training -> sampling ->
GGUF export and generation -> summary. ``run(options)`` returns the summary as a dict (also
written to ``OUT/summary.json``).

Files under ``OUT``: ``tokenizer.json``, ``train_tokens.npy`` / ``val_tokens.npy`` (the token
streams), ``checkpoint.axon`` (the whole training state, rewritten atomically every N steps),
``model/`` (``config.json`` + ``model.safetensors``, loadable by ``axon_llm.from_pretrained`` and
by ``transformers``), ``model-q8_0.gguf`` / ``model-q4_0.gguf`` and ``summary.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console

from axon_serialize import atomic_writer
from axon_text import Tokenizer

from .corpus import load_corpus
from .data import unigram_baseline
from .progress import TrainingDisplay
from .sizes import SIZES, model_config
from .tokenizer import END_OF_TEXT, encode_documents, load_tokens, save_tokens, train_tokenizer
from .training import CHECKPOINT_NAME, RunConfig, Trainer, fit, perplexity

__all__ = ["GGUF_FORMATS", "run", "run_config"]

GGUF_FORMATS = ("q8_0", "q4_0")


class StageTimer:
    """Wall-clock seconds per named stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def run_config(options: argparse.Namespace, vocab_size: int) -> RunConfig:
    """The :class:`RunConfig` of the command-line options (unset ones take the size's defaults)."""
    preset = SIZES[options.size]
    steps = options.steps if options.steps is not None else preset.steps
    warmup = options.warmup if options.warmup is not None else max(1, min(100, steps // 10))
    return RunConfig(
        size=options.size,
        vocab_size=vocab_size,
        seq_len=options.seq_len or preset.seq_len,
        batch=options.batch or preset.batch,
        steps=steps,
        lr=options.lr if options.lr is not None else preset.lr,
        warmup=warmup if steps > 1 else 0,
        min_lr_ratio=options.min_lr_ratio,
        weight_decay=options.weight_decay,
        clip=options.clip,
        seed=options.seed,
        attention=options.attention,
        activation_checkpointing=options.activation_checkpointing,
        eval_windows=options.eval_windows,
    )


def _prepare_data(options: argparse.Namespace, out: Path, resuming: bool, console: Console, timer: StageTimer):
    """The tokenizer and the two token streams: reused from ``out`` when resuming, else built afresh."""
    tokenizer_path, train_path, val_path = out / "tokenizer.json", out / "train_tokens.npy", out / "val_tokens.npy"
    if resuming:
        with timer("tokenizer"):
            tokenizer = Tokenizer.from_file(tokenizer_path)
            train_tokens, val_tokens = load_tokens(train_path), load_tokens(val_path)
        console.print(f"[bold]data[/] reused from {out} (resuming): {len(train_tokens):,} train tokens")
        return tokenizer, train_tokens, val_tokens
    with timer("corpus"):
        corpus = load_corpus(options.corpus, options.pattern, options.val_percent, options.max_corpus_chars)
    console.print(f"[bold]corpus[/] {corpus.describe()}")
    vocab_size = options.vocab_size or SIZES[options.size].vocab_size
    with timer("tokenizer"):
        tokenizer = train_tokenizer(corpus.train, vocab_size)
        tokenizer.save(tokenizer_path)
        train_tokens = encode_documents(tokenizer, corpus.train)
        val_tokens = encode_documents(tokenizer, corpus.validation)
        save_tokens(train_tokens, train_path)
        save_tokens(val_tokens, val_path)
    console.print(
        f"[bold]tokenizer[/] byte-level BPE, {tokenizer.vocab_size} ids -> {tokenizer_path}; "
        f"{len(train_tokens):,} train / {len(val_tokens):,} validation tokens "
        f"({corpus.train_chars / len(train_tokens):.2f} chars per token)"
    )
    return tokenizer, train_tokens, val_tokens


def _launch_monitor(options: argparse.Namespace, trainer: Trainer, console: Console) -> Any:
    from axon import TrainingMonitor

    run = trainer.run
    evaluations = -(-run.steps // options.eval_every)
    monitor = TrainingMonitor(f"train_llm {run.size}", trainer.model.num_parameters())
    monitor.total_epochs(evaluations).batch_size(run.batch).launch(port=options.monitor_port)
    console.print(f"[bold]monitor[/] live at {monitor.url} (each evaluation is one 'epoch')")
    return monitor


def _export(options, trainer: Trainer, tokenizer: Tokenizer, out: Path, console: Console, timer: StageTimer):
    # axon-quant's runtime (Numba kernels) loads only when the export stage runs.
    from .export import greedy_agreement, greedy_continuation, sample_text, write_gguf

    model = trainer.model
    model.eval()
    with timer("sampling"):
        text = sample_text(
            model, tokenizer, options.prompt, options.sample_tokens, options.temperature, options.top_k, options.seed
        )
    console.print(
        f"[bold]sample[/] prompt {options.prompt!r}, {options.sample_tokens} new tokens, temperature "
        f"{options.temperature}, top-k {options.top_k}, seed {options.seed}:"
    )
    console.print(options.prompt + text, markup=False, highlight=False)
    results = []
    with timer("gguf"):
        prompt_ids = tokenizer.encode(options.prompt, add_special_tokens=False)
        float_tokens = greedy_continuation(model, prompt_ids, options.greedy_tokens)
        console.print(f"[bold]greedy[/] float model after {options.prompt!r} ({len(float_tokens)} tokens):")
        console.print(tokenizer.decode(float_tokens, skip_special_tokens=False), markup=False, highlight=False)
        for fmt in GGUF_FORMATS:
            path = write_gguf(model, tokenizer, out / f"model-{fmt}.gguf", fmt)
            agreement = greedy_agreement(model, tokenizer, path, fmt, options.prompt, prompt_ids, float_tokens)
            results.append(agreement)
            console.print(
                f"[bold]{fmt}[/] {path.name} ({path.stat().st_size / 1e6:.2f} MB): greedy argmax equal to the float "
                f"model's for {agreement.agreeing} of {agreement.compared} tokens (max |logit error| "
                f"{agreement.max_logit_error:.4f} over them); `python -m axon_quant generate --greedy` printed:"
            )
            console.print(agreement.cli_text, markup=False, highlight=False)
            verdict = "starts with" if agreement.cli_follows else "does NOT start with"
            console.print(f"  ... which {verdict} the float model's text of those {agreement.agreeing} tokens")
    model.train()
    return text, float_tokens, results


def _print_summary(summary: dict[str, Any], console: Console) -> None:
    console.rule("[bold]summary")
    console.print(f"parameters          {summary['parameters']:,}")
    console.print(f"tokens seen         {summary['tokens_seen']:,} ({summary['steps']} steps)")
    console.print(
        f"validation          loss {summary['val_loss']:.4f}, perplexity {summary['val_perplexity']:.2f} vs "
        f"unigram {summary['unigram_perplexity']:.2f} (ratio {summary['perplexity_ratio']:.3f})"
    )
    for fmt, info in summary.get("gguf", {}).items():
        console.print(f"{fmt:<19} greedy agreement {info['agreeing']}/{info['compared']} tokens")
    console.print("time per stage      " + ", ".join(f"{k} {v:.1f} s" for k, v in summary["stage_seconds"].items()))
    console.print("files written")
    for name, size in summary["files"].items():
        console.print(f"  {name:<40} {size / 1e6:9.2f} MB")


def run(options: argparse.Namespace, console: Console | None = None) -> dict[str, Any]:
    """Run the demo as ``options`` (``examples/train_llm.py``'s flags) say; returns the summary."""
    console = console or Console()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / CHECKPOINT_NAME
    if options.resume and not checkpoint_path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint_path}; run once without --resume first")
    timer = StageTimer()
    tokenizer, train_tokens, val_tokens = _prepare_data(options, out, options.resume, console, timer)
    run_cfg = run_config(options, tokenizer.vocab_size)
    with timer("model"):
        config = model_config(run_cfg.size, run_cfg.vocab_size, run_cfg.seq_len, tokenizer.token_to_id(END_OF_TEXT))
        trainer = Trainer(run_cfg, config, train_tokens, val_tokens, device=options.device)
        if options.resume:
            trainer.restore(checkpoint_path)
    start_step = trainer.step
    baseline = unigram_baseline(train_tokens, trainer.val_windows, run_cfg.vocab_size)
    console.print(
        f"[bold]model[/] LlamaForCausalLM, {trainer.model.num_parameters():,} parameters: hidden "
        f"{config.hidden_size}, {config.num_hidden_layers} layers, {config.num_attention_heads} heads "
        f"({config.num_key_value_heads} key/value), MLP {config.intermediate_size}, on {options.device}"
    )
    console.print(
        f"[bold]training[/] {run_cfg.steps} steps of {run_cfg.batch} x {run_cfg.seq_len} tokens, AdamW lr {run_cfg.lr} "
        f"(warmup {run_cfg.warmup}, cosine to {run_cfg.lr * run_cfg.min_lr_ratio:.1e}), clip {run_cfg.clip}, "
        f"{run_cfg.attention} attention{', activation checkpointing' if run_cfg.activation_checkpointing else ''}; "
        f"unigram baseline perplexity {baseline:.2f}" + (f"; resumed at step {start_step}" if options.resume else "")
    )
    monitor = _launch_monitor(options, trainer, console) if options.monitor else None
    try:
        with timer("training"):
            display = TrainingDisplay(run_cfg.steps, trainer.step, run_cfg.tokens_per_step, monitor, console)
            with display:
                status = fit(
                    trainer,
                    checkpoint_path,
                    options.eval_every,
                    options.checkpoint_every,
                    options.stop_after,
                    on_step=display.on_step,
                    on_eval=display.on_eval,
                )
        if monitor is not None:
            monitor.set_status(status)
    finally:
        if monitor is not None:
            monitor.close()
    histories = trainer.state.metric_histories
    val_loss = histories["val_loss"][-1]
    summary: dict[str, Any] = {
        "status": status,
        "size": run_cfg.size,
        "parameters": trainer.model.num_parameters(),
        "steps": trainer.step,
        "resumed_from": start_step if options.resume else None,
        "tokens_seen": trainer.tokens_seen,
        "tokens_per_second": display.tokens_per_second,
        "val_loss": val_loss,
        "val_perplexity": perplexity(val_loss),
        "unigram_perplexity": baseline,
        "perplexity_ratio": perplexity(val_loss) / baseline,
        "loss_history": list(trainer.state.loss_history),
        "val_history": {int(step): loss for step, loss in zip(histories["val_step"], histories["val_loss"])},
    }
    if status == "stopped":
        console.print(f"[bold]stopped[/] after step {trainer.step}; --resume continues from {checkpoint_path}")
    else:
        with timer("save"):
            trainer.model.save_pretrained(out / "model")
            tokenizer.save(out / "model" / "tokenizer.json")
        if not options.no_export:
            text, float_tokens, agreements = _export(options, trainer, tokenizer, out, console, timer)
            summary["sample"] = {"prompt": options.prompt, "text": text}
            greedy_text = tokenizer.decode(float_tokens, skip_special_tokens=False)
            summary["greedy"] = {"tokens": float_tokens, "text": greedy_text}
            fields = ("agreeing", "compared", "max_logit_error", "cli_text", "cli_follows")
            summary["gguf"] = {a.fmt: {name: getattr(a, name) for name in fields} for a in agreements}
    summary["stage_seconds"] = dict(timer.seconds)
    summary_path = out / "summary.json"
    summary["files"] = {
        str(path.relative_to(out)): path.stat().st_size
        for path in sorted(out.rglob("*"))
        if path.is_file() and path != summary_path
    }
    with atomic_writer(summary_path) as handle:
        handle.write(json.dumps(summary, indent=2).encode())
    if status != "stopped":
        _print_summary(summary, console)
    return summary

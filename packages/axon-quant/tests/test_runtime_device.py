"""The device runtime under cuda-sim: ``load_model(path, device="cuda-sim")`` runs the layers as
CUDA kernels (axon-core's ``quant_matmul`` and ``decoder`` families, compiled from the same CUDA C
as on a GPU), with the arena and KV cache in simulated device memory and each layer's quantized
matrices streamed one layer ahead into two device buffers.

Oracles: the CPU runtime, whose own oracles are a float64 forward and llama.cpp
(test_runtime_model.py). Each decoder kernel against the Numba op it stands in for; whole tiny
models' logits, chunked prompts and decode steps against :class:`Model`'s; the streaming
schedule against the operation log of cuda-sim's stream checker; each of the three waits of the
double buffering against the checker itself (left out, it raises). The real SmolLM2 file is
tests-integration/test_quant_runtime_device.py.

Tolerances are float32 rounding: the kernels sum in other orders than the Numba ops (block
reductions, per-lane partial sums, a float32 instead of a float64 sum of squares in RMSNorm).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest

from axon_core import Device, DeviceUnavailableError
from axon_core.kernels import REGISTRY
from axon_core.sim import SimEvent, SimRaceError
from axon_quant.errors import QuantError
from axon_quant.runtime import DeviceModel, Model, StreamTelemetry, _ops, generate, load_model
from axon_quant.runtime.device_model import MATRICES

# The tiny-model writer of the CPU runtime's tests (pytest imports test files by path).
_spec = importlib.util.spec_from_file_location(
    "_axon_quant_test_model", Path(__file__).with_name("test_runtime_model.py")
)
_model_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_model_tests)
write_model, PROMPT = _model_tests.write_model, _model_tests.PROMPT

Q = gguf.GGMLQuantizationType
DECODER = REGISTRY["decoder"]
EPS = 1e-5
# Logits of whole models, as a fraction of the largest |logit|: measured 4.6e-7 to 1.0e-6 on the
# four models below (prompt and each decode step); the bound leaves 20x for other seeds.
MODEL_TOLERANCE = 2e-5


@pytest.fixture(scope="module")
def sim():
    return Device("cuda-sim").backend


@pytest.fixture
def debug(monkeypatch):
    """Every launch in debug mode: each array between guard pages, so an access past it fails."""
    monkeypatch.setenv("AXON_SIM_DEBUG", "1")


def _launch(sim, name: str, grid: tuple, block: tuple, *args) -> None:
    sim.launch(DECODER, name, grid, block, args)


def _close(a: np.ndarray, b: np.ndarray, rel: float) -> None:
    assert np.abs(a - b).max() <= rel * max(1.0, float(np.abs(b).max())), np.abs(a - b).max()


# -- the decoder kernels against the Numba ops ---------------------------------------------------
@pytest.mark.parametrize("rows, d, threads, add", [(1, 64, 64, False), (3, 576, 256, True), (5, 16, 32, False)])
def test_rmsnorm_kernel_matches_the_numba_op(sim, debug, rows, d, threads, add) -> None:
    rng = np.random.default_rng(d)
    x, delta = (rng.standard_normal((rows, d)).astype(np.float32) for _ in range(2))
    w = rng.uniform(0.5, 1.5, d).astype(np.float32)
    want_x, want = x.copy(), np.empty_like(x)
    if add:
        _ops.add_rmsnorm(want_x, delta, w, EPS, want)
    else:
        _ops.rmsnorm(want_x, w, EPS, want)
    dx, dd, dw = sim.from_numpy(x), sim.from_numpy(delta), sim.from_numpy(w)
    out = sim.from_numpy(np.zeros_like(x)) if add else dx  # without add: in place
    _launch(sim, "decoder_rmsnorm", (rows,), (threads,), dx, dd, dw, out, np.int32(d), np.float32(EPS), np.int32(add))
    _close(sim.to_numpy(out), want, 2e-6)
    if add:  # the residual add is one float32 addition per element on both sides
        np.testing.assert_array_equal(sim.to_numpy(dx), want_x)


@pytest.mark.parametrize("rope_dim, neox", [(16, False), (16, True), (8, True)])
def test_rope_store_kernel_matches_the_numba_op(sim, debug, rope_dim, neox) -> None:
    n, start, heads, kv_heads, hd, ctx = 3, 5, 4, 2, 16, 12
    rng = np.random.default_rng(rope_dim + neox)
    q = rng.standard_normal((n, heads * hd)).astype(np.float32)
    k, v = (rng.standard_normal((n, kv_heads * hd)).astype(np.float32) for _ in range(2))
    theta = rng.uniform(0, 6.3, (ctx, rope_dim // 2))
    cos, sin = np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)
    k_cache, v_cache = (rng.standard_normal((kv_heads, ctx, hd)).astype(np.float32) for _ in range(2))
    want = [a.copy() for a in (q, k, k_cache, v_cache)]
    _ops.rope_store(want[0], want[1], v, cos, sin, start, heads, kv_heads, hd, rope_dim, neox, want[2], want[3])
    dq, dk, dkc, dvc = (sim.from_numpy(a) for a in (q, k, k_cache, v_cache))
    _launch(
        sim,
        "decoder_rope_store",
        (n, heads + kv_heads),
        (32,),
        dq,
        dk,
        sim.from_numpy(v),
        sim.from_numpy(cos),
        sim.from_numpy(sin),
        dkc,
        dvc,
        np.int32(start),
        np.int32(heads),
        np.int32(kv_heads),
        np.int32(hd),
        np.int32(rope_dim),
        np.int32(neox),
        np.int32(ctx),
    )
    for got, expected in zip((dq, dk, dkc, dvc), want, strict=True):
        _close(sim.to_numpy(got), expected, 1e-6)
    # positions outside start .. start + n - 1 of the cache are untouched
    untouched = np.r_[0:start, start + n : ctx]
    np.testing.assert_array_equal(sim.to_numpy(dkc)[:, untouched], k_cache[:, untouched])


@pytest.mark.parametrize(
    "n, start, window, heads", [(1, 0, 0, 4), (1, 40, 0, 4), (1, 40, 16, 6), (5, 30, 0, 4), (7, 20, 8, 6)]
)
def test_attention_kernel_matches_the_numba_op(sim, debug, n, start, window, heads) -> None:
    kv_heads, hd, ctx = 2, 32, 64
    rng = np.random.default_rng(n + start + heads)
    q = rng.standard_normal((n, heads * hd)).astype(np.float32)
    k, v = (rng.standard_normal((kv_heads, ctx, hd)).astype(np.float32) for _ in range(2))
    scale = np.float32(1 / np.sqrt(hd))
    want = np.empty(n * heads * hd, np.float32)
    scores = np.empty(n * heads * ctx, np.float32)
    _ops.attention(
        q.reshape(-1), k.reshape(-1), v.reshape(-1), scores, want, start, n, heads, kv_heads, hd, ctx, scale, window
    )
    out = sim.from_numpy(np.zeros((n, heads * hd), np.float32))
    _launch(
        sim,
        "decoder_attention",
        (n, heads),
        (128,),
        sim.from_numpy(q),
        sim.from_numpy(k),
        sim.from_numpy(v),
        sim.from_numpy(np.zeros_like(scores)),
        out,
        np.int32(start),
        np.int32(heads),
        np.int32(kv_heads),
        np.int32(hd),
        np.int32(ctx),
        scale,
        np.int32(window),
    )
    _close(sim.to_numpy(out).reshape(-1), want, 2e-6)


@pytest.mark.parametrize("gelu", [False, True])
def test_gated_activation_and_bias_kernels_match_the_numba_ops(sim, debug, gelu) -> None:
    rng = np.random.default_rng(gelu)
    gate, up = (4 * rng.standard_normal((3, 100)).astype(np.float32) for _ in range(2))
    gate[0, :4] = [-100.0, 100.0, 0.0, -0.0]  # saturation both ways
    want = gate.copy()
    (_ops.gelu_mul if gelu else _ops.silu_mul)(want, up)
    dg = sim.from_numpy(gate)
    _launch(sim, "decoder_gated", (2,), (128,), dg, sim.from_numpy(up), np.int64(gate.size), np.int32(gelu))
    _close(sim.to_numpy(dg), want, 1e-6)
    bias = rng.standard_normal(100).astype(np.float32)
    want_x = gate.copy()
    _ops.add_bias(want_x, bias)
    dx = sim.from_numpy(gate)
    _launch(sim, "decoder_add_bias", (1,), (64,), dx, sim.from_numpy(bias), np.int64(gate.size), np.int32(100))
    np.testing.assert_array_equal(sim.to_numpy(dx), want_x)


# -- whole models against the CPU runtime ---------------------------------------------------------
@pytest.mark.parametrize(
    "arch, fmt, tied",
    [("llama", Q.Q4_1, True), ("llama", Q.Q8_0, False), ("qwen2", Q.Q5_0, True), ("gemma3", Q.Q4_0, True)],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_device_logits_equal_the_cpu_runtime(tmp_path: Path, arch: str, fmt: Q, tied: bool) -> None:
    """Every position of a 12-token prompt run in chunks of 5 (three passes, the last ragged),
    then three decode steps, against the CPU runtime on the same file. Covers GQA, tied and
    separate heads, Q/K/V biases (qwen2), Q/K norms, post-norms, GELU, sliding-window layers and
    two RoPE bases (gemma3)."""
    path = write_model(tmp_path / "m.gguf", arch=arch, fmt=fmt, tied=tied, seed=5)
    cpu = load_model(str(path), max_ctx=32, logits_rows=len(PROMPT))
    dev = load_model(str(path), max_ctx=32, batch=5, logits_rows=len(PROMPT), device="cuda-sim")
    assert isinstance(dev, DeviceModel) and type(cpu) is Model
    ref = cpu.prefill(PROMPT, all_logits=True)
    ours = dev.prefill(PROMPT, all_logits=True)
    assert np.abs(ours - ref).max() <= MODEL_TOLERANCE * np.abs(ref).max(), np.abs(ours - ref).max()
    for token in (3, 300, 42):
        ref, ours = cpu.decode(token), dev.decode(token)
        assert np.abs(ours - ref).max() <= MODEL_TOLERANCE * np.abs(ref).max(), np.abs(ours - ref).max()
    assert dev.position == cpu.position == len(PROMPT) + 3
    dev.close()


def test_greedy_generation_equals_the_cpu_runtime(tmp_path: Path) -> None:
    path = write_model(tmp_path / "m.gguf", fmt=Q.Q4_1, seed=9)
    cpu, dev = load_model(str(path), max_ctx=32), load_model(str(path), max_ctx=32, device="cuda-sim")
    from axon_quant.tokenizer import GGUFTokenizer

    tokenizer = GGUFTokenizer.from_metadata(cpu.gguf.metadata)
    want = generate(cpu, tokenizer, PROMPT[:5], max_tokens=8)
    got = generate(dev, tokenizer, PROMPT[:5], max_tokens=8)
    assert got.tokens == want.tokens and got.text == want.text
    # generate resets the context: a second run on the same model gives the same tokens
    assert generate(dev, tokenizer, PROMPT[:5], max_tokens=8).tokens == want.tokens


# -- the streaming schedule -----------------------------------------------------------------------
def test_weights_stream_one_layer_ahead_through_two_buffers(tmp_path: Path) -> None:
    """From cuda-sim's log of every operation: the copies alternate between the two buffers; each
    layer's kernels read the buffer its copy filled, after the compute stream waited for that
    copy's event; when a layer's first kernel is issued, the next layer's copy already is (one
    ahead, across pass boundaries too) and the one after is not; each copy waited for the event
    the compute stream recorded after the last layer that read its buffer. Three layers, so a
    layer's buffer changes from pass to pass."""
    n_layers, passes = 3, 3
    path = write_model(tmp_path / "m.gguf", fmt=Q.Q8_0, n_layers=n_layers, seed=2)
    model = load_model(str(path), max_ctx=32, device="cuda-sim")
    st, order = model.streamer, model.backend.stream_order
    buffers = [order.allocation(b) for b in st.buffers]
    assert None not in buffers and buffers[0] != buffers[1]
    with order.recording() as ops:
        model.prefill([1, 2, 3, 4])
        model.decode(5)
        model.decode(6)
    executions = n_layers * passes

    copies = [i for i, op in enumerate(ops) if op.stream == "weights" and op.what == "copy host to device"]
    assert [ops[i].writes for i in copies] == [(buffers[c % 2],) for c in range(executions + 1)]
    assert all(len(ops[i].reads) == 1 for i in copies)  # from its pinned staging buffer
    staged = [op for op in ops if op.stream == "host" and op.what == "host write to a pinned buffer"]
    assert len(staged) == len(MATRICES) * (executions + 1)

    runs: list[list[int]] = []  # per execution: the indices of its kernels that read a weight buffer
    for i, op in enumerate(ops):
        read = [a for a in op.reads if a in buffers]
        if op.stream == "compute" and read:
            assert op.what.startswith("kernel quant_mat") and len(read) == 1
            if not runs or ops[runs[-1][-1]].reads[0] != read[0]:
                runs.append([])
            runs[-1].append(i)
    assert len(runs) == executions and all(len(run) == len(MATRICES) for run in runs)
    for e, run in enumerate(runs):
        assert all(ops[i].reads[0] == buffers[e % 2] for i in run)
        assert copies[e + 1] < run[0] and (e + 2 == len(copies) or copies[e + 2] > run[-1]), e
        record = ops[copies[e] + 1]
        assert record.stream == "weights" and record.what.startswith("record_event ")
        waited = [
            i
            for i in range(copies[e] + 1, run[0])
            if ops[i].stream == "compute" and ops[i].what == "wait_event " + record.what.split(" ", 1)[1]
        ]
        assert waited, f"layer execution {e} did not wait for its copy"
        if e >= 2:
            releases = [
                i
                for i in range(runs[e - 2][-1], copies[e])
                if ops[i].stream == "compute" and ops[i].what.startswith("record_event ")
            ]
            assert len(releases) == 1, e
            label = ops[releases[0]].what.split(" ", 1)[1]
            assert any(
                ops[i].stream == "weights" and ops[i].what == f"wait_event {label}"
                for i in range(releases[0], copies[e])
            ), f"copy {e} did not wait for execution {e - 2}"
    # the buffers hold the last two layers copied, byte for byte the file's (once the host has
    # waited for the copy stream: reading without it is a race the checker reports)
    with pytest.raises(SimRaceError, match="to_numpy .* copy host to device on weights wrote"):
        model.backend.to_numpy(st.buffers[executions % 2])
    st.copy_stream.synchronize()
    tensors = model.gguf.tensors
    for c in (executions - 1, executions):
        layer, slot = c % n_layers, c % 2
        for name, view in zip(MATRICES, st.views[slot][layer], strict=True):
            np.testing.assert_array_equal(model.backend.to_numpy(view.raw), tensors[f"blk.{layer}.{name}.weight"].raw)
    model.close()


def test_decode_steps_allocate_no_device_or_pinned_memory(tmp_path: Path) -> None:
    path = write_model(tmp_path / "m.gguf", fmt=Q.Q4_1, seed=4)
    model = load_model(str(path), max_ctx=32, device="cuda-sim", telemetry=True)
    be = model.backend
    model.prefill(PROMPT[:4])
    model.decode(7)
    before = (be.stream_order.device_allocations, be.stream_order.pinned_allocations, be.memory_stats()["in_use"])
    for token in PROMPT:
        model.decode(token)
    after = (be.stream_order.device_allocations, be.stream_order.pinned_allocations, be.memory_stats()["in_use"])
    assert after == before
    # the counters see an allocation: a control
    be.empty((4,), np.float32)
    assert be.stream_order.device_allocations == before[0] + 1


# -- a missing wait is caught ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "left_out, message",
    [
        (
            "compute waits for the copy",
            r"kernel quant_mat\w+ on compute reads device allocation .* copy host to device on weights wrote",
        ),
        (
            "copy waits for the compute",
            r"copy host to device on weights writes device allocation .* kernel quant_mat\w+ on compute read",
        ),
        (
            "host waits for the copy",
            r"host write to a pinned buffer on host writes pinned host buffer .* copy host to device on weights read",
        ),
    ],
)
def test_each_wait_of_the_double_buffering_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, left_out: str, message: str
) -> None:
    """cuda-sim runs the copies and kernels in issue order, so the logits would still come out
    right; on a GPU the compute stream would read a half-copied buffer, a copy would overwrite
    weights a layer is still reading, or the host would refill staging memory a copy is reading.
    The stream checker refuses each of the three."""
    path = write_model(tmp_path / "m.gguf", fmt=Q.Q8_0, n_layers=3, seed=6)
    model = load_model(str(path), max_ctx=32, device="cuda-sim")
    model.prefill([1, 2, 3])
    if left_out == "compute waits for the copy":
        monkeypatch.setattr(model.compute, "wait_event", lambda event: None)
    elif left_out == "copy waits for the compute":
        monkeypatch.setattr(model.streamer.copy_stream, "wait_event", lambda event: None)
    else:
        monkeypatch.setattr(SimEvent, "synchronize", lambda self: None)
    with pytest.raises(SimRaceError, match=message):
        for token in (4, 5, 6):
            model.decode(token)


# -- telemetry, errors, CLI -----------------------------------------------------------------------
def test_stream_telemetry_times_every_layer(tmp_path: Path) -> None:
    path = write_model(tmp_path / "m.gguf", fmt=Q.Q4_1, seed=8)
    model = load_model(str(path), max_ctx=32, device="cuda-sim", telemetry=True)
    model.prefill(PROMPT[:4])
    model.decode(5)
    model.decode(6)
    tel = model.telemetry
    assert isinstance(tel, StreamTelemetry)
    report = tel.report()
    assert (report["passes"], report["tokens"]) == (3, 6)
    rows = report["rows"]
    assert [r["name"] for r in rows] == ["blk.0", "blk.1", "embed", "output"]
    for i, row in enumerate(rows[:2]):
        matrices = sum(model.gguf.tensors[f"blk.{i}.{m}.weight"].nbytes for m in MATRICES)
        copied = row["copy_mib"] * 2**20
        assert copied == model.streamer.layer_bytes[i] and matrices <= copied < matrices + 256 * len(MATRICES)
        assert row["compute_ms"] > 0 and row["copy_ms"] > 0 and row["stage_ms"] > 0 and row["wait_ms"] >= 0
    assert rows[3]["compute_ms"] > 0 and rows[3]["copy_mib"] == 0
    assert "telemetry (device streams): 3 forward passes, 6 tokens" in tel.format_table()


def test_device_errors_are_clear(tmp_path: Path) -> None:
    dense = write_model(tmp_path / "f32.gguf", fmt=Q.F32)
    with pytest.raises(QuantError, match="blk.0.attn_q.weight is f32; the device runtime has kernels for q4_0"):
        load_model(str(dense), max_ctx=16, device="cuda-sim")
    path = write_model(tmp_path / "q.gguf", fmt=Q.Q8_0)
    model = load_model(str(path), max_ctx=8, device="cuda-sim")
    with pytest.raises(QuantError, match="outside the vocabulary"):
        model.decode(10_000)
    model.prefill(list(range(1, 8)))
    model.decode(5)
    with pytest.raises(QuantError, match="context is full"):
        model.decode(5)
    with pytest.raises(QuantError, match="CPU runtime is Model"):
        DeviceModel(model.config, model.gguf.tensors, device="cpu")
    try:
        Device("cuda")
    except DeviceUnavailableError:
        with pytest.raises(DeviceUnavailableError, match="no CUDA GPU"):
            load_model(str(path), device="cuda")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "axon_quant", *args], capture_output=True, text=True, timeout=300)


def test_cli_device_flag(tmp_path: Path) -> None:
    """``generate --device cuda-sim`` prints the CPU runtime's greedy text (the CLI adds only
    argument parsing and printing, test_runtime_cli.py), ``bench`` reports the device."""
    from axon_quant.tokenizer import GGUFTokenizer

    path = str(write_model(tmp_path / "m.gguf", fmt=Q.Q8_0, seed=1))
    cpu = load_model(path, max_ctx=32)
    expected = generate(cpu, GGUFTokenizer.from_metadata(cpu.gguf.metadata), "w3 w7", max_tokens=6).text
    args = ("generate", path, "--prompt", "w3 w7", "--max-tokens", "6", "--greedy", "--ctx", "32")
    dev = _cli(*args, "--device", "cuda-sim", "--telemetry")
    assert dev.returncode == 0, dev.stderr
    assert dev.stdout == expected + "\n" and expected.strip()
    assert "telemetry (device streams)" in dev.stderr and "copy ms" in dev.stderr
    bench = _cli("bench", path, "--device", "cuda-sim", "--prompt-tokens", "4", "--decode-tokens", "2", "--telemetry")
    assert bench.returncode == 0, bench.stderr
    report = json.loads(bench.stdout)
    assert report["device"] == "cuda-sim" and report["decode_tok_s"] > 0
    assert len(report["telemetry"]["rows"]) == 4 and report["telemetry"]["passes"] == 2
    bad = _cli("generate", path, "--prompt", "w3", "--device", "tpu")
    assert bad.returncode == 1 and "unknown device 'tpu'" in bad.stderr

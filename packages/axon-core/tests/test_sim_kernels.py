"""Every registered CUDA kernel, run by the CUDA backend's own code under cuda-sim, against the
CPU backend's NumPy reference: sizes that cross warp and block boundaries, non-contiguous inputs,
and float16/bfloat16 where the kernel takes them.

Each case calls a fused op on both backends; counting launches shows which kernels ran (a case
whose op ran no kernel fails), and the worst error per kernel is recorded for the report
(``tools/kernel_report.py``). Under ``make test-gpu`` (``AXON_DEFAULT_DEVICE=cuda``) the same
cases run on the GPU, so emulated and real results can be held against each other.
"""

from __future__ import annotations

import collections
import os
import zlib
from dataclasses import dataclass
from typing import Any, Callable

import ml_dtypes
import numpy as np
import pytest

from axon_core import Device
from axon_core.kernels import REGISTRY

SIZES = [1, 31, 32, 33, 1000, 4097]
FLOATS = {"float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}
# Kernels and reference both compute in float32; half results may differ by a rounding step.
TOLERANCE = {"float32": (2e-5, 2e-6), "float16": (4e-3, 2e-3), "bfloat16": (1.6e-2, 1.6e-2)}
LAYOUTS = ["contiguous", "transposed", "strided"]


@pytest.fixture(scope="module")
def kernel_device():
    """``(backend, launch counts)`` of cuda-sim, or of the GPU under ``make test-gpu``.

    The backend's ``launch`` is wrapped to count launches per kernel name, so a case can tell
    which kernels its op ran.
    """
    name = "cuda" if os.environ.get("AXON_DEFAULT_DEVICE", "").split(":")[0] == "cuda" else "cuda-sim"
    backend = Device(name).backend
    # Under cuda-sim every launch runs in debug mode: each array argument between guard pages
    # and canaries (an out-of-bounds access fails the test), dynamic shared memory poisoned.
    env = pytest.MonkeyPatch()
    env.setenv("AXON_SIM_DEBUG", "1")
    counts: collections.Counter[str] = collections.Counter()
    launch = backend.launch

    def counting_launch(kernel, kernel_name, *args, **kwargs):
        counts[kernel_name] += 1
        return launch(kernel, kernel_name, *args, **kwargs)

    backend.launch = counting_launch
    yield backend, counts
    del backend.launch
    env.undo()


@pytest.fixture(scope="module")
def cpu_backend():
    return Device("cpu").backend


def to_device(backend: Any, host: np.ndarray, layout: str = "contiguous") -> Any:
    """``host``'s values on ``backend`` as a contiguous array, a transposed view or a strided view."""
    if layout == "transposed" and host.ndim >= 2:
        return backend.from_numpy(np.ascontiguousarray(np.swapaxes(host, -1, -2))).swapaxes(-1, -2)
    if layout == "strided" and host.ndim >= 1:
        wide = np.zeros(host.shape[:-1] + (2 * host.shape[-1],), host.dtype)
        wide[..., ::2] = host
        return backend.from_numpy(wide)[..., ::2]
    return backend.from_numpy(np.ascontiguousarray(host))


@dataclass
class Case:
    op: str
    build: Callable[[np.random.Generator, int, Any], tuple[tuple, dict]]
    sizes: tuple = tuple(SIZES)
    dtypes: tuple = tuple(FLOATS)
    layouts: tuple = tuple(LAYOUTS)
    in_place: bool = False  # the op updates its array arguments (adam_step)
    # Arguments that take the non-contiguous layout (None: every float array). An in-place op's
    # state must stay contiguous: the backend falls back to the reference for strided state.
    layout_args: tuple | None = None


def _normal(rng: np.random.Generator, shape: tuple, dtype: Any, scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _rows(n: int) -> tuple[int, int]:
    return (3, n) if n < 1000 else (2, n)


CASES: dict[str, Case] = {
    "gelu": Case("gelu", lambda r, n, t: ((_normal(r, (n,), t, 3),), {})),
    "gelu_tanh": Case("gelu", lambda r, n, t: ((_normal(r, (n,), t, 3),), {"approximate": "tanh"})),
    "gelu_backward": Case("gelu_backward", lambda r, n, t: ((_normal(r, (n,), t), _normal(r, (n,), t, 3)), {})),
    "gelu_tanh_backward": Case(
        "gelu_backward", lambda r, n, t: ((_normal(r, (n,), t), _normal(r, (n,), t, 3)), {"approximate": "tanh"})
    ),
    "silu": Case("silu", lambda r, n, t: ((_normal(r, (n,), t, 3),), {})),
    "silu_backward": Case("silu_backward", lambda r, n, t: ((_normal(r, (n,), t), _normal(r, (n,), t, 3)), {})),
    "swiglu": Case("swiglu", lambda r, n, t: ((_normal(r, (2, n), t, 2), _normal(r, (2, n), t)), {})),
    "swiglu_backward": Case(
        "swiglu_backward",
        lambda r, n, t: ((_normal(r, (2, n), t), _normal(r, (2, n), t, 2), _normal(r, (2, n), t)), {}),
    ),
    "softmax": Case("softmax", lambda r, n, t: ((_normal(r, _rows(n), t, 4),), {"dim": -1})),
    "softmax_dim0": Case("softmax", lambda r, n, t: ((_normal(r, (n, 3), t, 4),), {"dim": 0})),
    "softmax_causal": Case(
        "softmax", lambda r, n, t: ((_normal(r, (min(n, 40), n), t, 4),), {"dim": -1, "causal": True})
    ),
    "log_softmax": Case("log_softmax", lambda r, n, t: ((_normal(r, _rows(n), t, 4),), {"dim": -1})),
    "softmax_backward": Case(
        "softmax_backward",
        lambda r, n, t: (
            (_normal(r, _rows(n), t), _softmax(_normal(r, _rows(n), np.float64, 3)).astype(t)),
            {"dim": -1},
        ),
    ),
    "log_softmax_backward": Case(
        "log_softmax_backward",
        lambda r, n, t: (
            (_normal(r, _rows(n), t), np.log(_softmax(_normal(r, _rows(n), np.float64, 3))).astype(t)),
            {"dim": -1, "causal": False},
        ),
    ),
    "layer_norm": Case(
        "layer_norm",
        lambda r, n, t: ((_normal(r, _rows(n), t, 2) + 1, _normal(r, (n,), t), _normal(r, (n,), t), 1e-5), {}),
    ),
    "layer_norm_no_affine": Case("layer_norm", lambda r, n, t: ((_normal(r, _rows(n), t, 2), None, None, 1e-5), {})),
    "layer_norm_backward": Case("layer_norm_backward", lambda r, n, t: _layer_norm_backward_args(r, n, t)),
    "rms_norm": Case("rms_norm", lambda r, n, t: ((_normal(r, _rows(n), t, 2), _normal(r, (n,), t), 1e-6), {})),
    "rms_norm_backward": Case("rms_norm_backward", lambda r, n, t: _rms_norm_backward_args(r, n, t)),
    "cross_entropy": Case("cross_entropy", lambda r, n, t: _cross_entropy_args(r, n, t, backward=False)),
    "cross_entropy_backward": Case(
        "cross_entropy_backward", lambda r, n, t: _cross_entropy_args(r, n, t, backward=True)
    ),
    "embedding": Case(
        "embedding",
        lambda r, n, t: ((_normal(r, (9, n), t), r.integers(0, 9, (2, 5))), {}),
    ),
    "embedding_backward": Case(
        "embedding_backward",
        lambda r, n, t: ((_normal(r, (2, 5, n), t), r.integers(0, 9, (2, 5)), 9), {"padding_idx": 3}),
    ),
    "adam": Case("adam_step", lambda r, n, t: _adam_args(r, n, t, amsgrad=False), in_place=True, layout_args=(1,)),
    "adamw_amsgrad_maximize": Case(
        "adam_step", lambda r, n, t: _adam_args(r, n, t, amsgrad=True), in_place=True, layout_args=(1,)
    ),
    "strided_copy": Case(
        "strided_copy",
        lambda r, n, t: ((_normal(r, (3, n), t),), {}),
        dtypes=("float32", "float16", "float64", "int8"),
        layouts=("transposed", "strided"),
    ),
    "im2col": Case(
        "im2col",
        lambda r, n, t: (
            (_normal(r, (2, 3, n, n + 2), t), (3, 2)),
            {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)},
        ),
        sizes=(1, 31, 32, 33),
    ),
    "col2im": Case("col2im", lambda r, n, t: _col2im_args(r, n, t), sizes=(1, 31, 32, 33)),
    "max_pool2d": Case(
        "max_pool2d",
        lambda r, n, t: ((_normal(r, (2, 3, n + 2, n + 1), t), 3), {"stride": 2, "padding": 1, "ceil_mode": True}),
        sizes=(1, 31, 32, 33),
    ),
    "max_pool2d_backward": Case(
        "max_pool2d_backward", lambda r, n, t: _max_pool_backward_args(r, n, t), sizes=(1, 31, 32, 33)
    ),
    "avg_pool2d": Case(
        "avg_pool2d",
        lambda r, n, t: (
            (_normal(r, (2, 3, n + 2, n + 1), t), 3),
            {"stride": 2, "padding": 1, "count_include_pad": False},
        ),
        sizes=(1, 31, 32, 33),
    ),
    "avg_pool2d_backward": Case(
        "avg_pool2d_backward", lambda r, n, t: _avg_pool_backward_args(r, n, t), sizes=(1, 31, 32, 33)
    ),
    "lstm_cell": Case("lstm_cell", lambda r, n, t: ((_normal(r, (3, 4 * n), t, 2), _normal(r, (3, n), t)), {})),
    "lstm_cell_backward": Case("lstm_cell_backward", lambda r, n, t: _lstm_backward_args(r, n, t)),
    "gru_cell": Case(
        "gru_cell",
        lambda r, n, t: ((_normal(r, (3, 3 * n), t, 2), _normal(r, (3, 3 * n), t, 2), _normal(r, (3, n), t)), {}),
    ),
    "gru_cell_backward": Case(
        "gru_cell_backward",
        lambda r, n, t: (
            (_normal(r, (3, n), t), _normal(r, (3, 3 * n), t, 2), _normal(r, (3, 3 * n), t, 2), _normal(r, (3, n), t)),
            {},
        ),
    ),
    "flash_attention": Case(
        "flash_attention", lambda r, n, t: _attention_args(r, n, t, causal=False), sizes=(1, 31, 32, 33, 100, 128)
    ),
    "flash_attention_causal": Case(
        "flash_attention", lambda r, n, t: _attention_args(r, n, t, causal=True), sizes=(1, 31, 32, 33, 100, 128)
    ),
    "flash_attention_backward": Case(
        "flash_attention_backward", lambda r, n, t: _attention_backward_args(r, n, t), sizes=(1, 31, 32, 33, 100, 128)
    ),
}


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _layer_norm_backward_args(r, n, t):
    x = _normal(r, _rows(n), t, 2)
    work = x.astype(np.float64)
    mean = work.mean(-1)
    rstd = 1 / np.sqrt(work.var(-1) + 1e-5)
    return (_normal(r, _rows(n), t), x, _normal(r, (n,), t), mean.astype(np.float32), rstd.astype(np.float32)), {}


def _rms_norm_backward_args(r, n, t):
    x = _normal(r, _rows(n), t, 2)
    rstd = 1 / np.sqrt((x.astype(np.float64) ** 2).mean(-1) + 1e-6)
    return (_normal(r, _rows(n), t), x, _normal(r, (n,), t), rstd.astype(np.float32)), {}


def _cross_entropy_args(r, n, t, backward):
    logits = _normal(r, (6, n), t, 3)
    target = r.integers(0, n, 6)
    target[2] = -100  # ignored row
    weight = (r.random(n) + 0.5).astype(t)
    kwargs = {"weight": weight, "ignore_index": -100, "label_smoothing": 0.1}
    if not backward:
        return (logits, target), kwargs
    work = logits.astype(np.float64)
    lse = (np.log(np.exp(work - work.max(1, keepdims=True)).sum(1)) + work.max(1)).astype(np.float32)
    return (_normal(r, (6,), t), logits, target, lse), kwargs


def _adam_args(r, n, t, amsgrad):
    shape = (2, n)
    param, grad, m = _normal(r, shape, t), _normal(r, shape, t), _normal(r, shape, t, 0.1)
    v = np.abs(_normal(r, shape, t, 0.1))
    v_max = (v.astype(np.float32) * 1.5).astype(t) if amsgrad else None
    kwargs = dict(
        step=3,
        lr=1e-2,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0.1,
        decoupled=amsgrad,
        amsgrad=amsgrad,
        maximize=amsgrad,
    )
    return (param, grad, m, v, v_max), kwargs


def _col2im_args(r, n, t):
    height, width = n, n + 2
    kernel, stride, padding, dilation = (3, 2), (2, 1), (1, 0), (1, 2)
    oh = (height + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (width + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    cols = _normal(r, (2, 3 * kernel[0] * kernel[1], oh * ow), t)
    return (cols, (height, width), kernel), {"stride": stride, "padding": padding, "dilation": dilation}


def _max_pool_backward_args(r, n, t):
    x = _normal(r, (2, 3, n + 2, n + 1), np.float32)
    _, indices = Device("cpu").backend.max_pool2d(x, 3, stride=2, padding=1)
    return (_normal(r, indices.shape, t), indices, x.shape), {}


def _avg_pool_backward_args(r, n, t):
    shape = (2, 3, n + 2, n + 1)
    kwargs = {"stride": 2, "padding": 1, "ceil_mode": True, "divisor_override": 5}
    out_shape = Device("cpu").backend.avg_pool2d(np.zeros(shape, np.float32), 3, **kwargs).shape
    return (_normal(r, out_shape, t), shape, 3), kwargs


def _lstm_backward_args(r, n, t):
    gates, c_prev = _normal(r, (3, 4 * n), t, 2), _normal(r, (3, n), t)
    _, c = Device("cpu").backend.lstm_cell(gates, c_prev)
    return (_normal(r, (3, n), t), _normal(r, (3, n), t), gates, c_prev, c.astype(t)), {}


def _attention_shapes(n):
    # Head dims around a warp and up to the kernels' limit of 128 (the most dynamic shared memory);
    # sequence lengths from the case size.
    head = {1: 1, 31: 31, 32: 32, 33: 33, 100: 64, 128: 128}[n]
    seq = 40 if n == 128 else n
    return (1, 2, seq, head), (1, 2, seq + 3, head)


def _attention_args(r, n, t, causal):
    q_shape, k_shape = _attention_shapes(n)
    return (_normal(r, q_shape, t), _normal(r, k_shape, t), _normal(r, k_shape, t)), {"causal": causal}


def _attention_backward_args(r, n, t):
    q_shape, k_shape = _attention_shapes(n)
    q, k, v = _normal(r, q_shape, t), _normal(r, k_shape, t), _normal(r, k_shape, t)
    out, lse = Device("cpu").backend.flash_attention(q, k, v, causal=True)
    return (_normal(r, out.shape, t), q, k, v, out.astype(t), lse), {"causal": True}


def _params() -> list:
    params = []
    for case_name, case in CASES.items():
        for dtype in case.dtypes:
            for n in case.sizes:
                # Every layout at one size per case; the contiguous layout at every size.
                layouts = case.layouts if n == case.sizes[len(case.sizes) // 2] else ("contiguous",)
                for layout in layouts:
                    params.append(
                        pytest.param(case_name, dtype, n, layout, False, id=f"{case_name}-{dtype}-{n}-{layout}")
                    )
                if n == 33:
                    # The threads of each block resumed in the opposite order: a missing barrier
                    # or warp sync changes the result.
                    params.append(
                        pytest.param(case_name, dtype, n, "contiguous", True, id=f"{case_name}-{dtype}-{n}-reversed")
                    )
    return params


def _takes_layout(case: Case, index: int, array: np.ndarray) -> bool:
    return array.dtype.kind in "fV" and (case.layout_args is None or index in case.layout_args)


def _run(backend: Any, case: Case, args: tuple, kwargs: dict, layout: str) -> tuple[list[np.ndarray], tuple]:
    device_args = tuple(
        to_device(backend, a, layout if _takes_layout(case, i, a) else "contiguous") if isinstance(a, np.ndarray) else a
        for i, a in enumerate(args)
    )
    result = getattr(backend, case.op)(*device_args, **kwargs)
    if case.in_place:
        outputs = [a for a in device_args if a is not None and not isinstance(a, (int, float))]
    else:
        outputs = list(result) if isinstance(result, tuple) else [result]
    return [None if o is None else backend.to_numpy(o) for o in outputs], device_args


@pytest.mark.parametrize("case_name, dtype, n, layout, reverse", _params())
def test_kernel_matches_cpu_reference(
    kernel_device, cpu_backend, kernel_errors, monkeypatch, case_name, dtype, n, layout, reverse
):
    sim_backend, counts = kernel_device
    if reverse:
        monkeypatch.setenv("AXON_SIM_REVERSE", "1")
    case = CASES[case_name]
    rng = np.random.default_rng(zlib.crc32(f"{case_name}-{dtype}-{n}".encode()))
    np_dtype = FLOATS.get(dtype, np.dtype(dtype))
    args, kwargs = case.build(rng, n, np_dtype)
    before = counts.copy()
    got, _ = _run(sim_backend, case, args, kwargs, layout)
    launched = sorted(set((counts - before).keys()))
    cpu_args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    expected, _ = _run(cpu_backend, case, cpu_args, kwargs, "contiguous")
    assert launched, f"{case.op} ran no kernel under cuda-sim (dtype {dtype}, n={n})"
    rtol, atol = TOLERANCE.get(dtype, (0, 0))
    worst = 0.0
    for g, e in zip(got, expected):
        if e is None:
            assert g is None
            continue
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        if e.dtype.kind in "iub":
            np.testing.assert_array_equal(g, e)
            continue
        g64, e64 = g.astype(np.float64), e.astype(np.float64)
        np.testing.assert_allclose(g64, e64, rtol=rtol, atol=atol * max(1.0, np.abs(e64).max(initial=0)))
        finite = np.isfinite(e64)
        if finite.any():
            worst = max(worst, float((np.abs(g64 - e64)[finite] / np.maximum(1.0, np.abs(e64[finite]))).max()))
    for kernel in launched:
        kernel_errors[kernel] = max(kernel_errors.get(kernel, 0.0), worst)


# Families whose op lives in another distribution, tested there under cuda-sim against its own
# oracle: quant_matmul (ggml block formats; axon-quant's tests/test_kernels_cuda.py, gguf-py),
# selective_scan (Mamba's scan; axon-llm's tests/test_selective_scan.py, against NumPy float64),
# decoder (the quantized runtime's layer ops; axon-quant's tests/test_runtime_device.py, against
# the runtime's Numba CPU ops).
TESTED_ELSEWHERE = {"quant_matmul", "selective_scan", "decoder"}


def test_cases_cover_every_registered_kernel(kernel_device):
    """Between them, the cases launch every entry point of every registered kernel family (but
    those of TESTED_ELSEWHERE)."""
    sim_backend, counts = kernel_device
    before = counts.copy()
    for case in CASES.values():
        for dtype in case.dtypes:
            n = case.sizes[0]
            args, kwargs = case.build(np.random.default_rng(0), n, FLOATS.get(dtype, np.dtype(dtype)))
            _run(sim_backend, case, args, kwargs, "contiguous")
    launched = set((counts - before).keys())
    registered = {
        kernel for source in REGISTRY.values() if source.family not in TESTED_ELSEWHERE for kernel in source.kernels
    }
    assert registered - launched == set()

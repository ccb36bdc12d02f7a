"""Fused kernels against the eager run (bit-exact where the op order is the same, else the
stated ulp bounds), the named patterns against NumPy float64 formulas, and the disk cache."""

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import pytest

import axon_jit
import axon_tensor as at

_spec = importlib.util.spec_from_file_location("_patterns", Path(__file__).with_name("_patterns.py"))
_patterns = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_patterns)
adam_update = _patterns.adam_update
bias_gelu_erf = _patterns.bias_gelu_erf
bias_gelu_erf_formula = _patterns.bias_gelu_erf_formula
bias_gelu_tanh = _patterns.bias_gelu_tanh
bias_gelu_tanh_formula = _patterns.bias_gelu_tanh_formula
inputs = _patterns.inputs
residual_layer_norm = _patterns.residual_layer_norm
softmax = _patterns.softmax
softmax_cross_entropy = _patterns.softmax_cross_entropy
ulps = _patterns.ulps


def _np64(t):
    return t.numpy().astype(np.float64)


def _gelu_tanh64(x, b):
    h = _np64(x) + _np64(b)
    return 0.5 * h * (1 + np.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))


def _gelu_erf64(x, b):
    h = _np64(x) + _np64(b)
    return 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))


def _layer_norm64(x, r, w, b):
    h = _np64(x) + _np64(r)
    centered = h - h.mean(-1, keepdims=True)
    return centered / np.sqrt((centered**2).mean(-1, keepdims=True) + 1e-5) * _np64(w) + _np64(b), h


def _adam64(p, g, m, v):
    p, g, m, v = map(_np64, (p, g, m, v))
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g * g
    return p - 1e-3 * (m / (1 - 0.9**3)) / (np.sqrt(v / (1 - 0.999**3)) + 1e-8), m, v


def _softmax64(x):
    e = np.exp(_np64(x) - _np64(x).max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _xent64(logits, one_hot):
    z = _np64(logits)
    log_probs = z - z.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    return -(_np64(one_hot) * log_probs).sum(-1)


R, C = 16, 96
ONE_HOT = at.tensor(np.eye(C, dtype=np.float32)[np.arange(R) * 7 % C])

# name, function, its inputs, the float64 oracle, the bound vs eager: 0 = bit-exact, ("ulp", n) =
# at most n ulp elementwise, ("ulp_of_max", n) = |fused - eager| <= n ulp of the largest |eager|
# (the written-out GELUs cancel near 0, so an ulp of exp/tanh is many ulp of a tiny result)
CASES = [
    ("bias+gelu(tanh)", bias_gelu_tanh, lambda: inputs((R, C), (C,)), _gelu_tanh64, 0),
    ("bias+gelu(erf)", bias_gelu_erf, lambda: inputs((R, C), (C,)), _gelu_erf64, 0),
    ("bias+gelu tanh formula", bias_gelu_tanh_formula, lambda: inputs((R, C), (C,)), _gelu_tanh64, ("ulp_of_max", 2)),
    ("bias+gelu erf formula", bias_gelu_erf_formula, lambda: inputs((R, C), (C,)), _gelu_erf64, ("ulp_of_max", 2)),
    ("residual+layernorm", residual_layer_norm, lambda: inputs((2, 8, C), (2, 8, C), (C,), (C,)), _layer_norm64, 0),
    ("adam update", adam_update, lambda: [*inputs((R, C), (R, C), (R, C)), inputs((R, C))[0].abs()], _adam64, 0),
    ("softmax", softmax, lambda: [inputs((R, C))[0] * 4], _softmax64, ("ulp", 8)),
    ("softmax-cross-entropy", softmax_cross_entropy, lambda: [inputs((R, C))[0] * 3, ONE_HOT], _xent64, ("ulp", 4)),
]


def _tuple(x):
    return x if isinstance(x, tuple) else (x,)


@pytest.mark.parametrize("dtype", [at.float32, at.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(("name", "fn", "make", "oracle", "bound"), CASES, ids=[c[0] for c in CASES])
def test_named_pattern_is_one_kernel_equal_to_eager(name, fn, make, oracle, bound, dtype):
    args = [a.to(dtype=dtype) for a in make()]
    compiled = axon_jit.compile(fn)
    compiled(*args)  # the trace
    got, want = _tuple(compiled(*args)), _tuple(fn(*args))
    plan = compiled.plans[next(iter(compiled.plans))]
    assert len(plan.partition.groups) == 1 and not plan.partition.reasons, axon_jit.explain(fn, *args, file=None)
    assert plan.partition.steps == plan.partition.groups
    for g, w in zip(got, want):
        g, w = g.numpy(), w.numpy()
        if bound == 0:
            assert g.dtype == w.dtype and np.array_equal(g, w), ulps(g, w)
        elif bound[0] == "ulp":
            assert ulps(g, w) <= bound[1]
        else:
            assert np.abs(g - w).max() <= bound[1] * np.spacing(np.abs(w).max())
    # and both agree with NumPy's float64 formula
    tol = 2e-5 if dtype == at.float32 else 1e-12
    for g, o in zip(got, _tuple(oracle(*args))):
        np.testing.assert_allclose(_np64(g), o, rtol=tol, atol=tol * np.abs(o).max())


def test_kernels_are_cached_on_disk_by_graph_hash(tmp_path):
    x, b = inputs((4, 32), (32,))
    first = axon_jit.compile(bias_gelu_tanh, cache_dir=tmp_path)
    first(x, b)
    files = sorted(p.name for p in tmp_path.glob("k*.py"))
    group = first.plans[next(iter(first.plans))].partition.groups[0]
    assert files == [f"k{group.digest}.py"] and (tmp_path / files[0]).read_text() == group.source
    # the same graph from another function (and other shapes: R and C are kernel arguments) reuses it
    second = axon_jit.compile(lambda x, b: (x + b).gelu(approximate="tanh"), cache_dir=tmp_path)
    x2, b2 = inputs((3, 5, 8), (8,))
    np.testing.assert_array_equal(second(x2, b2).numpy(), bias_gelu_tanh(x2, b2).numpy())
    assert sorted(p.name for p in tmp_path.glob("k*.py")) == files
    assert second.plans[next(iter(second.plans))].partition.groups[0].digest == group.digest
    # another graph, another file
    axon_jit.compile(bias_gelu_erf, cache_dir=tmp_path)(x, b)
    assert len(list(tmp_path.glob("k*.py"))) == 2
    assert os.environ["AXON_CACHE_DIR"]  # the other tests write under the session's folder


def test_large_inputs_run_the_threaded_kernel_and_equal_eager():
    x, r, w, b = inputs((64, 1024), (64, 1024), (1024,), (1024,), seed=3)  # 64 * 1024 >= PARALLEL_ELEMENTS
    compiled = axon_jit.compile(residual_layer_norm)
    for g, e in zip(compiled(x, r, w, b), residual_layer_norm(x, r, w, b)):
        np.testing.assert_array_equal(g.numpy(), e.numpy())


def test_unfused_nodes_say_why_and_a_group_never_depends_on_itself():
    def f(x, idx):
        a = x * 2.0
        flipped = a.flip(-1)  # not elementwise; reads a and feeds c
        c = (a + flipped).exp() + 1.0
        return c, idx + 1

    x, idx = inputs((4, 6))[0], at.arange(3)
    explanation = axon_jit.explain(f, x, idx, file=None)
    reasons = {n.op: why for n, why in explanation.reasons.items()}
    assert "not an elementwise op" in reasons["flip"] and "int64" in reasons["add"]
    assert len(explanation.groups) == 1 and [n.op for n in explanation.groups[0].nodes] == ["add", "exp", "add"]
    assert "mul: no fusible neighbour" in reasons["mul"]  # it could not join the later group
    got, want = axon_jit.compile(f)(x, idx), f(x, idx)
    assert ulps(got[0].numpy(), want[0].numpy()) <= 2  # exp: LLVM's expf vs NumPy's
    np.testing.assert_array_equal(got[1].numpy(), want[1].numpy())
    text = str(explanation)
    assert "fused group" in text and "flip(" in text and "not an elementwise op" in text


def test_cuda_sim_tensors_are_not_fused_and_say_so():
    x, b = (t.to("cuda-sim") for t in inputs((4, 8), (8,)))
    explanation = axon_jit.explain(bias_gelu_tanh, x, b, file=None)
    assert not explanation.groups
    assert all("only CPU kernels" in why for why in explanation.reasons.values())
    np.testing.assert_array_equal(axon_jit.compile(bias_gelu_tanh)(x, b).numpy(), bias_gelu_tanh(x, b).numpy())


_RELOAD = """
import sys
import numpy as np
import axon_jit
import axon_tensor as at
from pathlib import Path

rng = np.random.default_rng(0)
x, r = (at.tensor(rng.standard_normal((4, 300)).astype(np.float32)) for _ in range(2))
def f(x, r):
    h = x + r
    e = (h - h.amax(-1, keepdim=True)).exp()
    return e / e.sum(-1, keepdim=True), (h * h).mean(-1, keepdim=True)
got, want = axon_jit.compile(f)(x, r), f(x, r)
assert np.array_equal(got[1].numpy(), want[1].numpy())
assert np.abs(got[0].numpy() - want[0].numpy()).max() <= 8 * np.spacing(np.float32(1))
print(len(list(Path(sys.argv[1]).glob("__pycache__/*.nbi"))))
"""


def test_a_fresh_process_reloads_the_cached_machine_code(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "AXON_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", _RELOAD, str(tmp_path / "jit")], env=env, capture_output=True, text=True, timeout=300
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr[-2000:]
    # the second process found the first one's compiled kernels (Numba's index files) and reran them
    assert int(runs[0].stdout.split()[-1]) >= 1 and runs[1].stdout.split()[-1] == runs[0].stdout.split()[-1]

"""The CPU backend's Numba kernels (``backend/host_kernels``) against the NumPy references in
``backend/base.py``, called explicitly as ``Backend.op(cpu, ...)`` on the same instance, and
both against an independent oracle: windows gathered from the definition by NumPy fancy
indexing and scatter-adds by ``np.add.at`` (the last section), and torch.optim.SGD's update
written out in NumPy for ``sgd_step``.

Geometries are drawn from a seeded generator (kernel 1..5, non-square included, stride 1..3,
padding 0..2, dilation 1..2, batch 0..3, channels 1..4, H/W 1..9, plus a few larger images so
the kernels' long-row loops run); invalid ones are skipped by asking the geometry helpers.
Exactness is checked on the bits (``view`` as unsigned integers), so NaN positions and the sign
of zero count. ``host_memory`` is checked in subprocesses, since its setting is applied once per
process.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

from axon_core import Device, ShapeError, as_dtype
from axon_core.backend import Backend
from axon_core.backend.cpu import CpuBackend
from axon_core.backend.geometry import conv_geometry, pool_geometry
from axon_core.backend.host_kernels import elementwise

# The references compare and add NaN and inf on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")

cpu = Device("cpu").backend
FLOATS = ["float32", "float64", "float16", "bfloat16"]
INTS = ["int32", "int64", "uint8"]


def np_dtype(name: str) -> np.dtype:
    return as_dtype(name).np


def bits(a: np.ndarray) -> np.ndarray:
    """The array's bytes as unsigned integers: equal bits, not just equal values."""
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.dtype.itemsize}")


def assert_bits_equal(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    differ = bits(actual) != bits(expected)
    if differ.any():
        at = tuple(int(i) for i in np.argwhere(differ)[0])
        raise AssertionError(
            f"{what}: {int(differ.sum())} of {differ.size} elements differ, first at {at}: "
            f"{actual[at]!r} != {expected[at]!r}"
        )


def values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Random data in ``dtype``: normals with some exact zeros (both signs) for floats."""
    if np_dtype(dtype).kind in "iu":
        info = np.iinfo(np_dtype(dtype))
        return rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dtype)
    data = rng.standard_normal(shape) * 3
    data[rng.random(shape) < 0.1] = 0.0
    data[rng.random(shape) < 0.05] = -0.0
    return data.astype(np_dtype(dtype))


# -- geometries --------------------------------------------------------------------------------
def _shape_and_kernel(rng: np.random.Generator) -> dict:
    """A random ``[N, C, H, W]`` (N may be 0) and kernel size (an int when square)."""
    kernel = tuple(int(v) for v in rng.integers(1, 6, 2))
    shape = (int(rng.integers(0, 4)), int(rng.integers(1, 5)), *(int(v) for v in rng.integers(1, 10, 2)))
    return dict(shape=shape, kernel_size=kernel if kernel[0] != kernel[1] else kernel[0])


def _conv_cases(count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    cases: list[dict] = []
    while len(cases) < count:
        case = dict(
            **_shape_and_kernel(rng),
            stride=tuple(int(v) for v in rng.integers(1, 4, 2)),
            padding=tuple(int(v) for v in rng.integers(0, 3, 2)),
            dilation=tuple(int(v) for v in rng.integers(1, 3, 2)),
        )
        try:
            conv_geometry(
                "im2col", case["shape"], case["kernel_size"], case["stride"], case["padding"], case["dilation"]
            )
        except (ShapeError, ValueError):
            continue
        cases.append(case)
    return cases


CONV_CASES = _conv_cases(150, seed=2024) + [
    dict(shape=(1, 1, 1, 1), kernel_size=1, stride=1, padding=0, dilation=1),
    dict(shape=(2, 3, 5, 4), kernel_size=5, stride=1, padding=2, dilation=1),  # kernel wider than the image
    dict(shape=(2, 1, 3, 6), kernel_size=(1, 5), stride=(3, 1), padding=(0, 2), dilation=(1, 2)),
    dict(shape=(2, 3, 37, 41), kernel_size=3, stride=1, padding=1, dilation=1),  # rows long enough to vectorise
    dict(shape=(1, 2, 40, 33), kernel_size=(5, 3), stride=2, padding=(2, 1), dilation=(2, 1)),
]


def _pool_cases(count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    cases: list[dict] = []
    while len(cases) < count:
        case = dict(
            **_shape_and_kernel(rng),
            stride=None if rng.random() < 0.2 else tuple(int(v) for v in rng.integers(1, 4, 2)),
            padding=tuple(int(v) for v in rng.integers(0, 3, 2)),
            dilation=tuple(int(v) for v in rng.integers(1, 3, 2)),
            ceil_mode=bool(rng.random() < 0.5),
        )
        try:
            pool_geometry(
                "max_pool2d",
                case["shape"],
                np.float32,
                case["kernel_size"],
                case["stride"],
                case["padding"],
                case["dilation"],
                case["ceil_mode"],
            )
        except (ShapeError, ValueError):
            continue
        cases.append(case)
    return cases


POOL_CASES = _pool_cases(150, seed=7) + [
    dict(shape=(1, 1, 1, 1), kernel_size=1, stride=None, padding=0, dilation=1, ceil_mode=False),
    dict(shape=(2, 2, 7, 7), kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True),
    # A window with nothing inside the image: rows -1 and 1 of a one-row image.
    dict(shape=(1, 2, 1, 5), kernel_size=(2, 1), stride=1, padding=(1, 0), dilation=(2, 1), ceil_mode=False),
    dict(shape=(2, 3, 35, 38), kernel_size=3, stride=1, padding=1, dilation=1, ceil_mode=False),  # long rows
    dict(shape=(1, 2, 33, 40), kernel_size=(2, 3), stride=(2, 3), padding=(1, 1), dilation=(1, 2), ceil_mode=True),
]


def conv_args(case: dict) -> tuple:
    return case["kernel_size"], case["stride"], case["padding"], case["dilation"]


def pool_args(case: dict) -> tuple:
    return case["kernel_size"], case["stride"], case["padding"], case["dilation"], case["ceil_mode"]


def conv_out(case: dict) -> tuple[int, int, int]:
    """``(rows, L, N)`` of the columns of ``case``."""
    n, c, (kh, kw), _, _, _, (oh, ow) = conv_geometry("im2col", case["shape"], *conv_args(case))
    return c * kh * kw, oh * ow, n


def overlapping(case: dict) -> bool:
    """Whether some input pixel lies in two pooling windows."""
    _, _, _, kernel, step, _, dil, _ = pool_geometry("max_pool2d", case["shape"], np.float32, *pool_args(case))
    return any(s < (k - 1) * d + 1 for k, s, d in zip(kernel, step, dil))


def test_backend_is_cpu() -> None:
    # Device("cpu") is named explicitly, so AXON_DEFAULT_DEVICE does not change what is tested.
    assert isinstance(cpu, CpuBackend)
    assert len(CONV_CASES) == 155 and len(POOL_CASES) == 155
    assert any(case["shape"][0] == 0 for case in CONV_CASES) and any(case["shape"][0] == 0 for case in POOL_CASES)
    assert any(case["ceil_mode"] for case in POOL_CASES) and not all(case["ceil_mode"] for case in POOL_CASES)
    assert any(overlapping(case) for case in POOL_CASES) and not all(overlapping(case) for case in POOL_CASES)


# -- im2col / col2im ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS + INTS)
def test_im2col_matches_reference_bit_for_bit(dtype: str) -> None:
    rng = np.random.default_rng(1)
    for case in CONV_CASES:
        x = values(rng, case["shape"], dtype)
        if np_dtype(dtype).kind == "f" or dtype == "bfloat16":
            x.reshape(-1)[rng.random(x.size) < 0.05] = np.nan
            x.reshape(-1)[rng.random(x.size) < 0.05] = -np.inf
        rows, blocks, n = conv_out(case)
        expected = Backend.im2col(cpu, x, *conv_args(case))
        assert_bits_equal(cpu.im2col(x, *conv_args(case)), expected, f"im2col {dtype} {case}")
        batched = cpu.im2col(x, *conv_args(case), batched_columns=True)
        assert_bits_equal(
            batched, Backend.im2col(cpu, x, *conv_args(case), batched_columns=True), f"im2col batched {dtype} {case}"
        )
        # The batched layout is the per-image one with N moved inside: [C*kh*kw, N*L].
        assert_bits_equal(
            batched, expected.transpose(1, 0, 2).reshape(rows, n * blocks), f"im2col layouts {dtype} {case}"
        )


def test_im2col_values_by_hand() -> None:
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    cols = cpu.im2col(x, 2, stride=1, padding=1)  # 4x4 windows over the padded image
    assert cols.shape == (1, 4, 16)
    # Row 0 is offset (0, 0): the window's top-left, padding (zero) on the first row and column.
    np.testing.assert_array_equal(cols[0, 0].reshape(4, 4), [[0, 0, 0, 0], [0, 1, 2, 3], [0, 4, 5, 6], [0, 7, 8, 9]])
    np.testing.assert_array_equal(cols[0, 3].reshape(4, 4), [[1, 2, 3, 0], [4, 5, 6, 0], [7, 8, 9, 0], [0, 0, 0, 0]])
    strided = cpu.im2col(x, 1, stride=2, dilation=1)
    np.testing.assert_array_equal(strided, [[[1, 3, 7, 9]]])


def test_im2col_non_contiguous_input() -> None:
    rng = np.random.default_rng(2)
    base = rng.standard_normal((3, 2, 9, 8)).astype(np.float32)
    for x in (base.transpose(1, 0, 3, 2), base[:, :, ::2, 1::3], base[::-1]):
        for batched in (False, True):
            assert_bits_equal(
                cpu.im2col(x, (3, 2), 2, 1, 1, batched_columns=batched),
                Backend.im2col(cpu, x, (3, 2), 2, 1, 1, batched_columns=batched),
                f"im2col view {x.strides}",
            )


@pytest.mark.parametrize("dtype", FLOATS + INTS)
def test_col2im_matches_reference(dtype: str) -> None:
    # Bit-exact for every dtype: each pixel sums its contributions in the same order, (ki, kj)
    # row by row, from the same zero, in the same precision (float16/bfloat16 in float32, then
    # rounded once). Integers wrap the same way (uint8 included).
    rng = np.random.default_rng(3)
    for case in CONV_CASES:
        rows, blocks, n = conv_out(case)
        output_size = case["shape"][2:]
        cols = values(rng, (n, rows, blocks), dtype)
        expected = Backend.col2im(cpu, cols, output_size, *conv_args(case))
        assert_bits_equal(cpu.col2im(cols, output_size, *conv_args(case)), expected, f"col2im {dtype} {case}")
        # The batched layout [C*kh*kw, N*L] folds to the same images as its per-image transpose.
        batched = np.ascontiguousarray(cols.transpose(1, 0, 2)).reshape(rows, n * blocks)
        assert_bits_equal(
            cpu.col2im(batched, output_size, *conv_args(case), batched_columns=True),
            expected,
            f"col2im batched {dtype} {case}",
        )
        assert_bits_equal(
            Backend.col2im(cpu, batched, output_size, *conv_args(case), batched_columns=True),
            expected,
            f"col2im batched reference {dtype} {case}",
        )


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_col2im_nan_and_inf(dtype: str) -> None:
    # Non-finite sums (NaN, inf + -inf) land on the same pixels; NaN payloads are not compared.
    rng = np.random.default_rng(4)
    for case in CONV_CASES[::3]:
        rows, blocks, n = conv_out(case)
        cols = values(rng, (n, rows, blocks), dtype)
        flat = cols.reshape(-1)
        flat[rng.random(flat.size) < 0.03] = np.nan
        flat[rng.random(flat.size) < 0.05] = np.inf
        flat[rng.random(flat.size) < 0.05] = -np.inf
        expected = Backend.col2im(cpu, cols, case["shape"][2:], *conv_args(case))
        actual = cpu.col2im(cols, case["shape"][2:], *conv_args(case))
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual.astype(np.float64), expected.astype(np.float64), err_msg=f"{dtype} {case}")


def test_col2im_is_the_adjoint_of_im2col() -> None:
    # <im2col(x), y> == <x, col2im(y)>, in float64 with integer-valued data so the sums are exact.
    rng = np.random.default_rng(5)
    for case in CONV_CASES:
        rows, blocks, n = conv_out(case)
        x = rng.integers(-5, 6, case["shape"]).astype(np.float64)
        y = rng.integers(-5, 6, (n, rows, blocks)).astype(np.float64)
        left = float((cpu.im2col(x, *conv_args(case)) * y).sum())
        right = float((x * cpu.col2im(y, case["shape"][2:], *conv_args(case))).sum())
        assert left == right, case


def test_col2im_values_by_hand() -> None:
    ones = np.ones((1, 4, 9), dtype=np.float32)  # kernel 2, stride 1 over 4x4: each pixel counts its windows
    expected = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]], dtype=np.float32)
    np.testing.assert_array_equal(cpu.col2im(ones, (4, 4), 2)[0, 0], expected)
    np.testing.assert_array_equal(cpu.col2im(ones.reshape(4, 9), (4, 4), 2, batched_columns=True)[0, 0], expected)
    # Only -0.0 contributions: 0.0 + -0.0 is +0.0, as in the reference.
    out = cpu.col2im(-np.zeros((1, 4, 9), dtype=np.float64), (4, 4), 2)
    assert not np.signbit(out).any()


# -- max pooling -------------------------------------------------------------------------------
def pool_input(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, kind: str) -> np.ndarray:
    if kind == "random":
        x = rng.standard_normal(shape)
    elif kind == "ties":  # zeros of both signs and ones: the first maximum must win
        x = rng.choice(np.array([0.0, -0.0, 1.0, -1.0]), size=shape, p=[0.4, 0.3, 0.2, 0.1])
    elif kind == "zeros":
        x = np.zeros(shape)
    elif kind == "nan":  # the last NaN wins; NaN beats numbers and -inf
        x = rng.standard_normal(shape)
        x[rng.random(shape) < 0.15] = np.nan
    elif kind == "-inf":  # windows of nothing but -inf must point inside the image
        x = rng.standard_normal(shape)
        x[rng.random(shape) < 0.7] = -np.inf
    elif kind == "all-inf":
        x = np.full(shape, -np.inf)
    else:  # "mixed"
        x = rng.choice(np.array([np.nan, -np.inf, np.inf, 0.0, -0.0, 2.0]), size=shape)
    return x.astype(np_dtype(dtype))


POOL_KINDS = ["random", "ties", "zeros", "nan", "-inf", "all-inf", "mixed"]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kind", POOL_KINDS)
def test_max_pool2d_matches_reference(dtype: str, kind: str) -> None:
    rng = np.random.default_rng(6)
    for case in POOL_CASES:
        x = pool_input(rng, case["shape"], dtype, kind)
        out, indices = cpu.max_pool2d(x, *pool_args(case))
        ref_out, ref_indices = Backend.max_pool2d(cpu, x, *pool_args(case))
        assert_bits_equal(out, ref_out, f"max_pool2d out {dtype} {kind} {case}")
        assert indices.dtype == np.int64 and ref_indices.dtype == np.int64
        np.testing.assert_array_equal(indices, ref_indices, err_msg=f"max_pool2d indices {dtype} {kind} {case}")
        # Every index names a pixel of its window holding the output's value (bits), or is -1
        # for a window with nothing inside the image, whose output is -inf.
        n, c, (height, width) = case["shape"][0], case["shape"][1], case["shape"][2:]
        planes = x.reshape(n, c, height * width)
        inside = indices >= 0
        assert (indices < height * width).all()
        assert (out[~inside] == -np.inf).all()
        picked = np.take_along_axis(
            planes, np.where(inside, indices, 0).reshape(n, c, out.shape[2] * out.shape[3]), axis=2
        ).reshape(out.shape)
        assert (bits(picked)[inside] == bits(out)[inside]).all(), f"{dtype} {kind} {case}"


def test_max_pool2d_rules_by_hand() -> None:
    nan, inf = np.nan, np.inf
    x = np.array([[[[0.0, -0.0, 5.0, nan], [-0.0, 0.0, nan, 1.0]]]], dtype=np.float32)
    out, indices = cpu.max_pool2d(x, 2)
    np.testing.assert_array_equal(indices, [[[[0, 6]]]])  # the first zero; the last NaN, as PyTorch
    assert not np.signbit(out[0, 0, 0, 0]) and np.isnan(out[0, 0, 0, 1])
    # A window of -inf points at its first pixel inside the image, never at the padding.
    x = np.full((1, 1, 3, 3), -inf, dtype=np.float64)
    out, indices = cpu.max_pool2d(x, 3, stride=1, padding=1)
    assert (out == -inf).all()
    np.testing.assert_array_equal(indices[0, 0], [[0, 0, 1], [0, 0, 1], [3, 3, 4]])
    # With dilation a window can miss the image entirely: index -1, and no gradient from it.
    x = np.arange(5.0).reshape(1, 1, 1, 5)
    out, indices = cpu.max_pool2d(x, (2, 1), stride=1, padding=(1, 0), dilation=(2, 1))
    assert (out == -inf).all() and (indices == -1).all()
    np.testing.assert_array_equal(cpu.max_pool2d_backward(np.ones_like(out), indices, x.shape), np.zeros_like(x))


@pytest.mark.parametrize("dtype", FLOATS)
def test_max_pool2d_backward_matches_reference(dtype: str) -> None:
    # Non-overlapping windows: each pixel takes at most one gradient, exact in every dtype.
    # Overlapping: the kernel adds in grad's dtype (float32 for float16/bfloat16) in output
    # order, the reference in float64 (bincount, also in output order) rounded once; float64 is
    # therefore exact too, and otherwise the difference is bounded by the rounding of at most
    # `count` float32 additions plus one rounding to the output dtype, relative to sum(|grad|).
    rng = np.random.default_rng(8)
    eps_out, eps32 = float(ml_dtypes.finfo(np_dtype(dtype)).eps), float(np.finfo(np.float32).eps)
    checked_inexact = 0
    for kind in ("random", "ties", "-inf", "mixed"):
        for case in POOL_CASES:
            x = pool_input(rng, case["shape"], dtype, kind)
            _, indices = Backend.max_pool2d(cpu, x, *pool_args(case))
            grad = values(rng, indices.shape, dtype)
            actual = cpu.max_pool2d_backward(grad, indices, x.shape)
            expected = Backend.max_pool2d_backward(cpu, grad, indices, x.shape)
            what = f"max_pool2d_backward {dtype} {kind} {case}"
            if dtype == "float64" or not overlapping(case):
                assert_bits_equal(actual, expected, what)
                continue
            assert actual.dtype == expected.dtype and actual.shape == expected.shape
            magnitude = Backend.max_pool2d_backward(cpu, np.abs(grad.astype(np.float64)), indices, x.shape)
            count = Backend.max_pool2d_backward(cpu, np.ones(indices.shape), indices, x.shape)
            bound = magnitude * (eps_out + count * eps32) + 1e-300
            error = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
            assert (error <= bound).all(), f"{what}: worst error {float((error / bound).max())} x the bound"
            checked_inexact += 1
    assert checked_inexact > 0 or dtype == "float64"


def test_max_pool2d_backward_sums_repeated_indices() -> None:
    grad = np.array([[[[1.0, 2.0], [4.0, 8.0]]]], dtype=np.float32)
    indices = np.array([[[[4, 4], [0, 4]]]])
    expected = np.zeros((1, 1, 3, 3), dtype=np.float32)
    expected.flat[4], expected.flat[0] = 11.0, 4.0
    for backend_op in (cpu.max_pool2d_backward, lambda *a: Backend.max_pool2d_backward(cpu, *a)):
        np.testing.assert_array_equal(backend_op(grad, indices, (1, 1, 3, 3)), expected)


# -- relu --------------------------------------------------------------------------------------
RELU_DTYPES = FLOATS + ["int8", "int16", "int32", "int64", "uint8", "bool"]


def relu_input(dtype: str) -> np.ndarray:
    if dtype == "bool":
        return np.array([True, False, True])
    if np_dtype(dtype).kind in "iu":
        info = np.iinfo(np_dtype(dtype))
        return np.array(
            sorted({info.min, info.min + 1, -1, 0, 1, 7, info.max}) if info.min < 0 else [0, 1, 7, info.max],
            dtype=dtype,
        )
    return np.array([-2.5, -0.0, 0.0, 1.5, np.nan, -np.inf, np.inf, -1e-3, 3.0], dtype=np.float64).astype(
        np_dtype(dtype)
    )


@pytest.mark.parametrize("dtype", RELU_DTYPES)
def test_relu_matches_reference(dtype: str) -> None:
    x = relu_input(dtype)
    out = cpu.relu(x)
    assert_bits_equal(out, Backend.relu(cpu, x), f"relu {dtype}")
    assert not np.shares_memory(out, x)
    if dtype == "bool":
        np.testing.assert_array_equal(out, x)
    elif np_dtype(dtype).kind in "iu":
        np.testing.assert_array_equal(out, np.maximum(x, 0))
    else:
        wide = out.astype(np.float64)
        np.testing.assert_array_equal(wide, [0.0, -0.0, 0.0, 1.5, np.nan, 0.0, np.inf, 0.0, 3.0])
        assert (
            np.signbit(wide[1]) and not np.signbit(wide[[0, 2, 5, 7]]).any()
        )  # -0.0 passes through; clamped zeros are +0.0


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "float16", "bfloat16"])
def test_relu_shapes_and_views(dtype: str) -> None:
    rng = np.random.default_rng(9)
    base = values(rng, (6, 5, 4), dtype)
    cases = {
        "0-d negative": np.array(-3, dtype=np_dtype(dtype)),
        "0-d positive": np.array(2, dtype=np_dtype(dtype)),
        "empty": np.zeros((0, 3), dtype=np_dtype(dtype)),
        "transposed": base.transpose(2, 0, 1),
        "strided": base[::2, 1:, ::-1],
    }
    for name, x in cases.items():
        out = cpu.relu(x)
        expected = Backend.relu(cpu, x)
        assert out.shape == x.shape and out.dtype == x.dtype, name
        assert_bits_equal(out, expected, f"relu {dtype} {name}")
        np.testing.assert_array_equal(out.astype(np.float64), np.maximum(x.astype(np.float64), 0), err_msg=name)


def test_relu_dispatch(monkeypatch) -> None:
    # float32/float64/integers run the Numba kernel; float16, bfloat16 and bool take the reference.
    calls: list[np.dtype] = []
    kernel = elementwise.relu

    def spy(x):
        calls.append(x.dtype)
        return kernel(x)

    monkeypatch.setattr(elementwise, "relu", spy)
    for dtype in RELU_DTYPES:
        cpu.relu(relu_input(dtype))
    assert calls == [np_dtype(d) for d in RELU_DTYPES if d in ("float32", "float64") or np_dtype(d).kind in "iu"]


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["kernel", "reference"])
def test_col2im_rejects_bad_columns(op: str) -> None:
    col2im = cpu.col2im if op == "kernel" else (lambda *a, **k: Backend.col2im(cpu, *a, **k))
    # kernel 3 over 5x5: L = 9 blocks per image, rows = C*9.
    with pytest.raises(ShapeError, match="col2im.*not a multiple of L"):
        col2im(np.zeros((9, 20), dtype=np.float32), (5, 5), 3, batched_columns=True)
    with pytest.raises(ShapeError, match="col2im.*batched columns must be"):
        col2im(np.zeros((2, 9, 9), dtype=np.float32), (5, 5), 3, batched_columns=True)
    with pytest.raises(ShapeError, match=r"col2im.*cols must be \[N, C\*kh\*kw, L\]"):
        col2im(np.zeros((9, 18), dtype=np.float32), (5, 5), 3)
    with pytest.raises(ShapeError, match="col2im.*not a multiple of kh\\*kw"):
        col2im(np.zeros((1, 10, 9), dtype=np.float32), (5, 5), 3)
    with pytest.raises(ShapeError, match="col2im.*L = 8 blocks"):
        col2im(np.zeros((1, 9, 8), dtype=np.float32), (5, 5), 3)


@pytest.mark.parametrize("op", ["kernel", "reference"])
def test_sliding_ops_reject_bad_geometry(op: str) -> None:
    def call(name, *args, **kwargs):
        return getattr(cpu, name)(*args, **kwargs) if op == "kernel" else getattr(Backend, name)(cpu, *args, **kwargs)

    x = np.zeros((1, 1, 4, 4), dtype=np.float32)
    with pytest.raises(ShapeError, match="im2col.*too small"):
        call("im2col", x, 6)
    with pytest.raises(ShapeError, match="im2col.*must be \\[N, C, H, W\\]"):
        call("im2col", x[0], 2)
    with pytest.raises(ValueError, match="im2col.*positive"):
        call("im2col", x, 2, stride=0)
    with pytest.raises(ValueError, match="max_pool2d.*at most half the kernel"):
        call("max_pool2d", x, 2, padding=2)
    with pytest.raises(ShapeError, match="max_pool2d_backward"):
        call("max_pool2d_backward", np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3), dtype=np.int64), (1, 1, 4, 4))


# -- host memory -------------------------------------------------------------------------------
def run_retain(top_pad: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "AXON_MALLOC_TOP_PAD"}
    if top_pad is not None:
        env["AXON_MALLOC_TOP_PAD"] = top_pad
    # The value is applied once per process: a second call with another setting changes nothing.
    code = (
        "import os\n"
        "from axon_core.backend.host_memory import retain_freed_memory\n"
        "first = retain_freed_memory()\n"
        "os.environ['AXON_MALLOC_TOP_PAD'] = '12345'\n"
        "print(first, retain_freed_memory())\n"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_retain_freed_memory_disabled() -> None:
    result = run_retain("0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0"]


@pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="mallopt(M_TOP_PAD) is glibc's"
)
def test_retain_freed_memory_default_and_explicit() -> None:
    result = run_retain(None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(64 * 2**20)] * 2
    result = run_retain(str(3 * 2**20))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(3 * 2**20)] * 2


def test_retain_freed_memory_rejects_non_numbers() -> None:
    result = run_retain("abc")
    assert result.returncode != 0
    assert "ValueError: AXON_MALLOC_TOP_PAD must be a number of bytes, got 'abc'" in result.stderr


# -- an independent oracle: every sliding window gathered by NumPy fancy indexing --------------
# The tests above check the kernels against axon's own NumPy references; these check both against
# windows gathered straight from the definition (positions oi*s - p + ki*d), with scatter-adds
# by np.add.at. Sums use integer-valued data, so they are exact in any order and compare exactly.
def _window_positions(case: dict, out_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, inside)`` of every window element, each ``[oh, kh, ow, kw]``."""
    height, width = case["shape"][2:]
    pairs = [
        v if isinstance(v, tuple) else (v, v)
        for v in (case["kernel_size"], case.get("stride") or case["kernel_size"], case["padding"], case["dilation"])
    ]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pairs
    rows = (np.arange(out_hw[0])[:, None] * sh - ph + np.arange(kh)[None, :] * dh)[:, :, None, None]
    cols = (np.arange(out_hw[1])[:, None] * sw - pw + np.arange(kw)[None, :] * dw)[None, None, :, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    return rows, cols, inside


def _gather(
    x: np.ndarray, case: dict, out_hw: tuple[int, int], fill: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window values ``[N, C, oh, kh, ow, kw]`` (``fill`` outside), positions ``h*W + w`` and inside mask."""
    rows, cols, inside = _window_positions(case, out_hw)
    height, width = case["shape"][2:]
    picked = x[:, :, np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)]
    return np.where(inside, picked, fill), rows * width + cols, inside


def _conv_out_hw(case: dict) -> tuple[int, int]:
    sizes = []
    for axis in range(2):
        k, s, p, d = (v if isinstance(v, tuple) else (v, v) for v in conv_args(case))
        sizes.append((case["shape"][2 + axis] + 2 * p[axis] - d[axis] * (k[axis] - 1) - 1) // s[axis] + 1)
    return sizes[0], sizes[1]


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "int32", "uint8"])
def test_im2col_and_col2im_match_the_gather_oracle(dtype: str) -> None:
    rng = np.random.default_rng(11)
    for case in CONV_CASES:
        n, c = case["shape"][:2]
        oh, ow = _conv_out_hw(case)
        x = rng.integers(-4 if dtype != "uint8" else 0, 5, size=case["shape"]).astype(np_dtype(dtype))
        windows, positions, inside = _gather(x, case, (oh, ow), 0)  # [N, C, oh, kh, ow, kw]
        kh, kw = windows.shape[3], windows.shape[5]
        expected = windows.transpose(0, 1, 3, 5, 2, 4).reshape(n, c * kh * kw, oh * ow)
        for implementation in (cpu.im2col, lambda *a, **k: Backend.im2col(cpu, *a, **k)):
            assert_bits_equal(implementation(x, *conv_args(case)), expected, f"im2col oracle {dtype} {case}")
        # col2im: every column value added at its window position, by np.add.at in float64.
        cols = rng.integers(-4 if dtype != "uint8" else 0, 5, size=(n, c * kh * kw, oh * ow)).astype(np_dtype(dtype))
        per_window = cols.reshape(n, c, kh, kw, oh, ow).transpose(0, 1, 4, 2, 5, 3).astype(np.float64)
        image = np.zeros((n, c, case["shape"][2] * case["shape"][3]))
        flat = np.where(inside, positions, 0)
        np.add.at(image, (slice(None), slice(None), flat[inside]), per_window[:, :, inside])
        image = image.reshape(case["shape"])
        for implementation in (cpu.col2im, lambda *a, **k: Backend.col2im(cpu, *a, **k)):
            actual = implementation(cols, case["shape"][2:], *conv_args(case))
            assert actual.dtype == np_dtype(dtype)
            np.testing.assert_array_equal(
                actual.astype(np.float64),
                image if dtype != "uint8" else image % 256,
                err_msg=f"col2im oracle {dtype} {case}",
            )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["random", "ties", "nan", "-inf", "mixed"])
def test_max_pool2d_and_backward_match_the_gather_oracle(dtype: str, kind: str) -> None:
    # PyTorch's rules, from the definition: the first maximum wins; if the window holds a NaN,
    # the output is NaN and the index the last NaN's; a window of -inf points at its first pixel
    # inside the image, or -1 when it has none.
    rng = np.random.default_rng(12)
    for case in POOL_CASES:
        x = pool_input(rng, case["shape"], dtype, kind)
        out, indices = cpu.max_pool2d(x, *pool_args(case))
        windows, positions, inside = _gather(x.astype(np.float64), case, out.shape[2:], -np.inf)
        n, c, oh, kh, ow, kw = windows.shape
        windows = windows.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, oh, ow, kh * kw)
        positions = np.broadcast_to(positions.transpose(0, 2, 1, 3).reshape(oh, ow, kh * kw), windows.shape)
        inside = np.broadcast_to(inside.transpose(0, 2, 1, 3).reshape(oh, ow, kh * kw), windows.shape)
        nan = np.isnan(windows)
        has_nan = nan.any(axis=-1)
        best = np.where(nan, -np.inf, windows).max(axis=-1, initial=-np.inf)
        first_max = np.argmax(np.where(nan, -np.inf, windows) == best[..., None], axis=-1)
        last_nan = kh * kw - 1 - np.argmax(nan[..., ::-1], axis=-1)
        first_inside = np.argmax(inside, axis=-1)
        choice = np.where(has_nan, last_nan, np.where(best == -np.inf, first_inside, first_max))
        expected_indices = np.take_along_axis(positions, choice[..., None], axis=-1)[..., 0]
        expected_indices = np.where(inside.any(axis=-1), expected_indices, -1)
        expected_out = np.where(has_nan, np.nan, best)
        for implementation, (got_out, got_indices) in (
            ("kernel", (out, indices)),
            ("reference", Backend.max_pool2d(cpu, x, *pool_args(case))),
        ):
            what = f"max_pool2d oracle {implementation} {dtype} {kind} {case}"
            np.testing.assert_array_equal(got_out.astype(np.float64), expected_out, err_msg=what)
            np.testing.assert_array_equal(got_indices, expected_indices, err_msg=what)
        # Backward: integer-valued gradients scattered to the indices by np.add.at (exact).
        grad = rng.integers(-4, 5, size=out.shape).astype(np_dtype(dtype))
        dx = np.zeros((n, c, x.shape[2] * x.shape[3]))
        plane = np.broadcast_to(np.arange(n * c).reshape(n, c, 1, 1), out.shape)
        found = expected_indices >= 0
        np.add.at(dx.reshape(n * c, x.shape[2] * x.shape[3]), (plane[found], expected_indices[found]), grad[found])
        for implementation in (cpu.max_pool2d_backward, lambda *a: Backend.max_pool2d_backward(cpu, *a)):
            np.testing.assert_array_equal(
                implementation(grad, indices, x.shape),
                dx.reshape(x.shape),
                err_msg=f"max_pool2d_backward oracle {dtype} {kind} {case}",
            )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "options",
    [
        dict(momentum=0.0),
        dict(momentum=0.9),
        dict(momentum=0.9, dampening=0.3, weight_decay=0.01),
        dict(momentum=0.8, nesterov=True, weight_decay=0.1),
        dict(momentum=0.9, maximize=True),
    ],
)
def test_sgd_step_kernel_is_torch_sgd_written_in_numpy(dtype: str, options: dict) -> None:
    # torch.optim.SGD's update, one NumPy operation at a time with dtype scalars, three steps
    # (the first initialises the momentum buffer): the kernel is bit-identical to it.
    rng = np.random.default_rng(13)
    t = np.dtype(dtype).type
    param = rng.standard_normal((37, 5)).astype(dtype)
    expected, buffer, kernel_buffer = param.copy(), None, np.empty_like(param)
    lr, momentum, dampening = 0.05, options["momentum"], options.get("dampening", 0.0)
    weight_decay = options.get("weight_decay", 0.0)
    for step in range(3):
        grad = rng.standard_normal(param.shape).astype(dtype)
        g = -grad if options.get("maximize") else grad
        if weight_decay:
            g = g + t(weight_decay) * expected
        if momentum:
            buffer = g.copy() if buffer is None else buffer * t(momentum) + t(1 - dampening) * g
            g = g + t(momentum) * buffer if options.get("nesterov") else buffer
        expected = expected + t(-lr) * g
        cpu.sgd_step(param, grad, kernel_buffer if momentum else None, lr=lr, init_buffer=step == 0, **options)
        assert_bits_equal(param, expected, f"sgd step {step} {dtype} {options}")
        if momentum:
            assert_bits_equal(kernel_buffer, buffer, f"sgd buffer {step} {dtype} {options}")

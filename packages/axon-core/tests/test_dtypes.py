"""axon_core's promotion rules against torch.promote_types / torch.result_type, pair by pair."""

from __future__ import annotations

import itertools

import ml_dtypes
import numpy as np
import pytest

from axon_core import ALL_DTYPES, DTypeError, as_dtype, get_default_dtype, promote_types, result_type, set_default_dtype

torch = pytest.importorskip("torch")


def torch_dtype(dtype):
    return getattr(torch, dtype.name)


def axon_name(torch_dtype_) -> str:
    name = str(torch_dtype_).removeprefix("torch.")
    # axon has no complex32 (ComplexHalf); float16 with a complex operand widens to complex64.
    return "complex64" if name == "complex32" else name


class Operand:
    """A stand-in tensor for result_type: only ``dtype`` and ``shape`` matter."""

    def __init__(self, dtype, shape):
        self.dtype = dtype
        self.shape = shape


@pytest.mark.parametrize("a,b", list(itertools.product(ALL_DTYPES, repeat=2)), ids=str)
def test_promote_types_matches_torch(a, b) -> None:
    assert promote_types(a, b).name == axon_name(torch.promote_types(torch_dtype(a), torch_dtype(b)))


SCALARS = [True, 3, 2.5, 1 + 2j]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("scalar", SCALARS, ids=lambda s: type(s).__name__)
def test_result_type_tensor_and_scalar(dtype, scalar) -> None:
    t = torch.zeros(2, dtype=torch_dtype(dtype))
    expected = axon_name(torch.result_type(t, scalar))
    assert result_type(Operand(dtype, (2,)), scalar).name == expected
    assert result_type(scalar, Operand(dtype, (2,))).name == expected


@pytest.mark.parametrize("a,b", list(itertools.product(ALL_DTYPES, repeat=2)), ids=str)
def test_result_type_dimensioned_and_zero_dim(a, b) -> None:
    dimensioned = torch.zeros(2, dtype=torch_dtype(a))
    zero_dim = torch.zeros((), dtype=torch_dtype(b))
    assert result_type(Operand(a, (2,)), Operand(b, ())).name == axon_name(torch.result_type(dimensioned, zero_dim))
    zero_a = torch.zeros((), dtype=torch_dtype(a))
    assert result_type(Operand(a, ()), Operand(b, ())).name == axon_name(torch.result_type(zero_a, zero_dim))


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
@pytest.mark.parametrize("scalar", SCALARS, ids=lambda s: type(s).__name__)
def test_result_type_zero_dim_and_scalar(dtype, scalar) -> None:
    t = torch.zeros((), dtype=torch_dtype(dtype))
    assert result_type(Operand(dtype, ()), scalar).name == axon_name(torch.result_type(t, scalar))


@pytest.mark.parametrize("default", ["float64", "float16", "bfloat16"])
def test_default_dtype_drives_scalars(default: str) -> None:
    previous = get_default_dtype()
    torch_previous = torch.get_default_dtype()
    try:
        set_default_dtype(default)
        torch.set_default_dtype(getattr(torch, default))
        for scalar in (2.5, 1j):
            for dtype in ALL_DTYPES:
                t = torch.zeros(2, dtype=torch_dtype(dtype))
                assert result_type(Operand(dtype, (2,)), scalar).name == axon_name(torch.result_type(t, scalar)), (
                    dtype,
                    scalar,
                )
    finally:
        set_default_dtype(previous)
        torch.set_default_dtype(torch_previous)


def test_scalars_alone() -> None:
    assert result_type(1, 2).name == "int64"
    assert result_type(1, 2.0).name == get_default_dtype().name
    assert result_type(True, False).name == "bool"


def test_as_dtype_spellings() -> None:
    assert as_dtype("float") is as_dtype(np.float32) is as_dtype(torch.float32)
    assert as_dtype("long").name == "int64" and as_dtype(int).name == "int64" and as_dtype(bool).name == "bool"
    assert as_dtype(ml_dtypes.bfloat16).name == "bfloat16"
    assert as_dtype("torch.bfloat16").name == "bfloat16"
    with pytest.raises(DTypeError, match="unknown dtype"):
        as_dtype("float8")
    with pytest.raises(DTypeError, match="no axon equivalent"):
        as_dtype(np.uint16)
    with pytest.raises(DTypeError):
        result_type()
    with pytest.raises(DTypeError, match="scalar operand"):
        result_type("text")
    with pytest.raises(DTypeError, match="floating"):
        set_default_dtype("int32")


def test_dtype_properties() -> None:
    f = as_dtype("float32")
    assert f.is_floating_point and not f.is_integer and f.itemsize == 4 and str(f) == "axon.float32"
    assert as_dtype("uint8").is_integer and not as_dtype("uint8").is_signed
    assert as_dtype("complex64").is_complex and as_dtype("bool").is_bool
    import pickle

    assert pickle.loads(pickle.dumps(f)) is f

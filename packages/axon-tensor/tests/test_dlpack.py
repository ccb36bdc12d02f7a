"""DLPack: zero-copy exchange with NumPy and PyTorch (CPU), both directions."""

from __future__ import annotations

import numpy as np
import pytest

import axon_tensor as at
from axon_core import DTypeError


def test_numpy_from_axon_shares_memory():
    x = at.arange(6.0).reshape(2, 3)
    a = np.from_dlpack(x)
    assert a.ctypes.data == x.data_ptr()
    a[1, 2] = -1.0
    assert x[1, 2].item() == -1.0
    assert x.__dlpack_device__() == (1, 0)


def test_axon_from_numpy_shares_memory_and_strides():
    base = np.arange(12, dtype=np.int32).reshape(3, 4)
    view = base[:, 1:3]
    x = at.from_dlpack(view)
    assert x.dtype is at.int32 and x.shape == (3, 2) and x.stride() == (4, 1)
    x[0, 0] = 99
    assert base[0, 1] == 99
    np.testing.assert_array_equal(x.numpy(), view)


def test_views_export_their_strides():
    x = at.arange(12.0).reshape(3, 4).t()[1:]
    a = np.from_dlpack(x)
    np.testing.assert_array_equal(a, x.numpy())
    assert a.ctypes.data == x.data_ptr()


def test_from_dlpack_rejects_non_dlpack():
    with pytest.raises(TypeError, match="__dlpack__"):
        at.from_dlpack([1, 2])


def test_torch_round_trip_shares_memory():
    torch = pytest.importorskip("torch")
    x = at.arange(6.0).reshape(2, 3)
    t = torch.from_dlpack(x)
    assert t.data_ptr() == x.data_ptr()
    t[0, 1] = 42.0
    assert x[0, 1].item() == 42.0
    source = torch.arange(8, dtype=torch.float64).reshape(2, 4)[:, ::2]
    y = at.from_dlpack(source)
    assert y.stride() == source.stride() and y.data_ptr() == source.data_ptr()
    y[1, 1] = -3.0
    assert source[1, 1].item() == -3.0
    np.testing.assert_array_equal(y.numpy(), source.numpy())


@pytest.mark.parametrize(
    "dtype", ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "complex64"]
)
def test_torch_dtypes(dtype):
    torch = pytest.importorskip("torch")
    t = torch.ones(3, dtype=getattr(torch, dtype))
    x = at.from_dlpack(t)
    assert x.dtype.name == dtype
    back = torch.from_dlpack(x)
    assert back.dtype == t.dtype and back.data_ptr() == t.data_ptr()


def test_torch_bfloat16_is_a_clear_error():
    torch = pytest.importorskip("torch")
    with pytest.raises(DTypeError, match="bfloat16"):
        at.from_dlpack(torch.ones(2, dtype=torch.bfloat16))

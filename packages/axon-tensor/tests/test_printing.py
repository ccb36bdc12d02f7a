"""repr shows values, dtype and device."""

from __future__ import annotations

import numpy as np

import axon_tensor as at
from axon_core import get_default_device

# New tensors go to the default device (cuda-sim under `make test-sim`).
DEVICE = str(get_default_device())


def test_repr_shows_values_dtype_device() -> None:
    text = repr(at.tensor([[1.5, 2.0], [3.0, 4.25]]))
    assert text.startswith("tensor([[1.5 , 2.  ],")
    assert "[3.  , 4.25]]" in text
    assert text.endswith(f"dtype=axon.float32, device='{DEVICE}')")
    assert str(at.tensor([1, 2])) == f"tensor([1, 2], dtype=axon.int64, device='{DEVICE}')"


def test_repr_of_special_cases() -> None:
    assert repr(at.tensor(3.5)) == f"tensor(3.5, dtype=axon.float32, device='{DEVICE}')"
    assert repr(at.tensor([True, False])) == f"tensor([ True, False], dtype=axon.bool, device='{DEVICE}')"
    assert repr(at.zeros(0, 2)) == f"tensor([], dtype=axon.float32, device='{DEVICE}')"
    assert "nan" in repr(at.tensor([float("nan"), float("inf")])) and "inf" in repr(at.tensor([float("inf")]))
    bf = repr(at.tensor([1.0, 2.5], dtype="bfloat16"))
    assert "1. , 2.5" in bf and "dtype=axon.bfloat16" in bf


def test_large_tensors_are_summarised() -> None:
    text = repr(at.arange(5000))
    assert "..." in text and text.count(",") < 20
    np.testing.assert_array_equal(at.arange(5000).numpy()[-3:], [4997, 4998, 4999])

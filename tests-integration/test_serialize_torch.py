"""safetensors interop with PyTorch: files written by axon load in safetensors.torch with the same
names and values, and files written by safetensors.torch load in axon."""

from __future__ import annotations

import numpy as np
import pytest

from axon_serialize import load_safetensors, save_safetensors
from axon_tensor import from_numpy

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

TORCH_DTYPES = [
    torch.float32,
    torch.float16,
    torch.bfloat16,
    torch.float64,
    torch.int64,
    torch.int32,
    torch.int16,
    torch.int8,
    torch.uint8,
    torch.bool,
    torch.complex64,
]


def _random(dtype, shape, generator):
    if dtype == torch.bool:
        return torch.rand(shape, generator=generator) > 0.5
    if dtype.is_floating_point or dtype.is_complex:
        return torch.randn(shape, generator=generator, dtype=dtype)
    return torch.randint(-100 if dtype != torch.uint8 else 0, 100, shape, generator=generator, dtype=dtype)


def _as_numpy(t):
    if t.dtype == torch.bfloat16:
        import ml_dtypes

        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def test_torch_reads_what_axon_writes(tmp_path) -> None:
    generator = torch.Generator().manual_seed(0)
    expected = {f"block.{i}.{str(d).split('.')[-1]}": _random(d, (3, 5), generator) for i, d in enumerate(TORCH_DTYPES)}
    expected["scalar"] = torch.tensor(2.5)
    save_safetensors({k: from_numpy(_as_numpy(v)) for k, v in expected.items()}, tmp_path / "m.safetensors")
    loaded = safetensors_torch.load_file(str(tmp_path / "m.safetensors"))
    assert sorted(loaded) == sorted(expected)
    for name, tensor in expected.items():
        assert loaded[name].dtype == tensor.dtype and loaded[name].shape == tensor.shape
        assert torch.equal(loaded[name], tensor), name


def test_axon_reads_what_torch_writes(tmp_path) -> None:
    generator = torch.Generator().manual_seed(1)
    expected = {f"layer{i}": _random(d, (4, 2), generator) for i, d in enumerate(TORCH_DTYPES)}
    safetensors_torch.save_file(expected, str(tmp_path / "t.safetensors"), metadata={"format": "pt"})
    loaded = load_safetensors(tmp_path / "t.safetensors")
    assert sorted(loaded) == sorted(expected)
    for name, tensor in expected.items():
        np.testing.assert_array_equal(loaded[name].numpy(), _as_numpy(tensor))
        assert loaded[name].numpy().dtype == _as_numpy(tensor).dtype

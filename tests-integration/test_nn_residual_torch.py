"""ResidualBlock against torchvision's BasicBlock written out in PyTorch (same names, copied
weights): forward, input and parameter gradients, running statistics; Residual against x + f(x)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import axon_nn as nn  # noqa: E402
from axon_autograd import Variable  # noqa: E402
from axon_core import ShapeError  # noqa: E402
from axon_tensor import tensor  # noqa: E402

pytestmark = pytest.mark.torch
rng = np.random.default_rng(2)


class TorchBasicBlock(torch.nn.Module):
    """torchvision.models.resnet.BasicBlock, transcribed."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.relu = torch.nn.ReLU()
        self.conv2 = torch.nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = torch.nn.Sequential(
                torch.nn.Conv2d(inplanes, planes, 1, stride, bias=False), torch.nn.BatchNorm2d(planes)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


@pytest.mark.parametrize("inplanes, planes, stride", [(4, 4, 1), (4, 6, 2), (3, 5, 1)])
@pytest.mark.parametrize("training", [True, False])
def test_residual_block_matches_torch(inplanes, planes, stride, training):
    torch.manual_seed(0)
    theirs = TorchBasicBlock(inplanes, planes, stride).double()
    for module in theirs.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_()
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    ours = nn.ResidualBlock(inplanes, planes, stride, dtype="float64")
    state = {k: tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)
    ours.train(training)
    theirs.train(training)
    x = rng.standard_normal((2, inplanes, 7, 7))
    xa, xt = Variable(tensor(x), requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = ours(xa), theirs(xt)
    np.testing.assert_allclose(ya.data.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(tuple(yt.shape))
    ya.backward(tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name].grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)
    buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(b.numpy(), buffers[name].numpy(), rtol=1e-12, err_msg=name)


def test_residual_wrapper():
    inner = nn.Linear(5, 5, dtype="float64")
    block = nn.Residual(inner)
    x = rng.standard_normal((3, 5))
    xa = Variable(tensor(x), requires_grad=True)
    y = block(xa)
    w, b = inner.weight.data.numpy(), inner.bias.data.numpy()
    np.testing.assert_allclose(y.data.numpy(), x + x @ w.T + b, rtol=1e-12)
    g = rng.standard_normal((3, 5))
    y.backward(tensor(g))
    np.testing.assert_allclose(xa.grad.numpy(), g + g @ w, rtol=1e-12)
    assert list(dict(block.named_parameters())) == ["module.weight", "module.bias"]
    with pytest.raises(ShapeError, match="Residual: Linear changed the shape"):
        nn.Residual(nn.Linear(5, 4))(tensor(np.zeros((2, 5), dtype=np.float32)))

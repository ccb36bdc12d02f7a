"""Real exported models through axon_onnx: a torchvision-style ResNet-18 written here with
torch.nn (torchvision is not installed) and a tiny transformers BertModel from a random config,
both exported by ``torch.onnx.export(..., dynamo=False)`` (the TorchScript exporter: onnxscript
is not installed), imported, and compared with PyTorch's outputs (and onnxruntime's)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnxruntime as ort
import pytest

import axon_onnx

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = [pytest.mark.slow, pytest.mark.torch]


class BasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet18(nn.Module):
    """torchvision.models.resnet18's layout and module names."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes, stages = 64, []
        for k, planes in enumerate((64, 128, 256, 512)):
            stages.append(
                nn.Sequential(BasicBlock(inplanes, planes, 1 if k == 0 else 2), BasicBlock(planes, planes, 1))
            )
            inplanes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _export(module, args, **kwargs) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buffer, dynamo=False, opset_version=17, **kwargs)
    return buffer.getvalue()


def _ort(data: bytes, feeds: dict) -> list[np.ndarray]:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, feeds)


def test_resnet18_matches_torch():
    torch.manual_seed(0)
    model = ResNet18().eval()
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):  # non-trivial statistics, so the folded BN matters
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(2, 3, 96, 96)
    data = _export(model, (x,), input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "batch"}})
    imported = axon_onnx.load(data)
    assert "fc.weight" in dict(imported.named_parameters())
    for batch in (x, torch.randn(3, 3, 96, 96)):
        with torch.no_grad():
            want = model(batch).numpy()
        (got,) = imported.run(None, {"x": batch.numpy()})
        scale = np.abs(want).max()
        print(
            f"\nResNet-18 batch {len(batch)}: max abs error {np.abs(got - want).max():.3g} (outputs up to {scale:.3g})"
        )
        assert np.abs(got - want).max() <= 1e-4 * scale, (np.abs(got - want).max(), scale)
        (runtime,) = _ort(data, {"x": batch.numpy()})
        np.testing.assert_allclose(got, runtime, rtol=1e-4, atol=1e-4 * scale)


def test_tiny_bert_matches_torch():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    bert = transformers.BertModel(config).eval()

    class Outputs(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask)
            return out.last_hidden_state, out.pooler_output

    # eval() on the wrapper: the exporter restores the wrapper's mode (recursively) afterwards.
    wrapper = Outputs(bert).eval()
    ids = torch.randint(0, 99, (2, 7))
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 5:] = 0
    axes = {0: "batch", 1: "seq"}
    data = _export(
        wrapper,
        (ids, mask),
        input_names=["input_ids", "attention_mask"],
        output_names=["last_hidden_state", "pooler_output"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes},
    )
    imported = axon_onnx.load(data)
    other_ids = torch.randint(0, 99, (3, 5))
    other_mask = torch.tensor([[1] * 5, [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    for i, m in ((ids, mask), (other_ids, other_mask)):
        with torch.no_grad():
            want = [t.numpy() for t in wrapper(i, m)]
        got = imported.run(None, {"input_ids": i.numpy(), "attention_mask": m.numpy()})
        for name, g, w in zip(("last_hidden_state", "pooler_output"), got, want):
            print(f"\nBERT {tuple(i.shape)} {name}: max abs error {np.abs(g - w).max():.3g}")
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)

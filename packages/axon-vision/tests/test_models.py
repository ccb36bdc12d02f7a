"""Classification models against torchvision's architectures written here with torch.nn: axon's
state_dict is copied into the torch module by name (no renaming, strict), and logits are compared in
float32 in eval mode (and train mode, running statistics included, for ResNet)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import axon_nn
from axon_autograd import Variable, no_grad
from axon_tensor import tensor
from axon_vision import ImageShapeError
from axon_vision.models import (
    MLP,
    VGG,
    LeNet,
    SimpleCNN,
    VisionTransformer,
    make_layers,
    mobilenet_v2,
    resnet18,
    resnet34,
    resnet50,
    vgg11_bn,
    vgg16,
    vgg19_bn,
    vit_b_16,
    vit_l_16,
)

torch = pytest.importorskip("torch")
tnn = torch.nn
RNG = np.random.default_rng(3)


# -- torchvision's architectures, written with torch.nn -------------------------------------------
class TBasic(tnn.Module):
    expansion = 1

    def __init__(self, inp, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TBottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inp, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TResNet(tnn.Module):
    def __init__(self, block, layers, num_classes):
        super().__init__()
        self.inplanes = 64
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU()
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            setattr(self, f"layer{i + 1}", self._layer(block, planes, n, 1 if i == 0 else 2))
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512 * block.expansion, num_classes)

    def _layer(self, block, planes, n, stride):
        down = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            down = tnn.Sequential(
                tnn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                tnn.BatchNorm2d(planes * block.expansion),
            )
        blocks = [block(self.inplanes, planes, stride, down)]
        self.inplanes = planes * block.expansion
        return tnn.Sequential(*blocks, *[block(self.inplanes, planes) for _ in range(1, n)])

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def t_vgg(config, bn, num_classes, hidden):
    layers, c = [], 3
    for v in config:
        if v == "M":
            layers.append(tnn.MaxPool2d(2, 2))
        else:
            layers += [tnn.Conv2d(c, v, 3, padding=1)] + ([tnn.BatchNorm2d(v)] if bn else []) + [tnn.ReLU()]
            c = v

    class TVGG(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(*layers)
            self.avgpool = tnn.AdaptiveAvgPool2d((7, 7))
            self.classifier = tnn.Sequential(
                tnn.Linear(c * 49, hidden),
                tnn.ReLU(),
                tnn.Dropout(),
                tnn.Linear(hidden, hidden),
                tnn.ReLU(),
                tnn.Dropout(),
                tnn.Linear(hidden, num_classes),
            )

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return TVGG()


def t_cbr(inp, out, k=3, stride=1, groups=1):
    return tnn.Sequential(
        tnn.Conv2d(inp, out, k, stride, (k - 1) // 2, groups=groups, bias=False), tnn.BatchNorm2d(out), tnn.ReLU6()
    )


class TInverted(tnn.Module):
    def __init__(self, inp, oup, stride, t):
        super().__init__()
        hidden = int(round(inp * t))
        self.res = stride == 1 and inp == oup
        layers = ([t_cbr(inp, hidden, 1)] if t != 1 else []) + [
            t_cbr(hidden, hidden, 3, stride, hidden),
            tnn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            tnn.BatchNorm2d(oup),
        ]
        self.conv = tnn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.res else self.conv(x)


def t_divisible(v, d=8):
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


class TMobileNetV2(tnn.Module):
    def __init__(self, num_classes, width):
        super().__init__()
        setting = [
            [1, 16, 1, 1],
            [6, 24, 2, 2],
            [6, 32, 3, 2],
            [6, 64, 4, 2],
            [6, 96, 3, 1],
            [6, 160, 3, 2],
            [6, 320, 1, 1],
        ]
        c = t_divisible(32 * width)
        last = t_divisible(1280 * max(1.0, width))
        feats = [t_cbr(3, c, stride=2)]
        for t, ch, n, s in setting:
            out = t_divisible(ch * width)
            for i in range(n):
                feats.append(TInverted(c, out, s if i == 0 else 1, t))
                c = out
        feats.append(t_cbr(c, last, 1))
        self.features = tnn.Sequential(*feats)
        self.classifier = tnn.Sequential(tnn.Dropout(0.2), tnn.Linear(last, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(tnn.functional.adaptive_avg_pool2d(self.features(x), (1, 1)), 1))


class TEncoderBlock(tnn.Module):
    def __init__(self, heads, hidden, mlp):
        super().__init__()
        self.ln_1 = tnn.LayerNorm(hidden, eps=1e-6)
        self.self_attention = tnn.MultiheadAttention(hidden, heads, batch_first=True)
        self.dropout = tnn.Dropout(0.0)
        self.ln_2 = tnn.LayerNorm(hidden, eps=1e-6)
        self.mlp = tnn.Sequential(
            tnn.Linear(hidden, mlp), tnn.GELU(), tnn.Dropout(0.0), tnn.Linear(mlp, hidden), tnn.Dropout(0.0)
        )

    def forward(self, inp):
        x = self.ln_1(inp)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + inp
        return x + self.mlp(self.ln_2(x))


class TEncoder(tnn.Module):
    def __init__(self, seq, layers, heads, hidden, mlp):
        super().__init__()
        self.pos_embedding = tnn.Parameter(torch.empty(1, seq, hidden))
        self.dropout = tnn.Dropout(0.0)
        self.layers = tnn.Sequential(
            OrderedDict((f"encoder_layer_{i}", TEncoderBlock(heads, hidden, mlp)) for i in range(layers))
        )
        self.ln = tnn.LayerNorm(hidden, eps=1e-6)

    def forward(self, x):
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class TViT(tnn.Module):
    def __init__(self, image, patch, layers, heads, hidden, mlp, num_classes):
        super().__init__()
        self.hidden = hidden
        self.conv_proj = tnn.Conv2d(3, hidden, patch, patch)
        self.class_token = tnn.Parameter(torch.zeros(1, 1, hidden))
        self.encoder = TEncoder((image // patch) ** 2 + 1, layers, heads, hidden, mlp)
        self.heads = tnn.Sequential(OrderedDict(head=tnn.Linear(hidden, num_classes)))

    def forward(self, x):
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, self.hidden, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


# -- helpers ---------------------------------------------------------------------------------------
def randomize(model):
    """Give every parameter and BN statistic random values (zero-initialised heads would hide bugs)."""
    for name, value in model.state_dict().items():
        if "num_batches_tracked" in name:
            continue
        array = RNG.standard_normal(tuple(value.shape)).astype(np.float32) * 0.1
        if name.endswith("running_var"):
            array = np.abs(array) + 0.5
        elif name.endswith("weight") and value.ndim == 1:
            array = array + 1.0
        value.array[...] = array


def copy_into_torch(model, reference):
    """axon's state dict into the torch module by identical names (strict: the names must agree)."""
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in model.state_dict().items()}
    assert list(state) == list(reference.state_dict()), "state-dict names or their order differ from torchvision's"
    reference.load_state_dict(state, strict=True)


def logits(model, x):
    with no_grad():
        return model(tensor(x)).numpy()


def compare(model, reference, x, tol):
    randomize(model)
    copy_into_torch(model, reference)
    model.eval()
    reference.eval()
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    out = logits(model, x)
    scale = np.abs(expected).max()
    assert np.abs(out - expected).max() <= tol * scale, np.abs(out - expected).max() / scale


# -- cases -----------------------------------------------------------------------------------------
def test_resnet18_eval_and_train_mode_batchnorm():
    model, reference = resnet18(num_classes=10), TResNet(TBasic, [2, 2, 2, 2], 10)
    x = RNG.standard_normal((2, 3, 32, 32)).astype(np.float32)
    compare(model, reference, x, 1e-4)
    model.train()
    reference.train()
    # 64 px, not 32: at 32 px layer4 is 1x1, so train-mode BN normalises two values per channel and
    # amplifies rounding (2.8e-10 relative even in float64); at 64 px float32 agrees to 4.5e-6.
    x = RNG.standard_normal((2, 3, 64, 64)).astype(np.float32)
    out = model(tensor(x)).detach().numpy()
    expected = reference(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    ours, theirs = model.state_dict(), reference.state_dict()
    for key in ("bn1.running_mean", "layer3.0.downsample.1.running_var", "layer4.1.bn2.running_mean"):
        np.testing.assert_allclose(ours[key].numpy(), theirs[key].numpy(), rtol=1e-4, atol=1e-5)
    assert int(ours["bn1.num_batches_tracked"].numpy()) == int(theirs["bn1.num_batches_tracked"]) == 1


def test_resnet50_eval():
    compare(
        resnet50(num_classes=7),
        TResNet(TBottleneck, [3, 4, 6, 3], 7),
        RNG.standard_normal((2, 3, 32, 32)).astype(np.float32),
        1e-4,
    )


def test_resnet34_names_and_shapes():
    ours = {k: tuple(v.shape) for k, v in resnet34().state_dict().items()}
    with torch.device("meta"):
        theirs = {k: tuple(v.shape) for k, v in TResNet(TBasic, [3, 4, 6, 3], 1000).state_dict().items()}
    assert ours == theirs


def test_mobilenet_v2_eval():
    compare(
        mobilenet_v2(num_classes=5), TMobileNetV2(5, 1.0), RNG.standard_normal((2, 3, 32, 32)).astype(np.float32), 1e-4
    )


def test_vgg_small_config_and_full_names():
    config = [8, "M", 16, 16, "M", 16, "M"]
    compare(
        VGG(make_layers(config, True), 4, hidden_features=24),
        t_vgg(config, True, 4, 24),
        RNG.standard_normal((2, 3, 16, 16)).astype(np.float32),
        1e-4,
    )
    compare(
        VGG(make_layers(config, False), 4, hidden_features=24),
        t_vgg(config, False, 4, 24),
        RNG.standard_normal((2, 3, 20, 12)).astype(np.float32),
        1e-4,
    )
    from axon_vision.models.vgg import VGG_CONFIGS

    for build, name, bn in ((vgg11_bn, "vgg11", True), (vgg16, "vgg16", False), (vgg19_bn, "vgg19", True)):
        with axon_nn.deferred_init():
            ours = {k: tuple(v.shape) for k, v in build().state_dict().items()}
        with torch.device("meta"):
            theirs = {k: tuple(v.shape) for k, v in t_vgg(VGG_CONFIGS[name], bn, 1000, 4096).state_dict().items()}
        assert ours == theirs


def test_vit_small_eval():
    model = VisionTransformer(32, 8, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=48, num_classes=6)
    compare(model, TViT(32, 8, 2, 4, 32, 48, 6), RNG.standard_normal((2, 3, 32, 32)).astype(np.float32), 1e-4)
    with pytest.raises(ImageShapeError):
        model(tensor(np.zeros((1, 3, 16, 16), np.float32)))


@pytest.mark.parametrize("build,config", [(vit_b_16, (12, 12, 768, 3072)), (vit_l_16, (24, 16, 1024, 4096))])
def test_vit_full_names_and_shapes(build, config):
    with axon_nn.deferred_init():
        ours = {k: tuple(v.shape) for k, v in build().state_dict().items()}
    with torch.device("meta"):
        theirs = {k: tuple(v.shape) for k, v in TViT(224, 16, *config, 1000).state_dict().items()}
    assert ours == theirs


def test_small_models_against_torch():
    x = RNG.standard_normal((2, 1, 28, 28)).astype(np.float32)
    lenet_ref = tnn.Sequential()
    lenet_ref.features = tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2),
        tnn.Tanh(),
        tnn.AvgPool2d(2, 2),
        tnn.Conv2d(6, 16, 5),
        tnn.Tanh(),
        tnn.AvgPool2d(2, 2),
    )
    lenet_ref.classifier = tnn.Sequential(
        tnn.Linear(400, 120), tnn.Tanh(), tnn.Linear(120, 84), tnn.Tanh(), tnn.Linear(84, 10)
    )
    lenet_ref.forward = lambda t: lenet_ref.classifier(torch.flatten(lenet_ref.features(t), 1))
    compare(LeNet(), lenet_ref, x, 1e-5)

    cnn_ref = tnn.Module()
    cnn_ref.features = tnn.Sequential(
        *[
            m
            for c_in, c in ((1, 8), (8, 12))
            for m in (
                tnn.Conv2d(c_in, c, 3, padding=1, bias=False),
                tnn.BatchNorm2d(c),
                tnn.ReLU(),
                tnn.MaxPool2d(2, 2),
            )
        ]
    )
    cnn_ref.pool = tnn.AdaptiveAvgPool2d((1, 1))
    cnn_ref.classifier = tnn.Linear(12, 3)
    cnn_ref.forward = lambda t: cnn_ref.classifier(torch.flatten(cnn_ref.pool(cnn_ref.features(t)), 1))
    compare(SimpleCNN(3, 1, (8, 12)), cnn_ref, x, 1e-5)

    mlp_ref = tnn.Module()
    mlp_ref.flatten = tnn.Flatten()
    mlp_ref.layers = tnn.Sequential(tnn.Linear(784, 32), tnn.ReLU(), tnn.Dropout(0.1), tnn.Linear(32, 10))
    mlp_ref.forward = lambda t: mlp_ref.layers(mlp_ref.flatten(t))
    compare(MLP(784, 10, (32,), dropout=0.1), mlp_ref, x, 1e-5)


def test_resnet18_train_backward_matches_torch():
    model, reference = resnet18(num_classes=3), TResNet(TBasic, [2, 2, 2, 2], 3)
    randomize(model)
    copy_into_torch(model, reference)
    # float64: with batch 2 some draws leave a BN channel nearly constant, and float32 gradients then
    # differ by up to 0.5% (conditioning, not the rule); float64 agrees to 5.5e-14 of each largest gradient.
    model.double()
    reference.double()
    x = RNG.standard_normal((2, 3, 64, 64))
    # Weighted logits: the plain sum of train-mode BN outputs is constant, its gradient only rounding noise.
    w = RNG.standard_normal((2, 3))
    (model(Variable(tensor(x))) * tensor(w)).sum().backward()
    (reference(torch.from_numpy(x)) * torch.from_numpy(w)).sum().backward()
    ours = dict(model.named_parameters())
    for name, param in reference.named_parameters():
        expected = param.grad.numpy()
        np.testing.assert_allclose(ours[name].grad.numpy(), expected, rtol=0, atol=1e-10 * np.abs(expected).max())

"""VGG-11/13/16/19, with and without BatchNorm (Simonyan & Zisserman 2015), torchvision's names.

``features.<i>`` is the conv / BN / ReLU / max-pool stack numbered as torchvision numbers it,
``avgpool`` is ``AdaptiveAvgPool2d((7, 7))``, and ``classifier.0 / .3 / .6`` are the three Linears.
``hidden_features`` (4096 in the paper and torchvision) may be made smaller for small inputs; the
names do not change, so torchvision's checkpoints load into the default.
"""

from __future__ import annotations

from typing import Any, Sequence

import axon_nn as nn
from axon_nn import init

__all__ = [
    "VGG",
    "VGG_CONFIGS",
    "make_layers",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]

# Output channels of each 3x3 conv; "M" is a 2x2 max-pool (torchvision's configurations A, B, D, E).
VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_layers(config: Sequence[int | str], batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The feature stack of ``config``: ``[N, in_channels, H, W] -> [N, last, H / 2^pools, W / 2^pools]``."""
    layers: list[nn.Module] = []
    for value in config:
        if value == "M":
            layers.append(nn.MaxPool2d(2, stride=2))
            continue
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"make_layers: entries are positive channel counts or 'M', got {value!r}")
        layers.append(nn.Conv2d(in_channels, value, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(value))
        layers.append(nn.ReLU())
        in_channels = value
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """``features`` then a 7x7 adaptive average pool and three Linears: ``[N, C, H, W] -> [N, num_classes]``."""

    def __init__(
        self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5, hidden_features: int = 4096
    ) -> None:
        super().__init__()
        channels = [m.out_channels for m in features if isinstance(m, nn.Conv2d)][-1]
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(channels * 7 * 7, hidden_features),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_features, hidden_features),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_features, num_classes),
        )
        # torchvision's initialisation: He-normal (fan_out) convs, unit BN, N(0, 0.01) Linears, zero biases.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                init.ones_(module.weight)
                init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                init.normal_(module.weight, 0.0, 0.01)
                init.zeros_(module.bias)

    def forward(self, x: Any) -> Any:
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _vgg(name: str, batch_norm: bool, num_classes: int, **kwargs: Any) -> VGG:
    in_channels = kwargs.pop("in_channels", 3)
    return VGG(make_layers(VGG_CONFIGS[name], batch_norm, in_channels), num_classes, **kwargs)


def vgg11(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-11 (configuration A)."""
    return _vgg("vgg11", False, num_classes, **kwargs)


def vgg11_bn(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-11 with BatchNorm after every conv."""
    return _vgg("vgg11", True, num_classes, **kwargs)


def vgg13(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-13 (configuration B)."""
    return _vgg("vgg13", False, num_classes, **kwargs)


def vgg13_bn(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-13 with BatchNorm."""
    return _vgg("vgg13", True, num_classes, **kwargs)


def vgg16(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-16 (configuration D)."""
    return _vgg("vgg16", False, num_classes, **kwargs)


def vgg16_bn(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-16 with BatchNorm."""
    return _vgg("vgg16", True, num_classes, **kwargs)


def vgg19(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-19 (configuration E)."""
    return _vgg("vgg19", False, num_classes, **kwargs)


def vgg19_bn(num_classes: int = 1000, **kwargs: Any) -> VGG:
    """VGG-19 with BatchNorm."""
    return _vgg("vgg19", True, num_classes, **kwargs)

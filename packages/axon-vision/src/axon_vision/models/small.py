"""Small classifiers for digits-sized images: ``LeNet`` (LeNet-5), ``SimpleCNN`` and ``MLP``.

These have no torchvision counterpart; their names follow the same conventions (``features`` /
``classifier`` Sequentials) so their state dicts are predictable.
"""

from __future__ import annotations

from typing import Any, Sequence

import axon_nn as nn

__all__ = ["LeNet", "MLP", "SimpleCNN"]

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}
_POOLS = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}


class LeNet(nn.Module):
    """LeNet-5 (LeCun et al. 1998) on ``[N, in_channels, 28, 28]`` (MNIST-sized; conv1 pads by 2).

    ``features``: conv 6@5x5, act, 2x2 pool, conv 16@5x5, act, 2x2 pool; ``classifier``: 400 -> 120
    -> 84 -> ``num_classes``. The paper's tanh and average subsampling by default; ReLU / max-pool
    by choice.
    """

    def __init__(
        self, num_classes: int = 10, in_channels: int = 1, activation: str = "tanh", pool: str = "avg"
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS or pool not in _POOLS:
            raise ValueError(
                f"LeNet: activation in {tuple(_ACTIVATIONS)}, pool in {tuple(_POOLS)}; got {activation!r}, {pool!r}"
            )
        act, pooling = _ACTIVATIONS[activation], _POOLS[pool]
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), act(), pooling(2, 2), nn.Conv2d(6, 16, 5), act(), pooling(2, 2)
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes)
        )

    def forward(self, x: Any) -> Any:
        return self.classifier(self.features(x).flatten(1))


class SimpleCNN(nn.Module):
    """Blocks of conv 3x3 / BatchNorm / ReLU / 2x2 max-pool, one per entry of ``channels``, then global
    average pooling and a Linear: ``[N, in_channels, H, W] -> [N, num_classes]``."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, channels: Sequence[int] = (32, 64)) -> None:
        super().__init__()
        if not channels:
            raise ValueError("SimpleCNN: channels must name at least one block")
        layers: list[nn.Module] = []
        for width in channels:
            layers += [
                nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
            ]
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, x: Any) -> Any:
        return self.classifier(self.pool(self.features(x)).flatten(1))


class MLP(nn.Module):
    """Flatten, then Linear / ReLU / Dropout per hidden size, then a Linear: ``[N, *] -> [N, num_classes]``.

    ``layers.<3 i>`` are the hidden Linears and the last index the output Linear.
    """

    def __init__(
        self, in_features: int, num_classes: int = 10, hidden: Sequence[int] = (256, 128), dropout: float = 0.0
    ) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        width = in_features
        for size in hidden:
            modules += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        modules.append(nn.Linear(width, num_classes))
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(*modules)

    def forward(self, x: Any) -> Any:
        return self.layers(self.flatten(x))

"""The classifier: three convolution blocks over the log-mel image, the mean over mel bands and the
max over time, a linear head."""

from __future__ import annotations

from typing import Any

import axon_nn as nn


def _block(channels_in: int, channels_out: int, pool: bool) -> list[nn.Module]:
    layers = [nn.Conv2d(channels_in, channels_out, 3, padding=1), nn.BatchNorm2d(channels_out), nn.ReLU()]
    return layers + [nn.MaxPool2d(2)] if pool else layers


class CallNet(nn.Module):
    """Log-mel ``[batch, 1, mels, frames]`` -> logits ``[batch, classes]`` (bands averaged, then the max over time)."""

    def __init__(self, classes: int, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(1, width, True), *_block(width, 2 * width, True), *_block(2 * width, 3 * width, False)
        )
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(3 * width, classes)

    def forward(self, x: Any) -> Any:
        # max over time: a call fills a fraction of the clip, and averaging dilutes it with noise
        return self.head(self.dropout(self.features(x).mean(dim=2).amax(dim=-1)))

"""The layer classes, each a thin Module over ``axon_nn.functional``."""

from __future__ import annotations

from .activation import ELU, GELU, LeakyReLU, LogSoftmax, Mish, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .dropout import AlphaDropout, Dropout, Dropout2d
from .embedding import Embedding
from .linear import Flatten, Identity, Linear, Unflatten
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm, RMSNorm
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .moe import MoELayer
from .swiglu import SwiGLUFeedForward
from .graph import GATConv, GCNConv
from .spectral import FFT1d, ISTFT, STFT
from .sparse_linear import SparseLinear
from .ternary import PackedTernaryLinear, TernaryLinear
from .residual import Residual, ResidualBlock

__all__ = [
    "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AlphaDropout", "AvgPool1d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss",
    "BatchNorm1d", "BatchNorm2d", "Conv1d", "Conv2d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Dropout2d",
    "ELU", "Embedding", "Flatten", "GELU", "GroupNorm", "HuberLoss", "Identity", "InstanceNorm2d", "KLDivLoss",
    "L1Loss", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax", "MSELoss", "MaxPool1d", "MaxPool2d", "Mish",
    "NLLLoss", "RMSNorm", "ReLU", "SiLU", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus", "Tanh", "Unflatten",
    "GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell",
]
__all__ += ["MoELayer", "SwiGLUFeedForward"]
__all__ += ["GATConv", "GCNConv"]
__all__ += ["FFT1d", "ISTFT", "STFT"]
__all__ += ["SparseLinear"]
__all__ += ["PackedTernaryLinear", "TernaryLinear"]
__all__ += ["Residual", "ResidualBlock"]

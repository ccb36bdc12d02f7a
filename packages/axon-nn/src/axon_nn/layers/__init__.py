"""The layer classes, each a thin Module over ``axon_nn.functional``."""

from __future__ import annotations

from .activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    RReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softmax2d,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from .attention import CrossAttention, MultiHeadAttention, MultiheadAttention
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .differential_attention import DifferentialAttention
from .dropout import AlphaDropout, Dropout, Dropout2d
from .embedding import Embedding
from .fold import Fold, MaxUnpool1d, MaxUnpool2d, Unfold
from .graph import GATConv, GCNConv
from .kv_cache import AttentionCache, KVCache
from .linear import Bilinear, Flatten, Identity, Linear, Unflatten
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from .margin_loss import (
    CosineEmbeddingLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    MarginRankingLoss,
    MultiLabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    PoissonNLLLoss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from .moe import MoELayer
from .normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LocalResponseNorm,
    RMSNorm,
)
from .padding import (
    CircularPad1d,
    CircularPad2d,
    CircularPad3d,
    ConstantPad1d,
    ConstantPad2d,
    ConstantPad3d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReflectionPad3d,
    ReplicationPad1d,
    ReplicationPad2d,
    ReplicationPad3d,
    ZeroPad1d,
    ZeroPad2d,
    ZeroPad3d,
)
from .pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    LPPool1d,
    LPPool2d,
    LPPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from .positional import SinusoidalPositionalEncoding
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .residual import Residual, ResidualBlock
from .rotary import RotaryEmbedding
from .seq2seq import Seq2SeqTransformer
from .shuffle import ChannelShuffle, CosineSimilarity, PairwiseDistance, PixelShuffle, PixelUnshuffle
from .sparse_linear import SparseLinear
from .spectral import ISTFT, STFT, FFT1d
from .swiglu import SwiGLUFeedForward
from .ternary import PackedTernaryLinear, TernaryLinear
from .transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from .upsample import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AlphaDropout",
    "AvgPool1d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "Dropout",
    "Dropout2d",
    "ELU",
    "Embedding",
    "Flatten",
    "GELU",
    "GroupNorm",
    "HuberLoss",
    "Identity",
    "InstanceNorm2d",
    "KLDivLoss",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "Mish",
    "NLLLoss",
    "RMSNorm",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Tanh",
    "Unflatten",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "RNN",
    "RNNCell",
    "AttentionCache",
    "CrossAttention",
    "DifferentialAttention",
    "KVCache",
    "MultiHeadAttention",
    "MultiheadAttention",
    "RotaryEmbedding",
    "Seq2SeqTransformer",
    "SinusoidalPositionalEncoding",
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
]
__all__ += ["MoELayer", "SwiGLUFeedForward"]
__all__ += ["GATConv", "GCNConv"]
__all__ += ["FFT1d", "ISTFT", "STFT"]
__all__ += ["SparseLinear"]
__all__ += ["PackedTernaryLinear", "TernaryLinear"]
__all__ += ["Residual", "ResidualBlock"]
__all__ += ["AvgPool3d", "Conv3d", "ConvTranspose3d", "MaxPool3d"]
__all__ += ["ConvTranspose1d", "Fold", "MaxUnpool1d", "MaxUnpool2d", "Unfold"]
__all__ += ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]
__all__ += ["CELU", "Hardsigmoid", "Hardswish", "Hardtanh", "LogSigmoid", "ReLU6", "SELU", "Softmin", "Softsign"]
__all__ += [
    "CosineEmbeddingLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "PoissonNLLLoss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
]
__all__ += ["GLU", "Hardshrink", "PReLU", "RReLU", "Softshrink", "Tanhshrink", "Threshold"]
__all__ += ["AdaptiveAvgPool1d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool3d", "LPPool1d"]
__all__ += ["LPPool2d", "LPPool3d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm3d", "LocalResponseNorm"]
__all__ += ["Bilinear", "ChannelShuffle", "CosineSimilarity", "PairwiseDistance", "PixelShuffle", "PixelUnshuffle"]
__all__ += ["Softmax2d"]
__all__ += [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]

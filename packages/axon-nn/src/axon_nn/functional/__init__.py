"""``axon_nn.functional``: the ops layers are built from, each an autograd Function with its backward."""

from __future__ import annotations

from .activation import (
    celu,
    elu,
    elu_,
    gelu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    hardtanh_,
    leaky_relu,
    leaky_relu_,
    log_softmax,
    logsigmoid,
    mish,
    normalize,
    prelu,
    relu,
    relu6,
    rrelu,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softshrink,
    softsign,
    tanh,
    tanhshrink,
    threshold,
)
from .adaptive_pool import adaptive_avg_pool1d, adaptive_avg_pool3d, adaptive_max_pool1d, adaptive_max_pool3d
from .attention import attention_path, repeat_kv, scaled_dot_product_attention
from .conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d
from .distance import cosine_similarity, pairwise_distance
from .dropout import alpha_dropout, dropout, dropout2d
from .embedding import embedding, one_hot
from .fft import complex_abs, complex_from_pairs, fft, ifft, irfft, pairs_from_complex, rfft
from .fold import fold, unfold
from .graph import add_self_loops, gat_conv, gcn_conv, gcn_norm, remove_self_loops, scatter_softmax
from .interpolate import interpolate
from .linear import bilinear, linear
from .local_response_norm import local_response_norm
from .loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from .lp_pool import lp_pool1d, lp_pool2d, lp_pool3d
from .margin_loss import (
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from .moe import DispatchPlan, dispatch_plan, expert_capacity, load_balancing_loss, top_k_routing
from .normalization import batch_norm, group_norm, instance_norm, layer_norm, rms_norm
from .padding import pad
from .pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from .pooling3d import avg_pool3d, max_pool3d
from .recurrent import gru, gru_cell, lstm, lstm_cell, rnn, rnn_cell
from .rotary import apply_rotary_emb, rotary_cos_sin
from .shuffle import channel_shuffle, pixel_shuffle, pixel_unshuffle
from .sparse_linear import sparse_linear
from .stft import istft, stft
from .swiglu import swiglu
from .ternary import (
    absmean_scale,
    activation_quant_ste,
    pack_ternary,
    packed_ternary_linear,
    quantize_activations,
    ternary_linear,
    ternary_quantize,
    ternary_weight_ste,
    unpack_ternary,
)
from .unpool import max_unpool1d, max_unpool2d

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "alpha_dropout",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "dropout2d",
    "elu",
    "embedding",
    "gelu",
    "group_norm",
    "huber_loss",
    "instance_norm",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool1d",
    "max_pool2d",
    "mish",
    "mse_loss",
    "nll_loss",
    "pad",
    "relu",
    "rms_norm",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
    "gru",
    "gru_cell",
    "lstm",
    "lstm_cell",
    "rnn",
    "rnn_cell",
    "apply_rotary_emb",
    "attention_path",
    "repeat_kv",
    "rotary_cos_sin",
    "scaled_dot_product_attention",
]
__all__ += ["DispatchPlan", "dispatch_plan", "expert_capacity", "load_balancing_loss", "swiglu", "top_k_routing"]
__all__ += ["add_self_loops", "gat_conv", "gcn_conv", "gcn_norm", "remove_self_loops", "scatter_softmax"]
__all__ += ["complex_abs", "complex_from_pairs", "fft", "ifft", "irfft", "istft", "pairs_from_complex", "rfft", "stft"]
__all__ += ["sparse_linear"]
__all__ += ["celu", "hardsigmoid", "hardswish", "hardtanh", "logsigmoid", "normalize", "one_hot", "relu6", "selu"]
__all__ += ["interpolate", "softmin", "softsign"]
__all__ += ["avg_pool3d", "conv3d", "conv_transpose3d", "max_pool3d"]
__all__ += ["conv_transpose1d", "fold", "max_unpool1d", "max_unpool2d", "unfold"]
__all__ += ["cosine_similarity", "pairwise_distance"]
__all__ += ["elu_", "glu", "hardshrink", "hardtanh_", "leaky_relu_", "prelu", "rrelu", "softshrink", "tanhshrink"]
__all__ += ["threshold"]
__all__ += ["adaptive_avg_pool1d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool3d", "bilinear"]
__all__ += ["channel_shuffle", "local_response_norm", "lp_pool1d", "lp_pool2d", "lp_pool3d", "pixel_shuffle"]
__all__ += ["pixel_unshuffle"]
__all__ += [
    "cosine_embedding_loss",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "poisson_nll_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]
__all__ += [
    "absmean_scale",
    "activation_quant_ste",
    "pack_ternary",
    "packed_ternary_linear",
    "quantize_activations",
    "ternary_linear",
    "ternary_quantize",
    "ternary_weight_ste",
    "unpack_ternary",
]

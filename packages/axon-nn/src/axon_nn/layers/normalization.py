"""Normalization layers: BatchNorm1d/2d, LayerNorm, RMSNorm, GroupNorm, InstanceNorm2d."""

from __future__ import annotations

from typing import Any

import axon_tensor
from axon_core import ShapeError

from .. import functional as F
from .. import init
from ..module import Module
from ._factory import add_bias, filled, new_parameter

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "LayerNorm",
    "RMSNorm",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LocalResponseNorm",
]


class _RunningStatsNorm(Module):
    """Shared by batch and instance norm: affine parameters and running statistics buffers."""

    _input_dims: tuple[int, ...] = ()
    # PyTorch counts batches (and so supports momentum=None) only for batch norm.
    _counts_batches = True

    def __init__(
        self,
        num_features: int,
        eps: float,
        momentum: float | None,
        affine: bool,
        track_running_stats: bool,
        device: Any,
        dtype: Any,
        bias: bool,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = new_parameter(num_features, device=device, dtype=dtype)
            add_bias(self, bias, num_features, device=device, dtype=dtype)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", filled((num_features,), 0.0, device, dtype))
            self.register_buffer("running_var", filled((num_features,), 1.0, device, dtype))
            self.register_buffer("num_batches_tracked", axon_tensor.zeros((), dtype="int64", device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, input: Any) -> None:
        if len(input.shape) not in self._input_dims:
            raise ShapeError(
                f"{type(self).__name__}: expected a {' or '.join(f'{d}-d' for d in self._input_dims)} input, got "
                f"shape {tuple(input.shape)}"
            )

    def _momentum(self) -> float:
        """The running-average factor of this step; ``momentum=None`` is the cumulative mean."""
        if self.training and self.track_running_stats and self._counts_batches:
            self.num_batches_tracked.array[...] += 1
            if self.momentum is None:
                return 1.0 / int(self.num_batches_tracked.item())
        return 0.0 if self.momentum is None else self.momentum

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_RunningStatsNorm):
    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias)

    def forward(self, input: Any) -> Any:
        self._check_input(input)
        momentum = self._momentum()
        use_batch_stats = self.training or self.running_mean is None
        return F.batch_norm(
            input,
            self.running_mean if self.training or self.track_running_stats else None,
            self.running_var if self.training or self.track_running_stats else None,
            self.weight,
            self.bias,
            use_batch_stats,
            momentum,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Per-feature normalisation of ``[N, C]`` or ``[N, C, L]``."""

    _input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Per-channel normalisation of ``[N, C, H, W]``."""

    _input_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Per-channel normalisation of ``[N, C, D, H, W]``."""

    _input_dims = (5,)


class _InstanceNorm(_RunningStatsNorm):
    """Normalises each channel of each sample over its spatial positions on its own; the smaller
    of ``_input_dims`` is the unbatched form."""

    _counts_batches = False

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias)

    def forward(self, input: Any) -> Any:
        self._check_input(input)
        if len(input.shape) == self._input_dims[0]:
            return self.forward(input.reshape(1, *input.shape)).reshape(*input.shape)
        momentum = self._momentum()
        use_input_stats = self.training or not self.track_running_stats
        return F.instance_norm(
            input, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats, momentum, self.eps
        )


class InstanceNorm1d(_InstanceNorm):
    """Normalises each ``[L]`` row of ``[N, C, L]`` (or unbatched ``[C, L]``) on its own."""

    _input_dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Normalises each ``[H, W]`` plane of ``[N, C, H, W]`` (or unbatched ``[C, H, W]``) on its own."""

    _input_dims = (3, 4)


class InstanceNorm3d(_InstanceNorm):
    """Normalises each ``[D, H, W]`` volume of ``[N, C, D, H, W]`` (or unbatched ``[C, D, H, W]``) on its own."""

    _input_dims = (4, 5)


class LocalResponseNorm(Module):
    """``x / (k + alpha / size * Σ x² over size neighbouring channels)^beta``: ``[N, C, *] -> [N, C, *]``."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Any) -> Any:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class LayerNorm(Module):
    """Normalises the trailing ``normalized_shape`` dims; ``weight``/``bias`` of that shape."""

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = new_parameter(*self.normalized_shape, device=device, dtype=dtype)
            init.ones_(self.weight)
            if bias:
                self.bias = new_parameter(*self.normalized_shape, device=device, dtype=dtype)
                init.zeros_(self.bias)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Any) -> Any:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class RMSNorm(Module):
    """``x / sqrt(mean(x²) + eps) * weight`` over the trailing ``normalized_shape`` dims."""

    def __init__(
        self,
        normalized_shape: Any,
        eps: float | None = None,
        elementwise_affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = new_parameter(*self.normalized_shape, device=device, dtype=dtype)
            init.ones_(self.weight)
        else:
            self.register_parameter("weight", None)

    def forward(self, input: Any) -> Any:
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalises ``[N, C, *]`` over groups of ``C / num_groups`` channels; per-channel affine."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        if affine:
            self.weight = new_parameter(num_channels, device=device, dtype=dtype)
            init.ones_(self.weight)
            if bias:
                self.bias = new_parameter(num_channels, device=device, dtype=dtype)
                init.zeros_(self.bias)
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input: Any) -> Any:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )

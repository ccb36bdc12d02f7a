"""``Conv1d``, ``Conv2d``, ``Conv3d`` and ``ConvTranspose1d`` / ``2d`` / ``3d``."""

from __future__ import annotations

import math
from typing import Any

from axon_core.backend.geometry import ntuple

from .. import functional as F
from .. import init
from ..module import Module
from ._factory import add_bias, new_parameter, reset_fan_in_bias

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d", "ConvTranspose1d", "Conv3d", "ConvTranspose3d"]

_PADDING_MODES = {"zeros": None, "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


class _ConvNd(Module):
    _spatial = 2
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        output_padding: Any = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by "
                f"groups ({groups})"
            )
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {tuple(_PADDING_MODES)}, got {padding_mode!r}")
        n = self._spatial
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride = (
            ntuple(kernel_size, n, f"{name} kernel_size"),
            ntuple(stride, n, f"{name} stride"),
        )
        self.dilation = ntuple(dilation, n, f"{name} dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = ntuple(padding, n, f"{name} padding")
        self.padding_mode = padding_mode
        self.output_padding = ntuple(output_padding, n, f"{name} output_padding")
        if self._transposed:
            weight_shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            weight_shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = new_parameter(*weight_shape, device=device, dtype=dtype)
        add_bias(self, bias, out_channels, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's default: kaiming_uniform(a=sqrt(5)) and bias U(±1/sqrt(fan_in)).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        reset_fan_in_bias(self.bias, self.weight.shape[1] * math.prod(self.kernel_size))

    def _padded_input(self, input: Any) -> tuple[Any, Any]:
        """Apply a non-zero padding mode explicitly; returns (input, padding left for the conv)."""
        mode = _PADDING_MODES[self.padding_mode]
        if mode is None or self.padding == "valid":
            return input, self.padding
        if self.padding == "same":
            widths = []
            for k, d in zip(self.kernel_size, self.dilation):
                total = d * (k - 1)
                widths.append((total // 2, total - total // 2))
        else:
            widths = [(p, p) for p in self.padding]
        flat = tuple(v for lo_hi in reversed(widths) for v in lo_hi)
        return F.pad(input, flat, mode=mode), 0

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._spatial:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self._spatial:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._spatial:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv1d(_ConvNd):
    """``[N, C_in, L] -> [N, C_out, L_out]``; ``weight [C_out, C_in/groups, k]``."""

    _spatial = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Any) -> Any:
        input, padding = self._padded_input(input)
        return F.conv1d(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """``[N, C_in, H, W] -> [N, C_out, H_out, W_out]``; ``weight [C_out, C_in/groups, kh, kw]``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Any) -> Any:
        input, padding = self._padded_input(input)
        return F.conv2d(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """``[N, C_in, H, W] -> [N, C_out, H_out, W_out]`` with
    ``H_out = (H - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1``;
    ``weight [C_in, C_out/groups, kh, kw]``."""

    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            "zeros",
            output_padding,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Any) -> Any:
        return F.conv_transpose2d(
            input, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups, self.dilation
        )


class ConvTranspose1d(ConvTranspose2d):
    """``[N, C_in, L] -> [N, C_out, L_out]`` with ``L_out = (L - 1) stride - 2 padding + dilation (k - 1) +
    output_padding + 1``; ``weight [C_in, C_out/groups, k]``."""

    _spatial = 1

    def forward(self, input: Any) -> Any:
        return F.conv_transpose1d(
            input, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups, self.dilation
        )


class Conv3d(Conv2d):
    """``[N, C_in, D, H, W] -> [N, C_out, D_out, H_out, W_out]``; ``weight [C_out, C_in/groups, kd, kh, kw]``."""

    _spatial = 3

    def forward(self, input: Any) -> Any:
        input, padding = self._padded_input(input)
        return F.conv3d(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose3d(ConvTranspose2d):
    """``[N, C_in, D, H, W] -> [N, C_out, D_out, H_out, W_out]``, each axis as ConvTranspose1d's;
    ``weight [C_in, C_out/groups, kd, kh, kw]``."""

    _spatial = 3

    def forward(self, input: Any) -> Any:
        return F.conv_transpose3d(
            input, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.groups, self.dilation
        )

"""``Identity``, ``Linear``, ``Flatten``, ``Unflatten``."""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from .. import init
from ..module import Module
from ._factory import add_bias, new_parameter, reset_fan_in_bias

__all__ = ["Identity", "Linear", "Bilinear", "Flatten", "Unflatten"]


class Identity(Module):
    """Returns its input unchanged (arguments to the constructor are ignored, as in PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """``y = x Wᵀ + b``: ``[*, in_features] -> [*, out_features]``; ``weight [out, in]``, ``bias [out]``."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = new_parameter(out_features, in_features, device=device, dtype=dtype)
        add_bias(self, bias, out_features, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's default: kaiming_uniform(a=sqrt(5)) = U(±1/sqrt(fan_in)) for weight and bias.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        reset_fan_in_bias(self.bias, self.in_features)

    def forward(self, input: Any) -> Any:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """``y = x1ᵀ W x2 + b``: ``[*, in1] x [*, in2] -> [*, out]``; ``weight [out, in1, in2]``, ``bias [out]``."""

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = new_parameter(out_features, in1_features, in2_features, device=device, dtype=dtype)
        add_bias(self, bias, out_features, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # PyTorch's default: weight and bias U(±1/sqrt(in1_features)).
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Any, input2: Any) -> Any:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one: ``[N, C, H, W] -> [N, C*H*W]`` by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Any) -> Any:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: ``[N, 12] -> [N, 3, 4]``."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input: Any) -> Any:
        shape = tuple(input.shape)
        dim = self.dim % len(shape)
        size = list(self.unflattened_size)
        if size.count(-1) == 1:
            known = math.prod(s for s in size if s != -1)
            size[size.index(-1)] = shape[dim] // known if known else 0
        if math.prod(size) != shape[dim]:
            from axon_core import ShapeError

            raise ShapeError(
                f"Unflatten: size {tuple(self.unflattened_size)} does not match dim {self.dim} of shape {shape}"
            )
        return input.reshape(shape[:dim] + tuple(size) + shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

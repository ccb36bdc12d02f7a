"""``QuantizedLinear``: a Linear whose weight stays in a ggml block format; ``quantize_linears``."""

from __future__ import annotations

from typing import Any

import axon_tensor
from axon_core import DeviceError
from axon_nn import Linear, Module, Parameter
from axon_quant import QuantTensor, quantize_tensor

from .. import functional as F

__all__ = ["QuantizedLinear", "quantize_linears"]


class QuantizedLinear(Module):
    """``y = x dequantize(W)ᵀ + b``: ``[*, in_features] -> [*, out_features]``.

    ``weight`` is an :class:`axon_quant.QuantTensor` ``[out, in]`` (e.g. ``q4_1`` blocks from a GGUF
    file, or a float Linear quantized by :meth:`from_linear`); it is frozen and kept in state_dict
    as the uint8 buffer ``weight`` (its block bytes, ``[out, row_bytes]``). ``bias`` ``[out]`` is a
    trainable float Parameter.
    """

    def __init__(self, weight: QuantTensor, bias: Any = None) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight_type = weight.ggml_type.name
        self.register_buffer("weight", axon_tensor.from_numpy(weight.raw))
        if bias is None:
            self.register_parameter("bias", None)
        else:
            self.bias = bias if isinstance(bias, Parameter) else Parameter(axon_tensor.as_tensor(bias))

    @classmethod
    def from_linear(cls, linear: Linear, fmt: str) -> "QuantizedLinear":
        """``linear``'s weight quantized to ``fmt`` (a ggml type name, ``"q8_0"``); its bias kept as is."""
        weight = quantize_tensor(linear.weight.detach().numpy().astype("float32"), fmt)
        return cls(weight, linear.bias)

    @property
    def quant_weight(self) -> QuantTensor:
        """The weight as a QuantTensor over the buffer's bytes on the module's device (no copy)."""
        return QuantTensor(self.weight.array, self.weight_type, (self.out_features, self.in_features))

    def forward(self, input: Any) -> Any:
        if input.device != self.weight.device:
            raise DeviceError(f"QuantizedLinear: input is on {input.device}, the weight on {self.weight.device}")
        return F.quantized_linear(input, self.quant_weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, weight_type={self.weight_type}"
        )


def quantize_linears(module: Module, fmt: str, skip: tuple[str, ...] = ()) -> Module:
    """Replace every :class:`~axon_nn.Linear` inside ``module`` (in place) by a QuantizedLinear in ``fmt``.

    ``skip`` names submodules (dotted, as ``named_modules`` gives them) to leave in float, e.g. the
    output head. Returns ``module``; a ``module`` that is itself a Linear is returned quantized.
    """
    if isinstance(module, Linear):
        return QuantizedLinear.from_linear(module, fmt)
    for name, child in list(module.named_modules()):
        for child_name, grandchild in list(child.named_children()):
            path = f"{name}.{child_name}" if name else child_name
            if isinstance(grandchild, Linear) and path not in skip:
                setattr(child, child_name, QuantizedLinear.from_linear(grandchild, fmt))
    return module

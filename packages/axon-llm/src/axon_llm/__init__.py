"""axon-llm: language models on axon-nn, with GGUF-quantized weights through axon-quant.

So far it holds the quantized building block every model here will share: :class:`QuantizedLinear`
(a Linear whose weight stays in a ggml block format, e.g. ``q4_1``), its functional form and
:func:`quantize_linears`, which swaps the Linear layers of a model for quantized ones.
"""

from __future__ import annotations

from .functional import quantized_linear
from .layers.quantized_linear import QuantizedLinear, quantize_linears

__version__ = "0.1.0"

__all__ = ["QuantizedLinear", "quantize_linears", "quantized_linear"]

"""axon-quant: GGML block formats, GGUF files, quantized matmul and a GGUF inference runtime.

Depends on axon-core only, so a deployer can ship ``axon-core`` + ``axon-quant`` and run a
quantized LLM from a GGUF file.
"""

from __future__ import annotations

from .calibrate import Int8Calibration, Int8Error, Int8Observer, Int8Result, calibrate, calibrate_model
from .chat import apply_chat_template
from .errors import GGUFError, QuantError
from .ggml_types import GGML_TYPES, GGMLType, ggml_type, row_bytes
from .gguf import GGUFFile, GGUFTensorInfo, GGUFValueType, read_gguf, write_gguf
from .kernels import quant_matmul
from .policy import QuantPolicy, QuantReport, TensorReport, quantize_model
from .quantize import dequantize, quantize, quantize_tensor
from .tensor import QuantTensor
from .tokenizer import GGUFTokenizer, IncrementalDetokenizer

__version__ = "0.1.0"

__all__: list[str] = ["QuantTensor", "QuantError", "GGUFError", "GGMLType", "GGML_TYPES", "ggml_type", "row_bytes"]
__all__ += ["GGUFFile", "GGUFTensorInfo", "GGUFValueType", "read_gguf", "write_gguf"]
__all__ += ["quant_matmul"]
__all__ += ["quantize", "dequantize", "quantize_tensor"]
__all__ += ["quantize_model", "QuantPolicy", "QuantReport", "TensorReport"]
__all__ += ["GGUFTokenizer", "IncrementalDetokenizer", "apply_chat_template"]
__all__ += ["calibrate", "calibrate_model", "Int8Calibration", "Int8Error", "Int8Observer", "Int8Result"]

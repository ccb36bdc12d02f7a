"""The LLaMA-family GGUF inference runtime: mmap'd quantized weights, a static arena for every
activation and the KV cache, layer-ahead weight prefetch, per-layer telemetry, sampling and
streaming generation.

    from axon_quant.runtime import load_model, generate
    from axon_quant.tokenizer import GGUFTokenizer

    model = load_model("SmolLM2-135M-Instruct.Q4_1.gguf")
    tokenizer = GGUFTokenizer.from_metadata(model.gguf.metadata)
    print(generate(model, tokenizer, "The capital of France is", max_tokens=20).text)

``load_model(path, device="cuda")`` (or ``"cuda-sim"``) runs the same graph as device kernels,
streaming each layer's weights to the GPU one layer ahead (:class:`DeviceModel`).
"""

from __future__ import annotations

from .arena import Arena
from .config import ARCHS, ArchSpec, ModelConfig
from .device_model import DeviceModel
from .generate import GenerationResult, generate
from .kv_cache import KVCache
from .model import DEFAULT_MAX_CTX, Model, load_model
from .prefetch import LayerPrefetcher
from .sampling import Sampler, SamplingParams
from .stop_strings import StopStrings
from .streaming import WeightStreamer
from .telemetry import SECTIONS, STREAM_COLUMNS, StreamTelemetry, Telemetry

__all__ = [
    "ARCHS",
    "DEFAULT_MAX_CTX",
    "SECTIONS",
    "STREAM_COLUMNS",
    "Arena",
    "ArchSpec",
    "DeviceModel",
    "GenerationResult",
    "KVCache",
    "LayerPrefetcher",
    "Model",
    "ModelConfig",
    "Sampler",
    "SamplingParams",
    "StopStrings",
    "StreamTelemetry",
    "Telemetry",
    "WeightStreamer",
    "generate",
    "load_model",
]

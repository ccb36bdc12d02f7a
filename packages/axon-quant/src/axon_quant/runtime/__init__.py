"""The LLaMA-family GGUF inference runtime: mmap'd quantized weights, a static arena for every
activation and the KV cache, layer-ahead weight prefetch, per-layer telemetry, sampling and
streaming generation.

    from axon_quant.runtime import load_model, generate
    from axon_quant.tokenizer import GGUFTokenizer

    model = load_model("SmolLM2-135M-Instruct.Q4_1.gguf")
    tokenizer = GGUFTokenizer.from_metadata(model.gguf.metadata)
    print(generate(model, tokenizer, "The capital of France is", max_tokens=20).text)
"""

from __future__ import annotations

from .arena import Arena
from .config import ARCHS, ArchSpec, ModelConfig
from .generate import GenerationResult, generate
from .kv_cache import KVCache
from .model import DEFAULT_MAX_CTX, Model, load_model
from .prefetch import LayerPrefetcher
from .sampling import Sampler, SamplingParams
from .telemetry import SECTIONS, Telemetry

__all__ = [
    "ARCHS",
    "DEFAULT_MAX_CTX",
    "SECTIONS",
    "Arena",
    "ArchSpec",
    "GenerationResult",
    "KVCache",
    "LayerPrefetcher",
    "Model",
    "ModelConfig",
    "Sampler",
    "SamplingParams",
    "Telemetry",
    "generate",
    "load_model",
]

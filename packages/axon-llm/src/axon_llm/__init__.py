"""axon-llm: language models on axon-nn with HF-compatible weights, and GGUF-quantized layers.

``from_pretrained(path)`` loads an HF folder (config.json + safetensors) into the matching
architecture; ``model(input_ids)`` returns logits ``[batch, seq, vocab]``. :class:`QuantizedLinear`
keeps a Linear's weight in a ggml block format (axon-quant).
"""

from __future__ import annotations

from .auto import from_pretrained
from .cache import KVCache
from .config import LLMConfig
from .errors import LLMError, ModelLoadError
from .functional import quantized_linear
from .generation import GenerationConfig, GenerationMixin, TextIteratorStreamer, TextStreamer
from .hub import HubChecksumError, HubError, HubOfflineError, fetch_model
from .layers.quantized_linear import QuantizedLinear, quantize_linears
from .loading.gguf import load_gguf, save_gguf
from .modeling import CausalLM, PreTrainedModel
from .models import ARCHITECTURES, LlamaConfig, LlamaForCausalLM, LlamaModel
from .models.bert import BertConfig, BertForMaskedLM, BertForSequenceClassification, BertModel, BertModelOutput
from .models.chimera import ChimeraConfig, ChimeraForCausalLM, ChimeraModel
from .models.gpt2 import GPT2Config, GPT2LMHeadModel, GPT2Model
from .models.hydra import HydraCache, HydraConfig, HydraForCausalLM, HydraModel
from .models.mamba import MambaCache, MambaConfig, MambaForCausalLM, MambaModel
from .models.mistral import (
    MistralConfig,
    MistralForCausalLM,
    MistralModel,
    MixtralConfig,
    MixtralForCausalLM,
    MixtralModel,
)
from .models.phi import Phi3Config, Phi3ForCausalLM, Phi3Model, PhiConfig, PhiForCausalLM, PhiModel
from .models.trident import TridentConfig, TridentForCausalLM, TridentModel, export_ternary
from .ops import selective_scan
from .tokenization import PretrainedTokenizer, load_tokenizer

__version__ = "0.1.0"

__all__ = [
    "ARCHITECTURES",
    "CausalLM",
    "KVCache",
    "LLMConfig",
    "LLMError",
    "LlamaConfig",
    "LlamaForCausalLM",
    "LlamaModel",
    "ModelLoadError",
    "PreTrainedModel",
    "QuantizedLinear",
    "from_pretrained",
    "quantize_linears",
    "quantized_linear",
]
__all__ += ["MambaCache", "MambaConfig", "MambaForCausalLM", "MambaModel", "selective_scan"]
__all__ += ["HydraCache", "HydraConfig", "HydraForCausalLM", "HydraModel"]
__all__ += ["ChimeraConfig", "ChimeraForCausalLM", "ChimeraModel"]
__all__ += ["TridentConfig", "TridentForCausalLM", "TridentModel", "export_ternary"]
__all__ += ["GPT2Config", "GPT2LMHeadModel", "GPT2Model"]
__all__ += ["MistralConfig", "MistralForCausalLM", "MistralModel"]
__all__ += ["MixtralConfig", "MixtralForCausalLM", "MixtralModel"]
__all__ += ["Phi3Config", "Phi3ForCausalLM", "Phi3Model", "PhiConfig", "PhiForCausalLM", "PhiModel"]
__all__ += ["BertConfig", "BertForMaskedLM", "BertForSequenceClassification", "BertModel", "BertModelOutput"]
__all__ += ["GenerationConfig", "GenerationMixin", "TextIteratorStreamer", "TextStreamer"]
__all__ += ["load_gguf", "save_gguf", "PretrainedTokenizer", "load_tokenizer"]
__all__ += ["fetch_model", "HubError", "HubOfflineError", "HubChecksumError"]

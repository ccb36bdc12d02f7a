"""The architectures, and ``ARCHITECTURES``: HF ``model_type`` -> ``{HF class name: our class}``.

An entry's first class is the default for its ``model_type``; ``architectures`` in config.json
picks another (``BertForMaskedLM`` over ``BertModel``, say).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import ModelLoadError
from .bert import BertConfig, BertForMaskedLM, BertForSequenceClassification, BertModel, BertModelOutput
from .chimera import ChimeraConfig, ChimeraForCausalLM, ChimeraModel
from .gpt2 import GPT2Config, GPT2LMHeadModel, GPT2Model
from .hydra import HydraCache, HydraConfig, HydraForCausalLM, HydraModel
from .llama import LlamaConfig, LlamaForCausalLM, LlamaModel
from .mamba import MambaCache, MambaConfig, MambaForCausalLM, MambaModel
from .mistral import MistralConfig, MistralForCausalLM, MistralModel, MixtralConfig, MixtralForCausalLM, MixtralModel
from .phi import Phi3Config, Phi3ForCausalLM, Phi3Model, PhiConfig, PhiForCausalLM, PhiModel
from .trident import TridentConfig, TridentForCausalLM, TridentModel, export_ternary

__all__ = ["ARCHITECTURES", "LlamaConfig", "LlamaForCausalLM", "LlamaModel", "model_class_for"]
__all__ += ["MambaCache", "MambaConfig", "MambaForCausalLM", "MambaModel"]
__all__ += ["HydraCache", "HydraConfig", "HydraForCausalLM", "HydraModel"]
__all__ += ["ChimeraConfig", "ChimeraForCausalLM", "ChimeraModel"]
__all__ += ["TridentConfig", "TridentForCausalLM", "TridentModel", "export_ternary"]
__all__ += ["GPT2Config", "GPT2LMHeadModel", "GPT2Model"]
__all__ += ["MistralConfig", "MistralForCausalLM", "MistralModel"]
__all__ += ["MixtralConfig", "MixtralForCausalLM", "MixtralModel"]
__all__ += ["Phi3Config", "Phi3ForCausalLM", "Phi3Model", "PhiConfig", "PhiForCausalLM", "PhiModel"]
__all__ += ["BertConfig", "BertForMaskedLM", "BertForSequenceClassification", "BertModel", "BertModelOutput"]

ARCHITECTURES: dict[str, dict[str, type]] = {
    "llama": {"LlamaForCausalLM": LlamaForCausalLM, "LlamaModel": LlamaModel},
    "mamba": {"MambaForCausalLM": MambaForCausalLM, "MambaModel": MambaModel},
    "hydra": {"HydraForCausalLM": HydraForCausalLM, "HydraModel": HydraModel},
    "chimera": {"ChimeraForCausalLM": ChimeraForCausalLM, "ChimeraModel": ChimeraModel},
    "trident": {"TridentForCausalLM": TridentForCausalLM, "TridentModel": TridentModel},
    "gpt2": {"GPT2LMHeadModel": GPT2LMHeadModel, "GPT2Model": GPT2Model},
    "mistral": {"MistralForCausalLM": MistralForCausalLM, "MistralModel": MistralModel},
    "mixtral": {"MixtralForCausalLM": MixtralForCausalLM, "MixtralModel": MixtralModel},
    "phi": {"PhiForCausalLM": PhiForCausalLM, "PhiModel": PhiModel},
    "phi3": {"Phi3ForCausalLM": Phi3ForCausalLM, "Phi3Model": Phi3Model},
    "bert": {
        "BertModel": BertModel,
        "BertForMaskedLM": BertForMaskedLM,
        "BertForSequenceClassification": BertForSequenceClassification,
    },
}


def model_class_for(config: dict[str, Any], path: str | os.PathLike[str] | None = None) -> type:
    """The class for a config.json mapping (its ``model_type``, then its ``architectures``)."""
    model_type = config.get("model_type")
    if model_type not in ARCHITECTURES:
        raise ModelLoadError(
            f"model_type {model_type!r} is not one axon-llm builds (known: {sorted(ARCHITECTURES)})", path=path
        )
    classes = ARCHITECTURES[model_type]
    for name in config.get("architectures") or ():
        if name in classes:
            return classes[name]
    return next(iter(classes.values()))

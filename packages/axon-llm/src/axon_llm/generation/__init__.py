"""Text generation for axon-llm's causal LMs, with transformers' names and semantics.

- :class:`GenerationConfig`: greedy, sampling (temperature, top-k, top-p; seeded), beam search (length
  penalty, early stopping), repetition penalty, no-repeat n-gram, min/max new tokens, eos ids, stop strings.
- :class:`GenerationMixin`: ``model.generate(input_ids, attention_mask=None, max_new_tokens=..., ...)``
  returning int64 ids ``[batch, prompt + new]`` (an axon Tensor), batched with left padding over the
  model's KV cache; ``model.stream(...)`` yields text deltas.
- logits processors / warpers and stopping criteria as transformers' classes of the same names.
- :class:`TextStreamer` / :class:`TextIteratorStreamer`: text deltas that never split a character.
"""

from __future__ import annotations

from .config import GenerationConfig
from .logits_process import (
    LogitsProcessor,
    LogitsProcessorList,
    MinLengthLogitsProcessor,
    MinNewTokensLengthLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from .mixin import GenerationMixin
from .outputs import GenerateBeamDecoderOnlyOutput, GenerateDecoderOnlyOutput
from .stopping import EosTokenCriteria, MaxLengthCriteria, StoppingCriteria, StoppingCriteriaList, StopStringCriteria
from .streamers import BaseStreamer, TextIteratorStreamer, TextStreamer

__all__ = [
    "BaseStreamer",
    "EosTokenCriteria",
    "GenerateBeamDecoderOnlyOutput",
    "GenerateDecoderOnlyOutput",
    "GenerationConfig",
    "GenerationMixin",
    "LogitsProcessor",
    "LogitsProcessorList",
    "MaxLengthCriteria",
    "MinLengthLogitsProcessor",
    "MinNewTokensLengthLogitsProcessor",
    "NoRepeatNGramLogitsProcessor",
    "RepetitionPenaltyLogitsProcessor",
    "StopStringCriteria",
    "StoppingCriteria",
    "StoppingCriteriaList",
    "TemperatureLogitsWarper",
    "TextIteratorStreamer",
    "TextStreamer",
    "TopKLogitsWarper",
    "TopPLogitsWarper",
]

"""What ``generate(..., return_dict_in_generate=True)`` returns (transformers' class and field names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["GenerateBeamDecoderOnlyOutput", "GenerateDecoderOnlyOutput"]


@dataclass
class GenerateDecoderOnlyOutput:
    """Greedy or sampled generation.

    ``sequences``: int64 Tensor ``[batch * num_return_sequences, prompt + new]``; ``scores``: with
    ``output_scores``, one float32 array ``[batch * num_return_sequences, vocab]`` per new token, the
    processed scores the token was chosen from (``-inf`` where filtered), else None.
    """

    sequences: Any
    scores: tuple[np.ndarray, ...] | None = None


@dataclass
class GenerateBeamDecoderOnlyOutput:
    """Beam search.

    ``sequences``: int64 Tensor ``[batch * num_return_sequences, prompt + new]`` (best first per prompt;
    shorter hypotheses padded with ``pad_token_id``). With ``output_scores``: ``sequences_scores``
    ``[batch * num_return_sequences]`` (sum of log-probabilities / new_length ** length_penalty) and
    ``scores``, one ``[batch * num_beams, vocab]`` array of processed log-probabilities per step.
    ``beam_indices`` ``[batch * num_return_sequences, new]``: the flat beam row each token came from
    (-1 past a hypothesis' end).
    """

    sequences: Any
    sequences_scores: np.ndarray | None = None
    scores: tuple[np.ndarray, ...] | None = None
    beam_indices: np.ndarray | None = None

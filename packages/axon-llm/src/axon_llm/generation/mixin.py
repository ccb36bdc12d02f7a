"""``GenerationMixin``: ``model.generate(...)`` and ``model.stream(...)`` for any causal LM here.

The host class provides what :class:`axon_llm.CausalLM` has: ``model(ids [B, S], attention_mask=
[B, past+S] | None, position_ids=[B, S], cache=cache) -> logits [B, S, vocab]``, ``new_cache(batch,
max_len)`` (a cache that appends ``S`` positions per call and has ``reorder(rows)``) and ``config``
(``eos_token_id``, ``pad_token_id``, ``bos_token_id``, ``max_position_embeddings``). The decoding
follows transformers 5.x ``GenerationMixin`` step for step (``_sample``, ``_beam_search``, the
order of the logits processors, left padding, position ids), so the same model gives the same
tokens.

``generate`` returns an int64 axon ``Tensor`` ``[batch, prompt + new]`` on the CPU (what a
transformers user gets as a ``torch.LongTensor``; ``.numpy()`` / ``.tolist()`` for plain values), or a
``Generate*Output`` with ``return_dict_in_generate=True``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

import axon_tensor
from axon_autograd import no_grad, tensor_of
from axon_core import DTypeError, ShapeError

from ..errors import LLMError
from ._beam import BeamSearch
from ._math import log_softmax, softmax
from ._sampling import multinomial
from .config import GenerationConfig
from .logits_process import (
    LogitsProcessorList,
    MinLengthLogitsProcessor,
    MinNewTokensLengthLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from .outputs import GenerateBeamDecoderOnlyOutput, GenerateDecoderOnlyOutput
from .stopping import EosTokenCriteria, MaxLengthCriteria, StoppingCriteriaList, StopStringCriteria, TokenDecoder
from .streamers import BaseStreamer, TextStreamer

__all__ = ["GenerationMixin"]


@dataclasses.dataclass
class _Run:
    """One call's prepared state. ``ids``/``mask``/``positions`` are ``[rows, max_length]`` buffers (ids
    filled to ``cur_len``; the mask and position ids of new tokens are known in advance)."""

    config: GenerationConfig
    ids: np.ndarray
    mask: np.ndarray
    positions: np.ndarray
    has_padding: bool
    cur_len: int
    prompt_len: int
    max_length: int
    eos: list[int]
    pad: int | None
    processors: LogitsProcessorList
    stopping: StoppingCriteriaList
    rng: np.random.Generator | None
    cache: Any
    scores: list[np.ndarray] | None


class GenerationMixin:
    """Adds :meth:`generate` and :meth:`stream` to a causal LM (see the module docstring for the contract)."""

    generation_config: GenerationConfig | None = None

    def generate(
        self,
        input_ids: Any = None,
        attention_mask: Any = None,
        generation_config: GenerationConfig | None = None,
        streamer: BaseStreamer | None = None,
        tokenizer: TokenDecoder | None = None,
        logits_processor: list[Any] | None = None,
        stopping_criteria: list[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Continue ``input_ids [batch, prompt]`` (left-padded, with ``attention_mask`` 1 = token, 0 = pad).

        ``kwargs`` are :class:`GenerationConfig` fields with transformers' names (``max_new_tokens``,
        ``do_sample``, ``temperature``, ``top_k``, ``top_p``, ``num_beams``, ``length_penalty``,
        ``early_stopping``, ``repetition_penalty``, ``no_repeat_ngram_size``, ``min_new_tokens``,
        ``eos_token_id``, ``pad_token_id``, ``stop_strings``, ``seed``, ``num_return_sequences``,
        ``output_scores``, ``return_dict_in_generate``, ...); they override ``generation_config``,
        which defaults to the model's. ``tokenizer`` (anything with ``decode(ids)``) is needed for
        ``stop_strings``. ``streamer.put`` gets the prompt, then each step's tokens. Extra
        ``logits_processor`` / ``stopping_criteria`` entries run after the built-in ones.

        Finished rows (an eos token, a stop string) are padded with ``pad_token_id`` (default: the
        first eos id) until every row is done. Returns int64 ``[batch * num_return_sequences, prompt
        + new]`` as an axon ``Tensor`` (or a ``Generate*Output``, see ``return_dict_in_generate``).
        """
        run = self._prepare_run(
            input_ids, attention_mask, generation_config, tokenizer, logits_processor, stopping_criteria, kwargs
        )
        if run.config.num_beams > 1:
            if streamer is not None:
                raise LLMError("generate: a streamer needs num_beams=1 (beam search settles its text only at the end)")
            return self._beam_search(run)
        if streamer is not None:
            streamer.put(run.ids[:, : run.cur_len].copy())
        for _ in self._sample_steps(run, streamer):
            pass
        if streamer is not None:
            streamer.end()
        return self._sample_output(run)

    def stream(
        self,
        input_ids: Any,
        tokenizer: TokenDecoder,
        attention_mask: Any = None,
        generation_config: GenerationConfig | None = None,
        skip_prompt: bool = True,
        **kwargs: Any,
    ) -> Iterator[str]:
        """Generate for one prompt and yield the text as it comes: complete-character deltas (see
        :class:`TextStreamer`) whose concatenation is the decoded new text (with ``skip_prompt``)."""
        collector = _DeltaCollector(tokenizer, skip_prompt=skip_prompt)
        run = self._prepare_run(input_ids, attention_mask, generation_config, tokenizer, None, None, kwargs)
        if run.config.num_beams > 1 or run.ids.shape[0] != 1:
            raise LLMError("stream: one prompt, num_beams=1 and num_return_sequences=1 (use generate otherwise)")
        collector.put(run.ids[:, : run.cur_len].copy())
        for _ in self._sample_steps(run, collector):
            yield from collector.drain()
        collector.end()
        yield from collector.drain()

    # -- preparation -------------------------------------------------------------------------------------

    def _default_generation_config(self) -> GenerationConfig:
        if self.generation_config is not None:
            return self.generation_config
        model_config = getattr(self, "config", None)
        ids = {name: getattr(model_config, name, None) for name in ("eos_token_id", "pad_token_id", "bos_token_id")}
        return GenerationConfig(**{k: v for k, v in ids.items() if v is not None})

    def _prepare_run(
        self,
        input_ids: Any,
        attention_mask: Any,
        generation_config: GenerationConfig | None,
        tokenizer: TokenDecoder | None,
        logits_processor: list[Any] | None,
        stopping_criteria: list[Any] | None,
        kwargs: dict[str, Any],
    ) -> _Run:
        config = (generation_config or self._default_generation_config()).update(**kwargs)
        eos = config.eos_token_ids
        pad = config.pad_token_id if config.pad_token_id is not None else (eos[0] if eos else None)
        ids = _as_ids(input_ids, config.bos_token_id)
        mask = _attention_mask(ids, attention_mask, pad, eos)

        # One row per beam or per returned sample, as transformers' _expand_inputs_for_generation.
        expand = max(config.num_beams, config.num_return_sequences)
        ids, mask = np.repeat(ids, expand, axis=0), np.repeat(mask, expand, axis=0)
        rows, prompt_len = ids.shape
        max_position = getattr(getattr(self, "config", None), "max_position_embeddings", None)
        max_length = config.resolved_max_length(prompt_len, max_position)
        if prompt_len >= max_length:
            raise LLMError(
                f"generate: the prompt has {prompt_len} tokens but max_length is {max_length}; set max_new_tokens"
            )
        ids_buffer = np.zeros((rows, max_length), dtype=np.int64)
        ids_buffer[:, :prompt_len] = ids
        mask_buffer = np.ones((rows, max_length), dtype=np.int64)
        mask_buffer[:, :prompt_len] = mask
        has_padding = not bool(mask.all())
        # transformers' position ids: cumsum(mask) - 1, with 0 at the padding; new tokens count on.
        positions = np.where(mask_buffer != 0, np.cumsum(mask_buffer, axis=1) - 1, 0)

        processors = self._logits_processors(config, prompt_len, mask if has_padding else None, eos)
        processors.extend(logits_processor or [])
        if config.do_sample:
            min_keep = (len(eos) + 1 if eos else 2) if config.num_beams > 1 else 1
            processors.extend(_warpers(config, min_keep))
        stopping = StoppingCriteriaList([MaxLengthCriteria(max_length)])
        if config.stop_strings is not None:
            if tokenizer is None:
                raise LLMError("generate: stop_strings need the tokenizer (pass tokenizer=...) to decode the tokens")
            stopping.append(StopStringCriteria(tokenizer, config.stop_strings))
        if eos:
            stopping.append(EosTokenCriteria(eos))
        stopping.extend(stopping_criteria or [])

        cache = self.new_cache(rows, max_length) if config.use_cache else None
        rng = np.random.default_rng(config.seed) if config.do_sample else None
        scores: list[np.ndarray] | None = [] if (config.return_dict_in_generate and config.output_scores) else None
        return _Run(
            config, ids_buffer, mask_buffer, positions, has_padding, prompt_len, prompt_len, max_length, eos, pad,
            processors, stopping, rng, cache, scores,
        )  # fmt: skip

    @staticmethod
    def _logits_processors(
        config: GenerationConfig, prompt_len: int, padding_mask: np.ndarray | None, eos: list[int]
    ) -> LogitsProcessorList:
        """The processors transformers' ``_get_logits_processor`` builds for these options, in its order."""
        processors = LogitsProcessorList()
        if config.repetition_penalty != 1.0:
            # Left padding is not part of a row's history: skip each row's leading pad positions.
            ignore = None if padding_mask is None else (padding_mask != 0).argmax(axis=1)
            processors.append(RepetitionPenaltyLogitsProcessor(float(config.repetition_penalty), ignore))
        if config.no_repeat_ngram_size > 0:
            processors.append(NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
        min_length = config.resolved_min_length(prompt_len)
        if eos and min_length > 0:
            processors.append(MinLengthLogitsProcessor(min_length, eos))
        if eos and config.min_new_tokens:
            processors.append(MinNewTokensLengthLogitsProcessor(prompt_len, config.min_new_tokens, eos))
        return processors

    # -- the model ---------------------------------------------------------------------------------------

    def _next_token_logits(self, run: _Run, new_ids: np.ndarray) -> np.ndarray:
        """Run the model on the newest ``new_ids [rows, S]`` (all of ``run.ids`` without a cache) and return
        the logits of the last position, float32 ``[rows, vocab]``."""
        end = run.cur_len
        if run.cache is None:
            new_ids = run.ids[:, :end]
        seq = new_ids.shape[1]
        mask = run.mask[:, :end] if run.has_padding else None
        positions = run.positions[:, end - seq : end]
        parameters = getattr(self, "parameters", None)
        first = next(iter(parameters()), None) if callable(parameters) else None
        device = first.device if first is not None else None
        with no_grad():
            logits = self(
                axon_tensor.tensor(np.ascontiguousarray(new_ids), device=device),
                attention_mask=mask,
                position_ids=positions,
                cache=run.cache,
            )
            last = tensor_of(logits)[:, -1]
        return np.asarray(last.numpy(), dtype=np.float32)

    # -- greedy and multinomial sampling ----------------------------------------------------------------

    def _sample_steps(self, run: _Run, streamer: BaseStreamer | None) -> Iterator[int]:
        """transformers' ``_sample``: one token per row per step; yields the new length after each step."""
        unfinished = np.ones(run.ids.shape[0], dtype=bool)
        logits = self._next_token_logits(run, run.ids[:, : run.cur_len])
        while True:
            scores = run.processors(run.ids[:, : run.cur_len], logits)
            if run.scores is not None:
                run.scores.append(scores)
            if run.rng is not None:
                next_tokens = multinomial(softmax(scores), run.rng)
            else:
                next_tokens = np.argmax(scores, axis=-1)
            if run.eos:
                next_tokens = np.where(unfinished, next_tokens, run.pad)
            run.ids[:, run.cur_len] = next_tokens
            run.cur_len += 1
            if streamer is not None:
                streamer.put(next_tokens.copy())
            unfinished &= ~run.stopping(run.ids[:, : run.cur_len])
            yield run.cur_len
            if not unfinished.any():
                return
            logits = self._next_token_logits(run, next_tokens[:, None])

    def _sample_output(self, run: _Run) -> Any:
        sequences = _as_tensor(run.ids[:, : run.cur_len])
        if not run.config.return_dict_in_generate:
            return sequences
        return GenerateDecoderOnlyOutput(sequences, tuple(run.scores) if run.scores is not None else None)

    # -- beam search -------------------------------------------------------------------------------------

    def _beam_search(self, run: _Run) -> Any:
        """transformers' ``_beam_search`` (with ``do_sample``: beam sampling) over the KV cache."""
        config = run.config
        beams = BeamSearch(
            run.ids[:, : run.cur_len],
            config.num_beams,
            run.max_length,
            float(config.length_penalty),
            config.early_stopping,
            run.eos,
            run.pad,
        )
        logits = self._next_token_logits(run, run.ids[:, : run.cur_len])
        while True:
            log_probs = run.processors(beams.flat_running_sequences(), log_softmax(logits))
            if run.scores is not None:
                run.scores.append(log_probs)
            running = beams.step(log_probs, run.stopping, run.rng)
            run.ids[:, : beams.cur_len] = beams.flat_running_sequences()
            run.cur_len = beams.cur_len
            if run.cache is not None:
                run.cache.reorder(beams.cache_index())
            if not running:
                break
            logits = self._next_token_logits(run, beams.last_tokens())
        sequences, sequence_scores, beam_indices = beams.finalize(config.num_return_sequences)
        if not config.return_dict_in_generate:
            return _as_tensor(sequences)
        return GenerateBeamDecoderOnlyOutput(
            _as_tensor(sequences),
            sequence_scores if config.output_scores else None,
            tuple(run.scores) if run.scores is not None else None,
            beam_indices,
        )


class _DeltaCollector(TextStreamer):
    """A streamer that keeps its deltas for :meth:`GenerationMixin.stream` to hand out."""

    def __init__(self, tokenizer: TokenDecoder, skip_prompt: bool) -> None:
        super().__init__(tokenizer, skip_prompt=skip_prompt)
        self.pending: list[str] = []

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text:
            self.pending.append(text)

    def drain(self) -> Iterator[str]:
        pending, self.pending = self.pending, []
        yield from pending


def _warpers(config: GenerationConfig, min_tokens_to_keep: int) -> list[Any]:
    """transformers' sampling warpers for these options, in its order: temperature, top-k, top-p."""
    warpers: list[Any] = []
    if config.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(float(config.temperature)))
    if config.top_k is not None and config.top_k != 0:
        warpers.append(TopKLogitsWarper(config.top_k, min_tokens_to_keep=min_tokens_to_keep))
    if config.top_p < 1.0:
        warpers.append(TopPLogitsWarper(config.top_p, min_tokens_to_keep=min_tokens_to_keep))
    return warpers


def _as_ids(input_ids: Any, bos_token_id: int | None) -> np.ndarray:
    """Token ids (list, NumPy, Tensor or Variable; ``[seq]`` or ``[batch, seq]``) as int64 ``[batch, seq]``."""
    if input_ids is None:
        if bos_token_id is None:
            raise LLMError("generate: no input_ids and no bos_token_id to start from")
        return np.array([[bos_token_id]], dtype=np.int64)
    values = tensor_of(input_ids)
    array = np.asarray(values.numpy() if hasattr(values, "numpy") else values)
    if array.dtype == object or not np.issubdtype(array.dtype, np.integer):
        raise DTypeError(f"generate: input_ids must be integers, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] == 0 or array.shape[0] == 0:
        raise ShapeError(f"generate: input_ids must be [batch, seq] with seq >= 1, got shape {array.shape}")
    return array.astype(np.int64)


def _attention_mask(ids: np.ndarray, attention_mask: Any, pad: int | None, eos: list[int]) -> np.ndarray:
    """The given mask, or transformers' inference: ``ids != pad`` when the pad id occurs and is not an eos id."""
    if attention_mask is not None:
        values = tensor_of(attention_mask)
        mask = np.asarray(values.numpy() if hasattr(values, "numpy") else values)
        if mask.ndim == 1:
            mask = mask[None, :]
        if mask.shape != ids.shape:
            raise ShapeError(f"generate: attention_mask {mask.shape} does not match input_ids {ids.shape}")
        mask = mask.astype(np.int64)
        if not np.isin(mask, (0, 1)).all():
            raise LLMError("generate: attention_mask must hold only 0 (padding) and 1 (token)")
        if not mask[:, -1].all():
            raise LLMError(
                "generate: right padding (attention_mask ends in 0) is not supported for a decoder; pad on the left"
            )
        if not mask.any(axis=1).all():
            raise LLMError("generate: a row of attention_mask is all padding")
        return mask
    if pad is not None and pad not in eos and (ids == pad).any():
        return (ids != pad).astype(np.int64)
    return np.ones_like(ids)


def _as_tensor(ids: np.ndarray) -> Any:
    return axon_tensor.tensor(np.ascontiguousarray(ids, dtype=np.int64))

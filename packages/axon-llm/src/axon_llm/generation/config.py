"""``GenerationConfig``: how ``generate`` picks tokens and when it stops, with transformers' field names.

The defaults are transformers' global generation defaults (``GenerationConfig._get_default_generation_params``
of transformers 5.x): greedy, one beam, ``top_k=50`` and ``top_p=1.0`` when sampling, and 20 new tokens
when neither ``max_new_tokens`` nor ``max_length`` is given.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
from dataclasses import dataclass
from typing import Any

from ..errors import LLMError, ModelLoadError

__all__ = ["GenerationConfig"]

DEFAULT_MAX_NEW_TOKENS = 20
GENERATION_CONFIG_NAME = "generation_config.json"
# Fields for which None means "off" rather than "the default".
_NULLABLE = frozenset(
    {"max_new_tokens", "min_new_tokens", "max_length", "top_k", "eos_token_id", "pad_token_id", "bos_token_id"}
    | {"stop_strings", "seed"}
)


@dataclass
class GenerationConfig:
    """Parameters of :meth:`GenerationMixin.generate` (names and meaning as ``transformers.GenerationConfig``).

    Lengths are in tokens. ``max_length``/``min_length`` count the prompt, ``max_new_tokens``/``min_new_tokens``
    do not; ``max_new_tokens`` wins when both are set. ``eos_token_id`` is one id or a list of ids (any of
    them ends a row). ``early_stopping`` is ``True``, ``False`` or ``"never"`` (beam search only).
    ``seed`` seeds the NumPy ``Generator`` that sampling draws from (``None``: fresh entropy).
    """

    max_new_tokens: int | None = None
    min_new_tokens: int | None = None
    max_length: int | None = None
    min_length: int = 0
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int | None = 50
    top_p: float = 1.0
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: bool | str = False
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    stop_strings: str | list[str] | None = None
    seed: int | None = None
    num_return_sequences: int = 1
    output_scores: bool = False
    return_dict_in_generate: bool = False
    use_cache: bool = True

    def __post_init__(self) -> None:
        self.validate()

    @property
    def eos_token_ids(self) -> list[int]:
        """``eos_token_id`` as a list (empty when unset)."""
        if self.eos_token_id is None:
            return []
        if isinstance(self.eos_token_id, numbers.Integral):
            return [int(self.eos_token_id)]
        return [int(i) for i in self.eos_token_id]

    def validate(self) -> None:
        """Raise :class:`LLMError` naming the first field whose value cannot work."""
        _check_int("max_new_tokens", self.max_new_tokens, minimum=1, optional=True)
        _check_int("min_new_tokens", self.min_new_tokens, minimum=0, optional=True)
        _check_int("max_length", self.max_length, minimum=1, optional=True)
        _check_int("min_length", self.min_length, minimum=0)
        _check_int("num_beams", self.num_beams, minimum=1)
        _check_int("num_return_sequences", self.num_return_sequences, minimum=1)
        _check_int("no_repeat_ngram_size", self.no_repeat_ngram_size, minimum=0)
        _check_int("top_k", self.top_k, minimum=0, optional=True)
        _check_int("seed", self.seed, minimum=0, optional=True)
        for name in ("pad_token_id", "bos_token_id"):
            _check_int(name, getattr(self, name), minimum=0, optional=True)
        for name in ("do_sample", "output_scores", "return_dict_in_generate", "use_cache"):
            if not isinstance(getattr(self, name), bool):
                raise LLMError(f"GenerationConfig.{name} must be a bool, got {getattr(self, name)!r}")
        if isinstance(self.eos_token_id, (list, tuple)):
            if not self.eos_token_id:
                raise LLMError("GenerationConfig.eos_token_id: an empty list; use None for no end-of-sequence token")
            for value in self.eos_token_id:
                _check_int("eos_token_id", value, minimum=0)
        else:
            _check_int("eos_token_id", self.eos_token_id, minimum=0, optional=True)
        if not _is_number(self.temperature) or not self.temperature > 0:
            hint = " (for greedy decoding set do_sample=False)" if self.temperature == 0 else ""
            raise LLMError(f"GenerationConfig.temperature must be a number > 0, got {self.temperature!r}{hint}")
        if not _is_number(self.top_p) or not 0.0 <= self.top_p <= 1.0:
            raise LLMError(f"GenerationConfig.top_p must be in [0, 1], got {self.top_p!r}")
        if not _is_number(self.repetition_penalty) or not self.repetition_penalty > 0:
            raise LLMError(f"GenerationConfig.repetition_penalty must be a number > 0, got {self.repetition_penalty!r}")
        if not _is_number(self.length_penalty):
            raise LLMError(f"GenerationConfig.length_penalty must be a number, got {self.length_penalty!r}")
        if self.early_stopping not in (True, False, "never"):
            raise LLMError(
                f"GenerationConfig.early_stopping must be True, False or 'never', got {self.early_stopping!r}"
            )
        if self.stop_strings is not None:
            strings = [self.stop_strings] if isinstance(self.stop_strings, str) else self.stop_strings
            if not strings or not all(isinstance(s, str) and s for s in strings):
                raise LLMError(
                    "GenerationConfig.stop_strings must be a non-empty string or a list of them, got "
                    f"{self.stop_strings!r}"
                )
        if self.num_return_sequences > 1 and self.num_beams == 1 and not self.do_sample:
            raise LLMError(
                f"GenerationConfig: greedy search returns one sequence per prompt, not num_return_sequences="
                f"{self.num_return_sequences}; sample (do_sample=True) or use num_beams >= num_return_sequences"
            )
        if self.num_beams > 1 and self.num_return_sequences > self.num_beams:
            raise LLMError(
                f"GenerationConfig: num_return_sequences ({self.num_return_sequences}) cannot exceed num_beams "
                f"({self.num_beams})"
            )

    @property
    def stop_string_list(self) -> list[str]:
        """``stop_strings`` as a list (empty when unset)."""
        if self.stop_strings is None:
            return []
        return [self.stop_strings] if isinstance(self.stop_strings, str) else list(self.stop_strings)

    def update(self, **kwargs: Any) -> GenerationConfig:
        """A copy with ``kwargs`` applied; unknown names are an error.

        As in transformers, an explicit ``None`` unsets a field: ``eos_token_id=None`` turns end-of-sequence
        stopping off, ``top_k=None`` top-k filtering; for a field that cannot be None (``temperature``,
        ``num_beams``, ...) it restores the default, which applies nothing.
        """
        fields = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(kwargs) - set(fields))
        if unknown:
            raise LLMError(f"generate: unknown generation arguments {unknown}; known: {sorted(fields)}")
        changes = {
            name: fields[name].default if value is None and name not in _NULLABLE else value
            for name, value in kwargs.items()
        }
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (``generation_config.json``'s shape)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationConfig:
        """Build from a dict such as HF's ``generation_config.json``; keys this class lacks are ignored
        (``transformers_version``, ``_from_model_config``, options of decoding methods not built here)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known and v is not None})

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str]) -> GenerationConfig:
        """Read ``generation_config.json`` from a model folder (or the file itself), as transformers'."""
        path = os.fspath(path)
        file = os.path.join(path, GENERATION_CONFIG_NAME) if os.path.isdir(path) else path
        if not os.path.isfile(file):
            raise ModelLoadError("GenerationConfig.from_pretrained: no generation config", path=file)
        try:
            with open(file, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"GenerationConfig.from_pretrained: unreadable JSON ({error})", path=file) from error
        if not isinstance(data, dict):
            raise ModelLoadError("GenerationConfig.from_pretrained: the JSON is not an object", path=file)
        return cls.from_dict(data)

    def resolved_max_length(self, prompt_length: int, max_position_embeddings: int | None = None) -> int:
        """The total length (prompt + new tokens) generation stops at, as transformers computes it."""
        if self.max_new_tokens is not None:
            return prompt_length + self.max_new_tokens
        if self.max_length is not None:
            return self.max_length
        total = prompt_length + DEFAULT_MAX_NEW_TOKENS
        return min(total, max_position_embeddings) if max_position_embeddings else total

    def resolved_min_length(self, prompt_length: int) -> int:
        """The total length before which end-of-sequence tokens are suppressed."""
        if self.min_new_tokens is not None:
            return prompt_length + self.min_new_tokens
        return self.min_length


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_int(name: str, value: Any, minimum: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise LLMError(f"GenerationConfig.{name} must be an int >= {minimum}, got {value!r}")

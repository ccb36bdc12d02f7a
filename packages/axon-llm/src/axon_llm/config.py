"""``LLMConfig``: a model's hyper-parameters under the field names of HF's ``config.json``.

Each architecture subclasses it with its own fields and defaults (those of the matching
``transformers`` config class), so ``from_dict(json.load(...))`` reads an HF folder's config and
``to_dict()`` writes one ``transformers`` reads back. Keys a class does not know are kept in
``extra`` and written back unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, ClassVar

from .errors import LLMError, ModelLoadError

__all__ = ["LLMConfig", "rope_parameters_of"]


@dataclasses.dataclass
class LLMConfig:
    """The fields every decoder here shares; subclasses add theirs. ``model_type`` names the family."""

    model_type: ClassVar[str] = ""
    architectures: ClassVar[tuple[str, ...]] = ()

    vocab_size: int = 32000
    hidden_size: int = 4096
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02
    tie_word_embeddings: bool = False
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    pad_token_id: int | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    # transformers 4's RoPE keywords, accepted as HF's configs accept them (read by rope_parameters_of)
    rope_theta: dataclasses.InitVar[float | None] = None
    rope_scaling: dataclasses.InitVar[dict[str, Any] | None] = None

    def __post_init__(self, rope_theta: float | None = None, rope_scaling: dict[str, Any] | None = None) -> None:
        if rope_theta is not None:
            self.extra["rope_theta"] = rope_theta
        if rope_scaling is not None:
            self.extra["rope_scaling"] = rope_scaling
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise LLMError(f"{type(self).__name__}: {name} must be a positive int, got {value!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "LLMConfig":
        """A config from ``config.json``'s mapping; unknown keys go to ``extra``."""
        values = dict(values)
        model_type = values.pop("model_type", cls.model_type)
        if cls.model_type and model_type != cls.model_type:
            raise LLMError(f"{cls.__name__}: config is for model_type {model_type!r}, not {cls.model_type!r}")
        values.pop("architectures", None)
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}  # InitVars are not fields: to extra
        kwargs = {k: v for k, v in values.items() if k in known}
        extra = {k: v for k, v in values.items() if k not in known}
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike[str]) -> "LLMConfig":
        try:
            with open(path, encoding="utf-8") as handle:
                values = json.load(handle)
        except (OSError, json.JSONDecodeError) as error:
            raise ModelLoadError(f"cannot read the model config: {error}", path=path) from error
        if not isinstance(values, dict):
            raise ModelLoadError("config.json must hold a JSON object", path=path)
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        """``config.json``'s mapping, with ``model_type`` and ``architectures`` as HF writes them."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        values = {**self.extra, **values, "model_type": self.model_type}
        if self.architectures:
            values["architectures"] = list(self.architectures)
        return values

    def replace(self, **changes: Any) -> "LLMConfig":
        return dataclasses.replace(self, **changes)


def rope_parameters_of(config: LLMConfig) -> dict[str, Any]:
    """The RoPE settings as transformers 5 names them (``rope_parameters``: ``rope_type``,
    ``rope_theta`` and the scaling fields), also from the older ``rope_theta`` + ``rope_scaling``."""
    params = getattr(config, "rope_parameters", None) or {}
    params = dict(params)
    legacy_scaling = getattr(config, "rope_scaling", None) or config.extra.get("rope_scaling")
    if legacy_scaling:
        params = {**legacy_scaling, **params}
    if "type" in params and "rope_type" not in params:
        params["rope_type"] = params.pop("type")
    params.setdefault("rope_type", "default")
    if "rope_theta" not in params:
        params["rope_theta"] = float(getattr(config, "rope_theta", None) or config.extra.get("rope_theta", 10000.0))
    return params

"""HF tokenizer folders: ``tokenizer.json`` through axon-text, special tokens and chat templates.

:class:`PretrainedTokenizer` loads what ``transformers``' ``PreTrainedTokenizerFast.from_pretrained``
reads from a folder and behaves the same way:

- ``tokenizer.json`` is the engine (an :class:`axon_text.Tokenizer`); its post-processor decides
  BOS/EOS (``add_bos_token`` / ``add_eos_token`` in ``tokenizer_config.json`` are ignored when a
  ``tokenizer.json`` exists, as transformers does); padding and truncation stored in the file are
  switched off and applied per call (``padding=``, ``truncation=``, ``max_length=``).
- ``tokenizer_config.json``: the named special tokens (``bos_token`` ... ``mask_token``, strings or
  AddedToken dicts), ``extra_special_tokens`` / ``additional_special_tokens``, ``added_tokens_decoder``
  (tokens the engine lacks are added), ``model_max_length``, ``padding_side``, ``truncation_side``,
  ``clean_up_tokenization_spaces``, ``chat_template``; a legacy ``special_tokens_map.json`` is merged
  when the config has no ``added_tokens_decoder``. Named special tokens that are not added tokens of
  the engine are added as special tokens (so they are matched whole).
- ``chat_template.jinja`` (and ``additional_chat_templates/*.jinja``) override the config's template.
- :meth:`~PretrainedTokenizer.apply_chat_template` renders in Jinja's immutable sandbox
  (:func:`axon_quant.apply_chat_template`, transformers' environment) with the same variables as
  transformers: ``messages``, ``tools``, ``documents``, ``add_generation_prompt``, every named special
  token, and the caller's keyword arguments.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tokenizers
from tokenizers import AddedToken, processors

from axon_core import atomic_writer
from axon_quant import apply_chat_template as render_chat_template
from axon_quant.chat import ChatTemplateError
from axon_tensor import Tensor, from_numpy
from axon_text import Tokenizer, TokenizerError

from .errors import LLMError, ModelLoadError

__all__ = ["SPECIAL_TOKENS_ATTRIBUTES", "ChatTemplateError", "PretrainedTokenizer", "load_tokenizer"]

#: the named special tokens, as transformers' ``SPECIAL_TOKENS_ATTRIBUTES``.
SPECIAL_TOKENS_ATTRIBUTES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_AXON_TEXT_ROLES = {"bos_token": "bos", "eos_token": "eos", "unk_token": "unk", "sep_token": "sep"}
_AXON_TEXT_ROLES |= {"pad_token": "pad", "cls_token": "cls", "mask_token": "mask"}
_ADDED_TOKEN_FIELDS = ("content", "single_word", "lstrip", "rstrip", "normalized", "special")
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")  # transformers' aliases of a message's reasoning
_CONTINUE_TAG = "CONTINUE_FINAL_MESSAGE_TAG "
_VERY_LARGE_INTEGER = int(1e30)  # transformers' model_max_length when the config has none


def _added_token(value: Any, *, special: bool | None = None) -> AddedToken:
    """An AddedToken from a str or a serialized dict (``{"content": ..., "lstrip": ...}``)."""
    if isinstance(value, AddedToken):
        return value
    if isinstance(value, str):
        return AddedToken(value, special=True if special is None else special)
    if isinstance(value, Mapping) and isinstance(value.get("content"), str):
        fields = {k: value[k] for k in _ADDED_TOKEN_FIELDS if k in value and k != "content"}
        if special is not None:
            fields["special"] = special
        return AddedToken(value["content"], **fields)
    raise LLMError(f"a special token must be a str or an AddedToken dict with 'content', got {value!r}")


def _token_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(_added_token(value).content)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read tokenizer file: {exc}", path=path) from None


def _plain(value: Any, where: str) -> Any:
    """A deep copy of ``value`` made of JSON types only (what a chat template may see)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, bool):  # subclasses (enums, numpy scalars) are cut back to the base type
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, np.generic):
        return _plain(value.item(), where)
    if isinstance(value, Mapping):
        return {_plain(k, where): _plain(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value), where)
    raise ChatTemplateError(f"{where}: a chat template takes JSON-like data, got a {type(value).__name__}")


class PretrainedTokenizer:
    """Text to ids and back with a model's special tokens and chat template.

    ``tokenizer`` is the axon-text engine; the special tokens are strings (None: the model has
    none); ``chat_template`` a Jinja string or a dict of named templates (``"default"`` first).
    Build one with :meth:`from_pretrained` (a folder) or directly.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        bos_token: str | None = None,
        eos_token: str | None = None,
        unk_token: str | None = None,
        sep_token: str | None = None,
        pad_token: str | None = None,
        cls_token: str | None = None,
        mask_token: str | None = None,
        extra_special_tokens: Sequence[str] = (),
        chat_template: str | Mapping[str, str] | None = None,
        model_max_length: int | None = None,
        padding_side: str = "right",
        truncation_side: str = "right",
        clean_up_tokenization_spaces: bool = False,
        model_input_names: Sequence[str] = ("input_ids", "attention_mask"),
    ) -> None:
        if not isinstance(tokenizer, Tokenizer):
            raise LLMError(f"PretrainedTokenizer wraps an axon_text.Tokenizer, got {type(tokenizer).__name__}")
        for name, side in (("padding_side", padding_side), ("truncation_side", truncation_side)):
            if side not in ("left", "right"):
                raise LLMError(f"{name} must be 'left' or 'right', got {side!r}")
        self.tokenizer = tokenizer
        named = dict(
            bos_token=bos_token,
            eos_token=eos_token,
            unk_token=unk_token,
            sep_token=sep_token,
            pad_token=pad_token,
            cls_token=cls_token,
            mask_token=mask_token,
        )
        vocab = tokenizer.get_vocab()
        for name, token in [*named.items(), *(("extra_special_tokens", t) for t in extra_special_tokens)]:
            if token is not None and token not in vocab:
                raise LLMError(f"{name} {token!r} is not in the tokenizer's vocabulary")
        self._special = named
        self.extra_special_tokens = list(extra_special_tokens)
        self.chat_template = dict(chat_template) if isinstance(chat_template, Mapping) else chat_template
        self.model_max_length = _VERY_LARGE_INTEGER if model_max_length is None else int(model_max_length)
        self.padding_side, self.truncation_side = padding_side, truncation_side
        self.clean_up_tokenization_spaces = bool(clean_up_tokenization_spaces)
        self.model_input_names = list(model_input_names)
        tokenizer.no_padding()
        tokenizer.no_truncation()

    # -- loading --------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str]) -> PretrainedTokenizer:
        """Load a HF tokenizer folder (``tokenizer.json`` required; ``tokenizer_config.json``,
        ``special_tokens_map.json``, ``chat_template.jinja``, ``additional_chat_templates/`` optional).
        ModelLoadError naming the file when one is missing or unreadable."""
        folder = Path(path)
        if folder.is_file() and folder.name == "tokenizer.json":
            folder = folder.parent
        engine_file = folder / "tokenizer.json"
        if not engine_file.is_file():
            raise ModelLoadError(
                "no tokenizer.json (only fast tokenizers are read; convert a sentencepiece/vocab-only tokenizer "
                "with transformers' save_pretrained first)",
                path=folder,
            )
        try:
            # axon-text checks the file before the engine sees it (bounded lengths, screened regexes)
            engine = Tokenizer.from_file(engine_file).engine
        except TokenizerError as exc:
            raise ModelLoadError(f"cannot load tokenizer.json: {exc}", path=engine_file) from exc
        config_file = folder / "tokenizer_config.json"
        config = _read_json(config_file) if config_file.is_file() else {}
        if not isinstance(config, dict):
            raise ModelLoadError("tokenizer_config.json must hold a JSON object", path=config_file)
        config.pop("add_bos_token", None)  # transformers ignores both when tokenizer.json exists
        config.pop("add_eos_token", None)
        if "additional_special_tokens" in config and "extra_special_tokens" not in config:
            config["extra_special_tokens"] = config.pop("additional_special_tokens")
        map_file = folder / "special_tokens_map.json"
        if "added_tokens_decoder" not in config and map_file.is_file():
            legacy = _read_json(map_file)
            if isinstance(legacy, dict):
                for key, value in legacy.items():
                    if key in ("additional_special_tokens", "extra_special_tokens") and isinstance(value, list):
                        extra = list(config.get("extra_special_tokens") or [])
                        extra += [v for v in value if _token_text(v) not in {_token_text(e) for e in extra}]
                        config["extra_special_tokens"] = extra
                    else:
                        config[key] = value
        templates = cls._read_templates(folder, config.get("chat_template"))
        named = {key: config.get(key) for key in SPECIAL_TOKENS_ATTRIBUTES}
        extra = config.get("extra_special_tokens") or []
        if not isinstance(extra, list):
            raise ModelLoadError(
                "extra_special_tokens as a dict (model-specific named tokens) is not supported", path=config_file
            )
        cls._add_tokens(engine, config.get("added_tokens_decoder") or {}, named, extra, config_file)
        if engine.post_processor is None:  # transformers then writes an empty template ($A / $A $B)
            engine.post_processor = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1", special_tokens=[])
        texts = {key: _token_text(value) for key, value in named.items()}
        roles = {_AXON_TEXT_ROLES[key]: token for key, token in texts.items() if token is not None}
        return cls(
            Tokenizer(engine, special_tokens=roles),
            **texts,
            extra_special_tokens=[_token_text(t) for t in extra],
            chat_template=templates,
            model_max_length=config.get("model_max_length", config.get("max_len")),
            padding_side=config.get("padding_side", "right"),
            truncation_side=config.get("truncation_side", "right"),
            clean_up_tokenization_spaces=bool(config.get("clean_up_tokenization_spaces", False)),
            model_input_names=config.get("model_input_names", ("input_ids", "attention_mask")),
        )

    @staticmethod
    def _read_templates(folder: Path, configured: Any) -> str | dict[str, str] | None:
        templates: dict[str, str] = {}
        if isinstance(configured, str):
            templates["default"] = configured
        elif isinstance(configured, list):  # the older [{"name": ..., "template": ...}] form
            templates = {item["name"]: item["template"] for item in configured}
        elif isinstance(configured, dict):
            templates = dict(configured)
        files: dict[str, str] = {}
        if (folder / "chat_template.jinja").is_file():
            files["default"] = (folder / "chat_template.jinja").read_text(encoding="utf-8")
        extra_folder = folder / "additional_chat_templates"
        if extra_folder.is_dir():
            for file in sorted(extra_folder.glob("*.jinja")):
                files[file.name.removesuffix(".jinja")] = file.read_text(encoding="utf-8")
        if files:  # template files take priority over the config's entries
            templates = files
        if not templates:
            return None
        return templates["default"] if list(templates) == ["default"] else templates

    @staticmethod
    def _add_tokens(
        engine: tokenizers.Tokenizer, decoder: Mapping[str, Any], named: dict[str, Any], extra: list, where: Path
    ) -> None:
        """Add what transformers adds at load: ``added_tokens_decoder`` entries the engine lacks, then
        named and extra special tokens that are not added tokens yet (as special tokens)."""
        try:
            wanted = [_added_token(v) for _, v in sorted(decoder.items(), key=lambda kv: int(kv[0]))]
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"added_tokens_decoder is malformed: {exc}", path=where) from None
        # transformers re-adds every added_tokens_decoder entry (its "already there" test compares a
        # token's repr with the ids'), which keeps ids and takes the config's flags
        to_add = wanted
        contents = {t.content for t in engine.get_added_tokens_decoder().values()} | {t.content for t in to_add}
        named_texts = {_token_text(v) for v in named.values() if v is not None}
        for value in [*(v for v in named.values() if v is not None), *extra]:
            token = _added_token(value)
            if token.content not in contents:
                if token.content in named_texts:
                    token.special = True
                to_add.append(token)
                contents.add(token.content)
        if to_add:
            engine.add_tokens(to_add)

    # -- special tokens -------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        special = self.__dict__.get("_special", {})
        if name in special:
            return special[name]
        if name.endswith("_token_id") and name[: -len("_id")] in special:
            token = special[name[: -len("_id")]]
            return None if token is None else self.tokenizer.token_to_id(token)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def special_tokens_map(self) -> dict[str, str]:
        """Named special tokens that are set: ``{"bos_token": "<s>", ...}`` (transformers' property)."""
        return {key: value for key, value in self._special.items() if value is not None}

    @property
    def all_special_tokens(self) -> list[str]:
        seen: list[str] = []
        for token in [*self.special_tokens_map.values(), *self.extra_special_tokens]:
            if token not in seen:
                seen.append(token)
        return seen

    @property
    def all_special_ids(self) -> list[int]:
        return [self.tokenizer.token_to_id(t) for t in self.all_special_tokens]

    @property
    def vocab_size(self) -> int:
        """The base vocabulary's size (without added tokens), as transformers' ``vocab_size``."""
        return self.tokenizer.engine.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        return self.tokenizer.vocab_size

    def get_vocab(self) -> dict[str, int]:
        return self.tokenizer.get_vocab()

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | None | list[int | None]:
        if isinstance(tokens, str):
            return self.tokenizer.token_to_id(tokens)
        return [self.tokenizer.token_to_id(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> str | None | list[str | None]:
        if isinstance(ids, (int, np.integer)):
            return self.tokenizer.id_to_token(int(ids))
        return [self.tokenizer.id_to_token(int(i)) for i in ids]

    # -- encoding -------------------------------------------------------------------------------
    def tokenize(self, text: str, add_special_tokens: bool = False) -> list[str]:
        """The token strings of ``text``."""
        return self.tokenizer.tokenize(text, add_special_tokens=add_special_tokens)

    def encode(self, text: str, text_pair: str | None = None, add_special_tokens: bool = True) -> list[int]:
        """Ids of ``text`` (and ``text_pair``) with the post-processor's special tokens, no padding."""
        return self.tokenizer.encode(text, text_pair, add_special_tokens=add_special_tokens)

    def __call__(
        self,
        text: str | Sequence[str],
        text_pair: str | Sequence[str] | None = None,
        *,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | None = None,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        return_tensors: str | None = None,
    ) -> dict[str, Any]:
        """``{"input_ids", "attention_mask"}`` for one text (lists of ints) or a batch (lists of lists).

        ``padding``: False, True / ``"longest"`` (to the longest of the batch) or ``"max_length"``;
        ``truncation`` (default: only when ``max_length`` is given) cuts to ``max_length`` (default
        ``model_max_length``) on ``truncation_side``. ``return_tensors``: None, ``"np"`` (int64 arrays)
        or ``"axon"`` (int64 axon Tensors; the batch must be rectangular).
        """
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        if text_pair is not None:
            pairs = [text_pair] if isinstance(text_pair, str) else list(text_pair)
            if len(pairs) != len(texts):
                raise LLMError(f"{len(texts)} texts and {len(pairs)} text pairs")
        if padding not in (False, True, "longest", "max_length", "do_not_pad"):
            raise LLMError(f"padding must be False, True, 'longest' or 'max_length', got {padding!r}")
        if return_tensors not in (None, "np", "axon"):
            raise LLMError(f"return_tensors must be None, 'np' or 'axon', got {return_tensors!r}")
        if truncation is None:
            truncation = max_length is not None
        limit = self.model_max_length if max_length is None else int(max_length)
        if limit >= _VERY_LARGE_INTEGER:  # no limit known: transformers neither truncates nor pads to one
            truncation = False
            padding = "longest" if padding == "max_length" else padding
        engine = self.tokenizer.engine
        try:
            if truncation:
                engine.enable_truncation(limit, direction=self.truncation_side)
            if padding in (True, "longest", "max_length"):
                if self.pad_token is None:
                    raise LLMError("padding needs a pad_token; this tokenizer has none")
                engine.enable_padding(
                    direction=self.padding_side,
                    pad_id=self.pad_token_id,
                    pad_token=self.pad_token,
                    length=limit if padding == "max_length" else None,
                    pad_to_multiple_of=pad_to_multiple_of,
                )
            inputs = list(zip(texts, pairs)) if text_pair is not None else texts
            encodings = engine.encode_batch(inputs, add_special_tokens=add_special_tokens)
        finally:
            engine.no_truncation()
            engine.no_padding()
        out: dict[str, Any] = {"input_ids": [e.ids for e in encodings]}
        if "token_type_ids" in self.model_input_names:
            out["token_type_ids"] = [e.type_ids for e in encodings]
        out["attention_mask"] = [e.attention_mask for e in encodings]
        if return_tensors is not None:
            lengths = {len(row) for row in out["input_ids"]}
            if len(lengths) > 1:
                raise LLMError(f"return_tensors needs equal lengths, got {sorted(lengths)}; pass padding=True")
            arrays = {k: np.asarray(v, dtype=np.int64).reshape(len(texts), -1) for k, v in out.items()}
            return arrays if return_tensors == "np" else {k: from_numpy(v) for k, v in arrays.items()}
        return {k: v[0] for k, v in out.items()} if single else out

    # -- decoding -------------------------------------------------------------------------------
    def decode(
        self,
        ids: Sequence[int] | np.ndarray | Tensor,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
    ) -> str:
        """The text of ``ids``. ``clean_up_tokenization_spaces`` (default: the config's) removes
        spaces before punctuation as transformers does, except for BPE models (which it would corrupt)."""
        if isinstance(ids, np.ndarray):
            ids = ids.tolist()
        text = self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
        clean = (
            self.clean_up_tokenization_spaces if clean_up_tokenization_spaces is None else clean_up_tokenization_spaces
        )
        if clean and type(self.tokenizer.engine.model).__name__ != "BPE":
            for before, after in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't")):
                text = text.replace(before, after)
            for suffix in ("'m", "'s", "'ve", "'re"):
                text = text.replace(" " + suffix, suffix)
        return text

    def batch_decode(self, rows: Sequence[Sequence[int]] | np.ndarray | Tensor, **kwargs: Any) -> list[str]:
        if isinstance(rows, Tensor):
            rows = rows.numpy()
        return [self.decode(row, **kwargs) for row in rows]

    # -- chat -----------------------------------------------------------------------------------
    def get_chat_template(self, chat_template: str | None = None, tools: list | None = None) -> str:
        """The template to render: ``chat_template`` (a template or the name of one of ours), else ours
        (``"tool_use"`` when tools are given and it exists, else ``"default"``). ChatTemplateError if none."""
        if isinstance(self.chat_template, dict):
            if chat_template is not None and chat_template in self.chat_template:
                return self.chat_template[chat_template]
            if chat_template is None:
                if tools is not None and "tool_use" in self.chat_template:
                    return self.chat_template["tool_use"]
                if "default" in self.chat_template:
                    return self.chat_template["default"]
                raise ChatTemplateError(
                    "this tokenizer has several chat templates and no default; "
                    f"name one of {sorted(self.chat_template)}"
                )
        if chat_template is not None:
            return chat_template
        if self.chat_template is None:
            raise ChatTemplateError("this tokenizer has no chat template; pass chat_template=")
        return self.chat_template

    def apply_chat_template(
        self,
        conversation: Sequence[Mapping[str, Any]] | Sequence[Sequence[Mapping[str, Any]]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        documents: Sequence[Mapping[str, Any]] | None = None,
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        continue_final_message: bool | str = False,
        tokenize: bool = True,
        return_dict: bool = True,
        **kwargs: Any,
    ) -> str | list[str] | list[int] | list[list[int]] | dict[str, Any]:
        """Render ``conversation`` (``[{"role": "user", "content": "Hi"}, ...]``, or a batch of them)
        with the chat template, as transformers' ``apply_chat_template`` (v5 defaults: ``tokenize=True``,
        ``return_dict=True`` give ``{"input_ids", "attention_mask"}``; ``tokenize=False`` the string).

        Keys whose value is None are dropped from each message; ``reasoning_content`` / ``thinking`` /
        ``reasoning`` are aliased to one another; ``continue_final_message`` leaves the last message
        open (cut right after its text). ``tools`` are JSON schemas (dicts). ``kwargs`` reach the
        template as variables, over the special tokens. Ids are encoded without adding special tokens.
        """
        template = self.get_chat_template(chat_template, tools)
        if isinstance(conversation, (list, tuple)) and not conversation:
            raise ChatTemplateError("cannot apply a chat template to an empty conversation")
        batched = isinstance(conversation, (list, tuple)) and isinstance(conversation[0], (list, tuple))
        chats = list(conversation) if batched else [conversation]
        if continue_final_message and add_generation_prompt:
            raise ChatTemplateError("continue_final_message and add_generation_prompt cannot be used together")
        if tools is not None and not all(isinstance(tool, Mapping) for tool in tools):
            raise ChatTemplateError(
                "tools must be JSON schemas (dicts); turning functions into schemas is not supported"
            )
        if documents is not None and not all(isinstance(doc, Mapping) for doc in documents):
            raise ChatTemplateError("documents must be a list of dicts with 'title' and 'text' keys")
        variables = {**self.special_tokens_map, **kwargs}
        variables = _plain(variables, "kwargs")
        variables.setdefault("bos_token", "")
        variables.setdefault("eos_token", "")
        bos, eos = variables.pop("bos_token"), variables.pop("eos_token")
        rendered = []
        for chat in chats:
            messages = [{k: v for k, v in dict(m).items() if v is not None} for m in _plain(chat, "messages")]
            messages = [self._alias_reasoning(m) for m in messages]
            field = None
            if continue_final_message:
                field, final = self._tag_final_message(messages, continue_final_message, template)
            text = render_chat_template(
                template,
                messages,
                add_generation_prompt=add_generation_prompt,
                bos_token=bos,
                eos_token=eos,
                tools=_plain(tools, "tools"),
                documents=_plain(documents, "documents"),
                **variables,
            )
            if field is not None:
                text = self._cut_after_final(text, final)
            rendered.append(text)
        if not tokenize:
            return rendered if batched else rendered[0]
        encoded = self(rendered if batched else rendered[0], add_special_tokens=False)
        return encoded if return_dict else encoded["input_ids"]

    @staticmethod
    def _alias_reasoning(message: dict[str, Any]) -> dict[str, Any]:
        reasoning = next((message[k] for k in _REASONING_FIELDS if message.get(k) is not None), None)
        if reasoning is None:
            return message
        return {"thinking": reasoning, **message, "reasoning_content": reasoning}

    @staticmethod
    def _tag_final_message(messages: list[dict[str, Any]], which: bool | str, template: str) -> tuple[str, str]:
        """Mark the text the last message ends with, so the render can be cut right after it."""
        field = which if isinstance(which, str) else "content"
        if not messages or messages[-1].get(field) is None:
            raise ChatTemplateError(f"continue_final_message: the final message has no {field!r} to continue")
        fields = [field]
        if field in _REASONING_FIELDS:
            fields = [f for f in _REASONING_FIELDS if messages[-1].get(f) == messages[-1][field]]
        if not any(f in template for f in fields):
            raise ChatTemplateError(f"continue_final_message: the chat template never reads {field!r}")
        final = messages[-1][field]
        if isinstance(final, list):
            for block in reversed(final):
                if "text" in block:
                    final, block["text"] = block["text"], block["text"] + _CONTINUE_TAG
                    return field, final
            raise ChatTemplateError("continue_final_message: the final message has no text block to continue")
        for f in fields:
            messages[-1][f] = messages[-1][f] + _CONTINUE_TAG
        return field, final

    @staticmethod
    def _cut_after_final(text: str, final: str) -> str:
        tag = _CONTINUE_TAG.strip()
        if final.strip() not in text or tag not in text:
            raise ChatTemplateError(
                "continue_final_message: the chat template dropped part of the final message; cannot continue it"
            )
        at = text.rindex(tag)
        return text[:at] if text[at : at + len(_CONTINUE_TAG)] == _CONTINUE_TAG else text[:at].rstrip()

    # -- saving ---------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write ``tokenizer.json``, ``tokenizer_config.json`` (special tokens, ``added_tokens_decoder``,
        limits) and ``chat_template.jinja`` (named templates under ``additional_chat_templates/``),
        atomically, in the layout transformers writes and reads. Returns the files written."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        engine = self.tokenizer.engine
        config: dict[str, Any] = {
            "added_tokens_decoder": {
                str(i): {k: getattr(t, k) for k in _ADDED_TOKEN_FIELDS}
                for i, t in sorted(engine.get_added_tokens_decoder().items())
            },
            **self.special_tokens_map,
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            "model_max_length": self.model_max_length,
            "padding_side": self.padding_side,
            "truncation_side": self.truncation_side,
            "tokenizer_class": "PreTrainedTokenizerFast",
        }
        if self.extra_special_tokens:
            config["extra_special_tokens"] = list(self.extra_special_tokens)
        if self.model_input_names != ["input_ids", "attention_mask"]:
            config["model_input_names"] = self.model_input_names
        written = [folder / "tokenizer.json", folder / "tokenizer_config.json"]
        self.tokenizer.save(written[0])
        with atomic_writer(written[1]) as handle:
            handle.write(json.dumps(config, indent=2, ensure_ascii=False).encode("utf-8"))
        templates = self.chat_template if isinstance(self.chat_template, dict) else {"default": self.chat_template}
        for name, template in templates.items():
            if template is None:
                continue
            target = folder / "chat_template.jinja" if name == "default" else folder / "additional_chat_templates"
            if name != "default":
                target = target / f"{name}.jinja"
            with atomic_writer(target) as handle:
                handle.write(template.encode("utf-8"))
            written.append(target)
        return written

    def __repr__(self) -> str:
        return (
            f"PretrainedTokenizer(vocab_size={len(self)}, special_tokens={self.special_tokens_map}, "
            f"chat_template={'yes' if self.chat_template else 'no'})"
        )


def load_tokenizer(path: str | os.PathLike[str]) -> PretrainedTokenizer:
    """:meth:`PretrainedTokenizer.from_pretrained` on a folder holding ``tokenizer.json``."""
    return PretrainedTokenizer.from_pretrained(path)

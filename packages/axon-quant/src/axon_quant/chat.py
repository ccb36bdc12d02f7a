"""Render a GGUF file's chat template (``tokenizer.chat_template``) into a prompt string.

The template is Jinja2, run in Jinja's immutable sandbox so a model file can never reach Python
beyond plain data: no attribute walks to ``__class__``, no mutation of the messages. The
environment is Hugging Face transformers' (``render_jinja_template``): ``trim_blocks`` and
``lstrip_blocks``, loop controls, ``raise_exception``, ``strftime_now`` and a ``tojson`` filter that
keeps non-ASCII text; the ``{% generation %}`` markers some templates carry render their body.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from .errors import QuantError

__all__ = ["ChatTemplateError", "apply_chat_template"]


class ChatTemplateError(QuantError):
    """A chat template that does not parse, raises (``raise_exception``) or breaks while rendering."""


class _GenerationBlock(jinja2.ext.Extension):
    """``{% generation %}...{% endgeneration %}`` (transformers' assistant-mask markers): the body only."""

    tags: ClassVar[set[str]] = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> list[jinja2.nodes.Node]:
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _raise_exception(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


@lru_cache(maxsize=16)
def _compile(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationBlock, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    try:
        return env.from_string(template)
    except jinja2.TemplateSyntaxError as exc:
        raise ChatTemplateError(f"the chat template does not parse: line {exc.lineno}: {exc.message}") from None


def apply_chat_template(
    template: str,
    messages: list[dict[str, Any]],
    add_generation_prompt: bool = True,
    bos_token: str = "",
    eos_token: str = "",
    **extra: Any,
) -> str:
    """The prompt ``template`` makes of ``messages`` (``[{"role": "user", "content": "Hi"}, ...]``).

    ``add_generation_prompt`` asks the template to open the assistant's turn; ``bos_token`` /
    ``eos_token`` are the texts the template may write (the vocabulary's BOS/EOS tokens as text);
    ``extra`` (``tools=``, ``documents=``, ...) is passed to the template as variables.
    Raises ChatTemplateError naming what went wrong.
    """
    if not isinstance(template, str):
        raise ChatTemplateError(f"the chat template must be a str, got {type(template).__name__}")
    if not isinstance(messages, (list, tuple)):
        raise ChatTemplateError(f"messages must be a list of dicts, got {type(messages).__name__}")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise ChatTemplateError(f"message {i} must be a dict with a str 'role', got {message!r}")
    compiled = _compile(template)
    try:
        return compiled.render(
            messages=list(messages),
            add_generation_prompt=add_generation_prompt,
            bos_token=bos_token,
            eos_token=eos_token,
            **extra,
        )
    except SecurityError as exc:
        raise ChatTemplateError(f"the chat template tried an unsafe operation: {exc}") from None
    except jinja2.TemplateError as exc:
        raise ChatTemplateError(f"the chat template failed: {exc.message or type(exc).__name__}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError) as exc:
        raise ChatTemplateError(f"the chat template failed: {type(exc).__name__}: {exc}") from None

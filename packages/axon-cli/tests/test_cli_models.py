"""The installed ``axon`` entry point on model files: ``load`` (vs config.json and the safetensors
reader), ``quant`` (the GGUF read back by gguf-py, each tensor dequantized by ``gguf.quants`` and
compared with the source weights within Q8_0's rounding), ``inspect`` of a GGUF (vs
gguf.GGUFReader), ``generate --greedy`` (vs ``python -m axon_quant generate --greedy``), ``chat``
driven by stdin (vs ``python -m axon_quant generate --chat`` and the runtime on a conversation
rendered by jinja2 here), and ``gpu`` on a machine without one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import gguf
import jinja2
import numpy as np
from gguf.quants import dequantize
from safetensors.numpy import load_file

Q = gguf.GGMLQuantizationType


def _quant_cli(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "axon_quant", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180)


def convert_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py's Q/K row permutation (HF's rotate-half RoPE to GGML's pairs)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def test_load_summarises_an_hf_folder_and_a_gguf(axon, hf_llama, tiny_gguf, tmp_path):
    shown = axon("load", str(hf_llama), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    summary = json.loads(shown.stdout)
    config = json.loads((hf_llama / "config.json").read_text())
    weights = load_file(str(hf_llama / "model.safetensors"))
    assert summary["class"] == "LlamaForCausalLM" and summary["model_type"] == "llama"
    assert (summary["layers"], summary["hidden_size"], summary["vocab_size"]) == (
        config["num_hidden_layers"],
        config["hidden_size"],
        config["vocab_size"],
    )
    assert summary["parameters"] == sum(
        v.size for k, v in weights.items() if k != "lm_head.weight" or not config.get("tie_word_embeddings")
    )

    shown = axon("load", str(tiny_gguf), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    summary = json.loads(shown.stdout)
    reader = gguf.GGUFReader(str(tiny_gguf))
    assert summary["layers"] == int(reader.fields["llama.block_count"].contents())
    assert summary["hidden_size"] == int(reader.fields["llama.embedding_length"].contents())
    # The file ties the output head to token_embd (no output.weight): each element counts once.
    assert summary["parameters"] == sum(int(t.n_elements) for t in reader.tensors)

    refused = axon("load", str(hf_llama / "model.safetensors"), cwd=tmp_path)
    assert refused.returncode == 1 and "axon inspect" in refused.stderr and "Traceback" not in refused.stderr


def test_quant_q8_0_reads_back_in_gguf_py_within_the_format_error(axon, hf_llama, tmp_path):
    made = axon("quant", "--model", str(hf_llama), "--format", "q8_0", "--out", "m.gguf", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "tokenizer yes" in made.stdout
    config = json.loads((hf_llama / "config.json").read_text())
    source = load_file(str(hf_llama / "model.safetensors"))
    reader = gguf.GGUFReader(str(tmp_path / "m.gguf"))
    assert reader.fields["general.architecture"].contents() == "llama"
    assert reader.fields["tokenizer.ggml.model"].contents() == "gpt2"
    tensors = {t.name: t for t in reader.tensors}
    gguf_names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    per_layer = {
        "input_layernorm": "attn_norm",
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "post_attention_layernorm": "ffn_norm",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    }
    for i in range(config["num_hidden_layers"]):
        for hf, gg in per_layer.items():
            gguf_names[f"model.layers.{i}.{hf}.weight"] = f"blk.{i}.{gg}.weight"
    if config.get("tie_word_embeddings"):
        gguf_names.pop("lm_head.weight")
    assert sorted(tensors) == sorted(gguf_names.values())
    quantized = 0
    for hf_name, gguf_name in gguf_names.items():
        want = source[hf_name].astype(np.float32)
        if "q_proj" in hf_name:
            want = convert_permute(want, config["num_attention_heads"])
        elif "k_proj" in hf_name:
            want = convert_permute(want, config["num_key_value_heads"])
        t = tensors[gguf_name]
        got = dequantize(np.asarray(t.data), t.tensor_type).reshape(want.shape)
        if t.tensor_type == Q.F32:  # 1-d tensors, and rows that are not whole 32-wide blocks
            assert want.ndim == 1 or want.shape[1] % 32, gguf_name
            np.testing.assert_array_equal(got, want, err_msg=gguf_name)
            continue
        assert t.tensor_type == Q.Q8_0, gguf_name
        quantized += 1
        # Q8_0: per block of 32, d = max|x| / 127 stored as f16 (d16), x ~ d16 * round(x / d): an error of
        # at most half a step, plus up to 127 |d - d16| from the scale's own rounding.
        blocks = want.reshape(-1, 32).astype(np.float64)
        d = np.abs(blocks).max(axis=1, keepdims=True) / 127
        d16 = d.astype(np.float16).astype(np.float64)
        error = np.abs(got.reshape(-1, 32) - blocks)
        assert np.all(error <= 0.5 * d16 + 127 * np.abs(d - d16) + 1e-7), gguf_name
        assert error.max() > 0, gguf_name
    assert quantized >= 7 * config["num_hidden_layers"]


def test_inspect_a_gguf_matches_gguf_py(axon, tiny_gguf, tmp_path):
    shown = axon("inspect", str(tiny_gguf), "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    reader = gguf.GGUFReader(str(tiny_gguf))
    want = {
        t.name: (t.tensor_type.name.lower(), [int(d) for d in t.shape][::-1], int(t.n_bytes)) for t in reader.tensors
    }
    assert {t["name"]: (t["type"], t["shape"], t["bytes"]) for t in info["tensors"]} == want
    assert {t["name"]: t["offset"] for t in info["tensors"]} == {t.name: int(t.data_offset) for t in reader.tensors}
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert {k: v["value"] for k, v in info["metadata"].items()} == fields
    text = axon("inspect", str(tiny_gguf), cwd=tmp_path)
    assert text.returncode == 0 and "blk.0.ffn_down.weight" in text.stdout and "llama.block_count" in text.stdout


def test_generate_greedy_prints_what_axon_quant_prints(axon, tiny_gguf, tmp_path):
    args = ("--prompt", "w3 w7 w11", "--max-tokens", "12", "--greedy")
    ours = axon("generate", "--model", str(tiny_gguf), *args, cwd=tmp_path)
    assert ours.returncode == 0, ours.stderr
    theirs = _quant_cli("generate", str(tiny_gguf), *args, cwd=tmp_path)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout and len(ours.stdout.rstrip("\n")) >= 6


def test_chat_turns_from_stdin(axon, tiny_gguf, tmp_path):
    from axon_quant import GGUFTokenizer
    from axon_quant.runtime import SamplingParams, generate, load_model

    chatted = axon(
        "chat", "--model", str(tiny_gguf), "--greedy", "--max-tokens", "8", cwd=tmp_path, stdin="w1 w2\n\nw5\n"
    )
    assert chatted.returncode == 0, chatted.stderr
    replies = chatted.stdout.split("\n")
    assert len(replies) == 3 and replies[2] == ""  # two turns (the blank line is skipped)
    first = _quant_cli(
        "generate", str(tiny_gguf), "--chat", "--greedy", "--max-tokens", "8", "--prompt", "w1 w2", cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    assert replies[0] == first.stdout.rstrip("\n")

    # The second turn sees the whole conversation: rendered here by jinja2, run on the runtime.
    chat_template = gguf.GGUFReader(str(tiny_gguf)).fields["tokenizer.chat_template"].contents()
    template = jinja2.Environment().from_string(chat_template)
    messages = [
        {"role": "user", "content": "w1 w2"},
        {"role": "assistant", "content": replies[0]},
        {"role": "user", "content": "w5"},
    ]
    text = template.render(messages=messages, add_generation_prompt=True, bos_token="<s>", eos_token="</s>")
    runtime = load_model(str(tiny_gguf))
    tokenizer = GGUFTokenizer.from_metadata(runtime.gguf.metadata)
    ids = tokenizer.encode(text, add_special=False, parse_special=True)
    assert ids[0] == tokenizer.bos_id and ids.count(tokenizer.bos_id) == 1
    result = generate(runtime, tokenizer, ids, max_tokens=8, sampling=SamplingParams(greedy=True))
    assert replies[1] == result.text


def _nvidia_smi() -> list[tuple[str, int]] | None:
    """(name, MiB of memory) of each GPU nvidia-smi lists, or None where there is no driver."""
    if shutil.which("nvidia-smi") is None:
        return None
    query = ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
    listed = subprocess.run(query, capture_output=True, text=True, timeout=60)
    if listed.returncode != 0:
        return None
    rows = [line.rsplit(",", 1) for line in listed.stdout.strip().splitlines()]
    return [(name.strip(), int(mib)) for name, mib in rows]


def test_gpu_lists_what_nvidia_smi_lists_and_cuda_sim(axon, tmp_path):
    shown = axon("gpu", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    gpus = _nvidia_smi()
    if gpus:
        assert [(d["device"], d["name"]) for d in info["cuda"]] == [(f"cuda:{i}", n) for i, (n, _) in enumerate(gpus)]
        for device, (_, mib) in zip(info["cuda"], gpus, strict=True):
            assert abs(device["memory_total_bytes"] / 2**20 - mib) <= 1
            assert 0 < device["memory_free_bytes"] <= device["memory_total_bytes"]
        assert info["simulators"][0]["available"] is True
        return
    assert info["cuda"] == [] and info["no_cuda_reason"]
    assert info["simulators"][0]["device"] == "cuda-sim" and info["simulators"][0]["available"] is True
    text = axon("gpu", cwd=tmp_path)
    assert text.returncode == 0
    assert text.stdout.startswith("no CUDA GPU on this machine: ") and "cuda-sim: available" in text.stdout

"""axon_llm.loading.gguf against gguf-py: files gguf-py's GGUFWriter makes load into the weights the
test computes, files save_gguf makes read back in gguf-py as convert_hf_to_gguf.py would lay them
out (names, Q/K permutation, types, bytes of gguf.quants), tokenizer metadata from axon-text's
byte-level BPE; and the typed errors. The permutation itself is checked against the two RoPE
layouts written out in NumPy. (llama.cpp, transformers and the runtime: tests-integration.)"""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest

from axon_llm import LlamaForCausalLM, from_pretrained
from axon_llm.errors import LLMError, ModelLoadError
from axon_llm.loading.gguf import gguf_to_hf_name, hf_to_gguf_name, load_gguf, save_gguf
from axon_quant import write_gguf
from axon_text import BPETokenizer, WordPieceTokenizer

D, FF, HEADS, KV, LAYERS, VOCAB = 64, 96, 4, 2, 2, 300
HEAD_DIM = D // HEADS


def convert_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """convert_hf_to_gguf.py's LlamaModel.permute, as written there."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def test_permutation_turns_hf_rope_into_ggml_rope():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((HEADS * HEAD_DIM, D))
    x = rng.standard_normal(D)
    theta = 3 * 10000.0 ** (-2 * np.arange(HEAD_DIM // 2) / HEAD_DIM)  # position 3
    cos, sin = np.cos(theta), np.sin(theta)

    def hf_rope(q):  # rotate_half: pairs (i, i + d/2)
        a, b = q[: HEAD_DIM // 2], q[HEAD_DIM // 2 :]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin])

    def ggml_rope(q):  # GGML_ROPE_TYPE_NORM: pairs (2i, 2i + 1)
        out = np.empty_like(q)
        out[0::2], out[1::2] = q[0::2] * cos - q[1::2] * sin, q[0::2] * sin + q[1::2] * cos
        return out

    hf = np.concatenate([hf_rope(h) for h in (w @ x).reshape(HEADS, HEAD_DIM)])
    ggml = np.concatenate([ggml_rope(h) for h in (convert_permute(w, HEADS) @ x).reshape(HEADS, HEAD_DIM)])
    np.testing.assert_allclose(convert_permute(hf[:, None], HEADS)[:, 0], ggml, rtol=1e-12, atol=1e-12)


def test_name_tables():
    pairs = {
        "token_embd.weight": "model.embed_tokens.weight",
        "output_norm.weight": "model.norm.weight",
        "output.weight": "lm_head.weight",
        "blk.7.attn_q.weight": "model.layers.7.self_attn.q_proj.weight",
        "blk.0.attn_k.bias": "model.layers.0.self_attn.k_proj.bias",
        "blk.12.attn_output.weight": "model.layers.12.self_attn.o_proj.weight",
        "blk.1.ffn_norm.weight": "model.layers.1.post_attention_layernorm.weight",
        "blk.1.attn_norm.weight": "model.layers.1.input_layernorm.weight",
        "blk.3.ffn_down.weight": "model.layers.3.mlp.down_proj.weight",
    }
    for ggml_name, hf_name in pairs.items():
        assert gguf_to_hf_name(ggml_name) == hf_name and hf_to_gguf_name(hf_name) == ggml_name
    assert gguf_to_hf_name("blk.0.ffn_gate_exps.weight") is None and gguf_to_hf_name("rope_freqs.weight") is None


def _gguf_py_file(path, tied=False, arch="llama", extra_tensors=None, drop_key=None):
    """A llama GGUF written by gguf-py (not by us), random weights in GGUF layout."""
    rng = np.random.default_rng(1)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("made-by-gguf-py")
    adders = {
        "context_length": lambda: writer.add_context_length(256),
        "embedding_length": lambda: writer.add_embedding_length(D),
        "block_count": lambda: writer.add_block_count(LAYERS),
        "feed_forward_length": lambda: writer.add_feed_forward_length(FF),
        "head_count": lambda: writer.add_head_count(HEADS),
        "head_count_kv": lambda: writer.add_head_count_kv(KV),
        "rms": lambda: writer.add_layer_norm_rms_eps(1e-5),
        "rope": lambda: writer.add_rope_freq_base(50000.0),
    }
    for name, add in adders.items():
        if name != drop_key:
            add()
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    arrays = {"token_embd.weight": rng.standard_normal((VOCAB, D)), "output_norm.weight": rng.standard_normal(D)}
    if not tied:
        arrays["output.weight"] = rng.standard_normal((VOCAB, D))
    for i in range(LAYERS):
        for name, shape in {
            "attn_norm": (D,),
            "attn_q": (HEADS * HEAD_DIM, D),
            "attn_k": (KV * HEAD_DIM, D),
            "attn_v": (KV * HEAD_DIM, D),
            "attn_output": (D, HEADS * HEAD_DIM),
            "ffn_norm": (D,),
            "ffn_gate": (FF, D),
            "ffn_up": (FF, D),
            "ffn_down": (D, FF),
        }.items():
            arrays[f"blk.{i}.{name}.weight"] = rng.standard_normal(shape)
    arrays.update(extra_tensors or {})
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    q8 = gguf.GGMLQuantizationType.Q8_0
    for name, value in arrays.items():
        if name.endswith(("attn_v.weight", "ffn_up.weight")):  # some tensors quantized, as in real files
            writer.add_tensor(name, gguf.quants.quantize(value, q8), raw_dtype=q8)
        else:
            writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    q8_values = {
        k: gguf.quants.dequantize(gguf.quants.quantize(v, q8), q8)
        for k, v in arrays.items()
        if k.endswith(("attn_v.weight", "ffn_up.weight"))
    }
    return {**arrays, **q8_values}


@pytest.mark.parametrize("tied", [False, True])
def test_load_a_file_gguf_py_wrote(tmp_path, tied):
    arrays = _gguf_py_file(tmp_path / "m.gguf", tied=tied)
    model = from_pretrained(tmp_path / "m.gguf")
    assert isinstance(model, LlamaForCausalLM)
    c = model.config
    assert (c.hidden_size, c.intermediate_size, c.num_hidden_layers) == (D, FF, LAYERS)
    assert (c.num_attention_heads, c.num_key_value_heads, c.vocab_size) == (HEADS, KV, VOCAB)
    assert c.rope_parameters["rope_theta"] == 50000.0 and c.max_position_embeddings == 256
    assert c.tie_word_embeddings == tied and (c.bos_token_id, c.eos_token_id) == (1, 2)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    for ggml_name, value in arrays.items():
        hf_name = gguf_to_hf_name(ggml_name)
        if "q_proj" in hf_name or "k_proj" in hf_name:  # the inverse of convert_permute, per head
            n = HEADS if "q_proj" in hf_name else KV
            value = value.reshape(n, HEAD_DIM // 2, 2, D).swapaxes(1, 2).reshape(value.shape)
        np.testing.assert_array_equal(state[hf_name], value, err_msg=hf_name)
    if tied:
        np.testing.assert_array_equal(state["lm_head.weight"], arrays["token_embd.weight"])


def _tiny_model() -> LlamaForCausalLM:
    return LlamaForCausalLM.from_preset("tiny", vocab_size=VOCAB)


def test_saved_file_reads_in_gguf_py_as_convert_hf_to_gguf_lays_it_out(tmp_path):
    model = _tiny_model()
    types = save_gguf(model, tmp_path / "m.gguf", "q8_0", name="tiny")
    reader = gguf.GGUFReader(str(tmp_path / "m.gguf"))
    c = model.config
    fields = {k: reader.fields[k].contents() for k in reader.fields if not k.startswith("GGUF.")}
    assert fields["general.architecture"] == "llama" and fields["general.name"] == "tiny"
    assert fields["llama.block_count"] == c.num_hidden_layers and fields["llama.embedding_length"] == c.hidden_size
    assert fields["llama.attention.head_count_kv"] == c.num_key_value_heads
    assert fields["llama.feed_forward_length"] == c.intermediate_size
    assert fields["tokenizer.ggml.model"] == "none"
    hf = {k: v.numpy().astype(np.float32) for k, v in model.state_dict().items() if k != "lm_head.weight"}
    hf["lm_head.weight"] = model.lm_head.weight.detach().numpy()
    tensors = {t.name: t for t in reader.tensors}
    assert sorted(tensors) == sorted(hf_to_gguf_name(k) for k in hf)
    for hf_name, value in hf.items():
        t = tensors[hf_to_gguf_name(hf_name)]
        if "q_proj" in hf_name:
            value = convert_permute(value, c.num_attention_heads)
        elif "k_proj" in hf_name:
            value = convert_permute(value, c.num_key_value_heads)
        assert tuple(int(d) for d in t.shape) == value.shape[::-1]
        if value.ndim == 1 or value.shape[1] % 32:  # 1-d, or rows not whole Q8_0 blocks (ffn_down: 172)
            assert t.tensor_type == gguf.GGMLQuantizationType.F32 and types[t.name] == "f32"
            np.testing.assert_array_equal(np.asarray(t.data).reshape(value.shape), value)
        else:
            assert t.tensor_type == gguf.GGMLQuantizationType.Q8_0 and types[t.name] == "q8_0"
            want = gguf.quants.quantize(value, gguf.GGMLQuantizationType.Q8_0)
            np.testing.assert_array_equal(np.asarray(t.data).reshape(want.shape), want)


def test_axon_text_byte_level_bpe_becomes_gpt2_metadata(tmp_path):
    corpus = ["hello world, the model writes text", "numbers 123 and words", "a cat sat on the mat"] * 20
    tokenizer = BPETokenizer.train(corpus, vocab_size=280, level="byte", add_bos_eos=True)
    save_gguf(_tiny_model(), tmp_path / "m.gguf", "f32", tokenizer=tokenizer)
    reader = gguf.GGUFReader(str(tmp_path / "m.gguf"))
    fields = {k: reader.fields[k].contents() for k in reader.fields if k.startswith("tokenizer.")}
    spec = json.loads(tokenizer.to_str())
    vocab = tokenizer.get_vocab()
    assert fields["tokenizer.ggml.model"] == "gpt2" and fields["tokenizer.ggml.pre"] == "gpt-2"
    assert [fields["tokenizer.ggml.tokens"][i] for i in sorted(vocab.values())] == sorted(vocab, key=vocab.get)
    assert fields["tokenizer.ggml.tokens"][len(vocab) :] == [f"[PAD{i}]" for i in range(len(vocab), VOCAB)]
    assert fields["tokenizer.ggml.merges"] == [
        m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]
    ]
    types = fields["tokenizer.ggml.token_type"]
    for special in ("<pad>", "<bos>", "<eos>", "<unk>"):
        assert types[vocab[special]] == gguf.TokenType.CONTROL
    assert types[vocab["Ġthe"]] == gguf.TokenType.NORMAL and types[-1] == gguf.TokenType.UNUSED
    assert fields["tokenizer.ggml.bos_token_id"] == vocab["<bos>"]
    assert fields["tokenizer.ggml.eos_token_id"] == vocab["<eos>"]
    assert fields["tokenizer.ggml.add_bos_token"] is True and fields["tokenizer.ggml.add_eos_token"] is True


def test_loading_errors_name_the_file_and_tensor(tmp_path):
    _gguf_py_file(tmp_path / "gpt2.gguf", arch="gpt2")
    with pytest.raises(ModelLoadError, match="architecture 'gpt2'") as info:
        load_gguf(tmp_path / "gpt2.gguf")
    assert str(tmp_path / "gpt2.gguf") in str(info.value)
    _gguf_py_file(tmp_path / "extra.gguf", extra_tensors={"blk.0.ffn_gate_exps.weight": np.zeros((2, 4, 4))})
    with pytest.raises(ModelLoadError, match="blk.0.ffn_gate_exps.weight"):
        load_gguf(tmp_path / "extra.gguf")
    _gguf_py_file(tmp_path / "nokey.gguf", drop_key="embedding_length")
    with pytest.raises(ModelLoadError, match="llama.embedding_length"):
        load_gguf(tmp_path / "nokey.gguf")
    _gguf_py_file(tmp_path / "freqs.gguf", extra_tensors={"rope_freqs.weight": np.ones(HEAD_DIM // 2)})
    with pytest.raises(ModelLoadError, match="rope_freqs"):
        load_gguf(tmp_path / "freqs.gguf")
    (tmp_path / "junk.gguf").write_bytes(b"GGUF" + b"\x00" * 4)
    with pytest.raises(ModelLoadError, match="cannot read the GGUF file"):
        load_gguf(tmp_path / "junk.gguf")
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelLoadError, match="GGUF file"):
        from_pretrained(tmp_path / "notes.txt")


def test_shape_disagreeing_with_the_metadata(tmp_path):
    metadata = {
        "general.architecture": "llama",
        "llama.context_length": 64,
        "llama.embedding_length": D,
        "llama.block_count": 1,
        "llama.feed_forward_length": FF,
        "llama.attention.head_count": HEADS,
        "llama.attention.layer_norm_rms_epsilon": 1e-5,
    }
    f = np.zeros
    tensors = {"token_embd.weight": f((VOCAB, D), np.float32), "output_norm.weight": f(D, np.float32)}
    tensors |= {f"blk.0.{n}.weight": f(s, np.float32) for n, s in [("attn_norm", D), ("ffn_norm", D)]}
    for name, shape in [("attn_q", (D, D)), ("attn_k", (D, D)), ("attn_v", (D, D)), ("attn_output", (D, D))]:
        tensors[f"blk.0.{name}.weight"] = f(shape, np.float32)
    tensors |= {"blk.0.ffn_gate.weight": f((FF, D), np.float32), "blk.0.ffn_up.weight": f((FF, D), np.float32)}
    tensors["blk.0.ffn_down.weight"] = f((D, FF + 32), np.float32)  # wider than feed_forward_length
    write_gguf(tmp_path / "bad.gguf", metadata, tensors)
    with pytest.raises(ModelLoadError, match=r"shape mismatch.*\(64, 96\).*\(64, 128\)") as info:
        load_gguf(tmp_path / "bad.gguf")
    assert "model.layers.0.mlp.down_proj.weight" in str(info.value)
    del tensors["blk.0.ffn_down.weight"]
    write_gguf(tmp_path / "missing.gguf", metadata, tensors)
    with pytest.raises(ModelLoadError, match="down_proj"):
        load_gguf(tmp_path / "missing.gguf")


def test_saving_errors(tmp_path):
    model = _tiny_model()
    with pytest.raises(LLMError, match="format 'q3_k'"):
        save_gguf(model, tmp_path / "m.gguf", "q3_k")
    wordpiece = WordPieceTokenizer.train(["hello world"] * 5, vocab_size=60)
    with pytest.raises(LLMError, match="only BPE"):
        save_gguf(model, tmp_path / "m.gguf", tokenizer=wordpiece)
    char_bpe = BPETokenizer.train(["hello world"] * 5, vocab_size=40, level="char")
    with pytest.raises(LLMError, match="pre-tokenizer"):
        save_gguf(model, tmp_path / "m.gguf", tokenizer=char_bpe)
    big = BPETokenizer.train([" ".join(f"w{i}" for i in range(400))] * 3, vocab_size=600, level="byte")
    with pytest.raises(LLMError, match="ids up to"):
        save_gguf(model, tmp_path / "m.gguf", tokenizer=big)
    with pytest.raises(LLMError, match="LlamaForCausalLM"):
        save_gguf(object(), tmp_path / "m.gguf")
    assert not (tmp_path / "m.gguf").exists()

"""The forward pass of a LLaMA-family GGUF model: mmap'd quantized weights, float32 activations in
a static arena, a KV cache, layer-ahead prefetch and optional per-layer telemetry.

One graph serves every architecture in :data:`~axon_quant.runtime.config.ARCHS`, as llama.cpp's
``llm_build_llama`` / ``llm_build_qwen2`` / ``llm_build_gemma3``::

    x = token_embd[tokens]                       (Gemma: * sqrt(d_model))
    for each layer:
        h = rmsnorm(x) * attn_norm
        q, k, v = h @ Wq.T (+bq), h @ Wk.T (+bk), h @ Wv.T (+bv)
        (Gemma: q, k = rmsnorm per head * q_norm / k_norm)
        q, k = rope(q), rope(k); cache k, v
        a = softmax(q k.T * scale, causal[, window]) v     (GQA: head h reads KV head h // group)
        o = a @ Wo.T                             (Gemma: rmsnorm(o) * post_attention_norm)
        x = x + o
        h = rmsnorm(x) * ffn_norm
        f = (act(h @ Wg.T) * (h @ Wu.T)) @ Wd.T  (act: SiLU; Gemma: GELU-tanh; then post_ffw_norm)
        x = x + f
    logits = (rmsnorm(x) * output_norm) @ W_out.T      (W_out = token_embd when output.weight is absent)

A decode step runs only Numba kernels and quantized matmuls writing into views made at load, so
it allocates nothing (checked by ``test_runtime_alloc.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from axon_core import Device

from ..errors import QuantError
from ..gguf import GGUFFile
from ..kernels import MatmulPlan, default_threads
from ..kernels.matmul import set_kernel_threads
from ..tensor import QuantTensor
from . import _ops
from ._embed import check_embedding, embed_rows
from .arena import Arena
from .config import ModelConfig
from .kv_cache import KVCache
from .prefetch import LayerPrefetcher
from .telemetry import Telemetry

__all__ = ["DEFAULT_MAX_CTX", "Model", "load_model"]

#: context the arena is planned for when the caller does not say (or the model's, if smaller).
DEFAULT_MAX_CTX = 2048
#: prompt tokens per forward pass; the arena's activation rows.
DEFAULT_BATCH = 64
# Above this many multiply-adds a decode step's attention is spread over threads.
_PARALLEL_ATTENTION_WORK = 1 << 18

_NORM, _QKV, _ATTN, _OUT, _FFN, _ACT = range(6)  # telemetry sections, as telemetry.SECTIONS


def _f32(tensor: QuantTensor) -> np.ndarray:
    """A float32 view of an f32 tensor's bytes (norms, biases), still in the mmap."""
    return tensor.raw.view(np.float32).reshape(tensor.shape)


def plan_sizes(
    config: ModelConfig, max_ctx: int | None, batch: int, logits_rows: int, threads: int | None
) -> tuple[int, int, int, int]:
    """``(max_ctx, batch, logits_rows, threads)`` as a model plans its arena for them (see
    :class:`Model`); QuantError for a value out of range."""
    ctx = min(DEFAULT_MAX_CTX, config.context_length) if max_ctx is None else int(max_ctx)
    if not 1 <= ctx <= config.context_length:
        raise QuantError(f"max_ctx {max_ctx} must be between 1 and the model's context length {config.context_length}")
    if batch < 1 or logits_rows < 1:
        raise QuantError(f"batch ({batch}) and logits_rows ({logits_rows}) must be at least 1")
    if threads is not None and threads < 1:
        raise QuantError(f"threads must be at least 1, got {threads}")
    return ctx, min(int(batch), ctx), int(logits_rows), int(threads) if threads is not None else default_threads()


def rope_tables(config: ModelConfig, tensors: Mapping[str, QuantTensor], max_ctx: int) -> dict[str, np.ndarray]:
    """The RoPE tables ``rope_cos`` / ``rope_sin`` (and ``*_local`` for sliding-window layers'
    base) [max_ctx, rope_dim / 2] float64, as the arena holds them (in float32)."""
    c = config
    half = c.rope_dim // 2
    factors = np.ones(half)
    if "rope_freqs.weight" in tensors:  # llama 3.x: per-dimension frequency divisors
        freqs = tensors["rope_freqs.weight"]
        if freqs.shape != (half,) or freqs.ggml_type.name != "f32":
            raise QuantError(f"rope_freqs.weight must be f32 [{half}], got {freqs.ggml_type.name} {list(freqs.shape)}")
        factors = _f32(freqs).astype(np.float64)
    bases = [(c.rope_base, "")] + ([(c.rope_base_local, "_local")] if c.spec.swa_pattern else [])
    tables = {}
    for base, suffix in bases:
        # theta[p, i] = p * scale * base^(-2i/dim) / factor[i], in float64 (llama.cpp's ggml_rope_cache_init)
        inv = c.rope_scale * base ** (-2.0 * np.arange(half) / c.rope_dim) / factors
        theta = np.arange(max_ctx, dtype=np.float64)[:, None] * inv[None, :]
        tables["rope_cos" + suffix] = np.cos(theta)
        tables["rope_sin" + suffix] = np.sin(theta)
    return tables


@dataclass(frozen=True)
class _Layer:
    attn_norm: np.ndarray
    wq: QuantTensor
    wk: QuantTensor
    wv: QuantTensor
    wo: QuantTensor
    ffn_norm: np.ndarray
    wg: QuantTensor
    wu: QuantTensor
    wd: QuantTensor
    bq: np.ndarray | None
    bk: np.ndarray | None
    bv: np.ndarray | None
    q_norm: np.ndarray | None
    k_norm: np.ndarray | None
    post_attn_norm: np.ndarray | None
    post_ffw_norm: np.ndarray | None
    cos: np.ndarray
    sin: np.ndarray
    window: int
    # q, k, v, o, gate, up, down as MatmulPlans: the checks and lookups of a call done at load
    plans: tuple[MatmulPlan, ...] = ()

    def quantized(self) -> tuple[QuantTensor, ...]:
        return self.wq, self.wk, self.wv, self.wo, self.wg, self.wu, self.wd


@dataclass(frozen=True)
class _Rows:
    """Arena views for a pass over ``n`` tokens."""

    tokens: np.ndarray
    x: np.ndarray
    xn: np.ndarray
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    att: np.ndarray
    o: np.ndarray
    gate: np.ndarray
    up: np.ndarray
    q_heads: np.ndarray
    k_heads: np.ndarray
    q_flat: np.ndarray
    att_flat: np.ndarray


class Model:
    """A LLaMA-family model ready to run.

    ``config``: from :meth:`ModelConfig.from_gguf`. ``tensors``: name -> QuantTensor (mmap views;
    nothing is copied). ``max_ctx``: positions the KV cache holds (default
    min(:data:`DEFAULT_MAX_CTX`, the model's context length)). ``batch``: prompt tokens per
    forward pass. ``logits_rows``: how many positions' logits :meth:`prefill` can return at once
    (``all_logits=True``). ``threads``: Numba threads (None: leave as is). ``prefetcher``: a
    :class:`LayerPrefetcher` with one group per layer then the output head (None: no prefetch).
    ``telemetry``: collect per-layer timings into :attr:`telemetry`. ``source``: the
    :class:`~axon_quant.gguf.GGUFFile` the tensors are views of, kept alive as :attr:`gguf`.

    :meth:`prefill` and :meth:`decode` return views of the arena's logits, valid until the next call.
    """

    def __init__(
        self,
        config: ModelConfig,
        tensors: Mapping[str, QuantTensor],
        *,
        max_ctx: int | None = None,
        batch: int = DEFAULT_BATCH,
        logits_rows: int = 1,
        threads: int | None = None,
        prefetcher: LayerPrefetcher | None = None,
        telemetry: bool = False,
        source: Any = None,
    ):
        self.config = c = config
        self.max_ctx, self.batch, self.logits_rows, self.threads = plan_sizes(c, max_ctx, batch, logits_rows, threads)
        set_kernel_threads(self.threads)
        self.gguf = source  # keeps the GGUF file (and so its mmap) alive
        self.arena = Arena(self._plan())
        self.kv = KVCache(self.arena["k_cache"], self.arena["v_cache"])
        self._tables(tensors)
        self.token_embd = tensors["token_embd.weight"]
        check_embedding(self.token_embd)
        self.output = tensors["token_embd.weight"] if c.tied_output else tensors["output.weight"]
        self._output_plan = MatmulPlan(self.output, self.threads)
        self.output_norm = _f32(tensors["output_norm.weight"])
        self.layers = [self._layer(tensors, i) for i in range(c.n_layers)]
        self._full = self._rows(self.batch)
        self._one = self._rows(1)
        self._logits = self.arena["logits"]
        self._logits_one = self._logits[:1]
        self._scores = self.arena["scores"]
        self.prefetcher = prefetcher
        self.telemetry: Telemetry | None = None
        if telemetry:
            labels = [f"blk.{i}" for i in range(c.n_layers)] + ["embed", "output"]
            sizes = [sum(w.nbytes for w in layer.quantized()) for layer in self.layers] + [0, self.output.nbytes]
            self.telemetry = Telemetry(labels, sizes)

    # -- planning -------------------------------------------------------------------------------
    def _plan(self) -> list[tuple[str, tuple[int, ...], Any]]:
        c, n = self.config, self.batch
        half = c.rope_dim // 2
        return [
            ("tokens", (n,), np.int32),
            ("x", (n, c.d_model), np.float32),
            ("xn", (n, c.d_model), np.float32),
            ("q", (n, c.q_dim), np.float32),
            ("k", (n, c.kv_dim), np.float32),
            ("v", (n, c.kv_dim), np.float32),
            ("att", (n, c.q_dim), np.float32),
            ("o", (n, c.d_model), np.float32),
            ("gate", (n, c.d_ff), np.float32),
            ("up", (n, c.d_ff), np.float32),
            ("logits", (self.logits_rows, c.vocab_size), np.float32),
            ("scores", (n * c.n_heads * self.max_ctx,), np.float32),
            ("rope_cos", (self.max_ctx, half), np.float32),
            ("rope_sin", (self.max_ctx, half), np.float32),
            ("rope_cos_local", (self.max_ctx if c.spec.swa_pattern else 0, half), np.float32),
            ("rope_sin_local", (self.max_ctx if c.spec.swa_pattern else 0, half), np.float32),
            ("k_cache", (c.n_layers, c.n_kv_heads, self.max_ctx, c.head_dim), np.float32),
            ("v_cache", (c.n_layers, c.n_kv_heads, self.max_ctx, c.head_dim), np.float32),
        ]

    def _tables(self, tensors: Mapping[str, QuantTensor]) -> None:
        for name, table in rope_tables(self.config, tensors, self.max_ctx).items():
            self.arena[name][:] = table

    def _layer(self, tensors: Mapping[str, QuantTensor], i: int) -> _Layer:
        c, b = self.config, f"blk.{i}."

        def opt(name: str) -> np.ndarray | None:
            return _f32(tensors[b + name]) if b + name in tensors else None

        local = c.is_local_layer(i)
        return _Layer(
            attn_norm=_f32(tensors[b + "attn_norm.weight"]),
            wq=tensors[b + "attn_q.weight"],
            wk=tensors[b + "attn_k.weight"],
            wv=tensors[b + "attn_v.weight"],
            wo=tensors[b + "attn_output.weight"],
            ffn_norm=_f32(tensors[b + "ffn_norm.weight"]),
            wg=tensors[b + "ffn_gate.weight"],
            wu=tensors[b + "ffn_up.weight"],
            wd=tensors[b + "ffn_down.weight"],
            bq=opt("attn_q.bias") if c.spec.qkv_bias else None,
            bk=opt("attn_k.bias") if c.spec.qkv_bias else None,
            bv=opt("attn_v.bias") if c.spec.qkv_bias else None,
            q_norm=opt("attn_q_norm.weight") if c.spec.qk_norm else None,
            k_norm=opt("attn_k_norm.weight") if c.spec.qk_norm else None,
            post_attn_norm=opt("post_attention_norm.weight") if c.spec.post_norms else None,
            post_ffw_norm=opt("post_ffw_norm.weight") if c.spec.post_norms else None,
            cos=self.arena["rope_cos_local" if local else "rope_cos"],
            sin=self.arena["rope_sin_local" if local else "rope_sin"],
            window=c.sliding_window if local else 0,
            plans=tuple(
                MatmulPlan(tensors[b + name + ".weight"], self.threads)
                for name in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
            ),
        )

    def _rows(self, n: int) -> _Rows:
        a, c = self.arena, self.config
        q, k = a["q"][:n], a["k"][:n]
        att = a["att"][:n]
        return _Rows(
            tokens=a["tokens"][:n],
            x=a["x"][:n],
            xn=a["xn"][:n],
            q=q,
            k=k,
            v=a["v"][:n],
            att=att,
            o=a["o"][:n],
            gate=a["gate"][:n],
            up=a["up"][:n],
            q_heads=q.reshape(n * c.n_heads, c.head_dim),
            k_heads=k.reshape(n * c.n_kv_heads, c.head_dim),
            q_flat=q.reshape(-1),
            att_flat=att.reshape(-1),
        )

    # -- running --------------------------------------------------------------------------------
    @property
    def position(self) -> int:
        """Tokens in the KV cache (the position the next token gets)."""
        return self.kv.length

    def reset(self) -> None:
        """Forget the context (the next token is at position 0)."""
        self.kv.reset()

    def close(self) -> None:
        """Close the prefetcher's file and the GGUF file (the model cannot run afterwards)."""
        if self.prefetcher is not None:
            self.prefetcher.close()
        if self.gguf is not None:
            self.gguf.close()

    def prefill(self, tokens: np.typing.ArrayLike, *, all_logits: bool = False) -> np.ndarray:
        """Run the prompt ``tokens`` (ints) from the current position, ``batch`` tokens per pass.

        Returns the last token's logits [vocab] float32, or with ``all_logits`` every position's
        [n, vocab] (``n`` must be at most ``logits_rows``). QuantError for an empty prompt, an id
        outside the vocabulary or a prompt that does not fit in the context.
        """
        ids = np.asarray(tokens)
        if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise QuantError(f"tokens must be a non-empty 1-d array of ints, got {ids.dtype} {list(ids.shape)}")
        self._check_ids(ids)
        n = ids.size
        if all_logits and n > self.logits_rows:
            raise QuantError(f"all_logits for {n} tokens needs logits_rows >= {n} (the model has {self.logits_rows})")
        self.kv.reserve(n)
        for start in range(0, n, self.batch):
            chunk = ids[start : start + self.batch]
            rows = self._full if chunk.size == self.batch else self._rows(chunk.size)
            rows.tokens[:] = chunk
            out = (
                self._logits[start : start + chunk.size]
                if all_logits
                else (self._logits_one if start + chunk.size == n else None)
            )
            self._forward(rows, out, last_only=not all_logits)
        return self._logits[:n] if all_logits else self._logits[0]

    def decode(self, token: int) -> np.ndarray:
        """Run one token at the current position; its logits [vocab] float32 (an arena view)."""
        if not 0 <= token < self.config.vocab_size:
            raise QuantError(f"token id {token} is outside the vocabulary [0, {self.config.vocab_size})")
        self.kv.reserve(1)
        self._one.tokens[0] = token
        self._forward(self._one, self._logits_one, last_only=True)
        return self._logits[0]

    def _check_ids(self, ids: np.ndarray) -> None:
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= self.config.vocab_size:
            bad = low if low < 0 else high
            raise QuantError(f"token id {bad} is outside the vocabulary [0, {self.config.vocab_size})")

    def _forward(self, r: _Rows, logits: np.ndarray | None, last_only: bool) -> None:
        """One pass over the ``n`` tokens of ``r`` at positions ``kv.length ..``; the logits of the
        last row (``last_only``) or of every row go to ``logits`` (None: none wanted)."""
        c, kv, tel, pf = self.config, self.kv, self.telemetry, self.prefetcher
        n, start, eps = r.x.shape[0], kv.length, c.rms_eps
        embed_row, out_row = c.n_layers, c.n_layers + 1
        if tel is not None:
            tel.begin(n)
        if pf is not None:
            pf.prefetch(0)
        embed_rows(self.token_embd, r.tokens, r.x)
        if c.spec.embed_scale:
            _ops.scale_rows(r.x, math.sqrt(c.d_model))
        layers = self.layers
        _ops.rmsnorm(r.x, layers[0].attn_norm, eps, r.xn)
        if tel is not None:
            tel.lap(embed_row, _NORM)
        parallel_attention = n * c.n_kv_heads > 1 and (
            n > 1 or c.n_heads * (start + 1) * c.head_dim > _PARALLEL_ATTENTION_WORK
        )
        attention = _ops.attention_parallel if parallel_attention else _ops.attention
        for i, L in enumerate(layers):
            if pf is not None:
                pf.prefetch(i + 1)
            plan_q, plan_k, plan_v, plan_o, plan_gate, plan_up, plan_down = L.plans
            plan_q(r.xn, r.q)
            plan_k(r.xn, r.k)
            plan_v(r.xn, r.v)
            if L.bq is not None:
                _ops.add_bias(r.q, L.bq)
                _ops.add_bias(r.k, L.bk)
                _ops.add_bias(r.v, L.bv)
            if tel is not None:
                tel.lap(i, _QKV)
            if L.q_norm is not None:
                _ops.rmsnorm(r.q_heads, L.q_norm, eps, r.q_heads)
                _ops.rmsnorm(r.k_heads, L.k_norm, eps, r.k_heads)
            _ops.rope_store(
                r.q,
                r.k,
                r.v,
                L.cos,
                L.sin,
                start,
                c.n_heads,
                c.n_kv_heads,
                c.head_dim,
                c.rope_dim,
                c.spec.rope_style == "neox",
                kv.layer_k[i],
                kv.layer_v[i],
            )
            attention(
                r.q_flat,
                kv.flat_k[i],
                kv.flat_v[i],
                self._scores,
                r.att_flat,
                start,
                n,
                c.n_heads,
                c.n_kv_heads,
                c.head_dim,
                kv.max_ctx,
                c.attn_scale,
                L.window,
            )
            if tel is not None:
                tel.lap(i, _ATTN)
            plan_o(r.att, r.o)
            if tel is not None:
                tel.lap(i, _OUT)
            if L.post_attn_norm is not None:
                _ops.rmsnorm(r.o, L.post_attn_norm, eps, r.o)
            _ops.add_rmsnorm(r.x, r.o, L.ffn_norm, eps, r.xn)
            if tel is not None:
                tel.lap(i, _NORM)
            plan_gate(r.xn, r.gate)
            plan_up(r.xn, r.up)
            if tel is not None:
                tel.lap(i, _FFN)
            (_ops.gelu_mul if c.spec.activation == "gelu_tanh" else _ops.silu_mul)(r.gate, r.up)
            if tel is not None:
                tel.lap(i, _ACT)
            plan_down(r.gate, r.o)
            if tel is not None:
                tel.lap(i, _FFN)
            if L.post_ffw_norm is not None:
                _ops.rmsnorm(r.o, L.post_ffw_norm, eps, r.o)
            next_norm = layers[i + 1].attn_norm if i + 1 < len(layers) else self.output_norm
            _ops.add_rmsnorm(r.x, r.o, next_norm, eps, r.xn)
            if tel is not None:
                tel.lap(i, _NORM)
        kv.advance(n)
        if logits is not None:
            self._output_plan(r.xn[n - 1 :] if last_only and n > 1 else r.xn, logits)
        if tel is not None:
            tel.lap(out_row, _OUT)


def load_model(
    path: str,
    *,
    max_ctx: int | None = None,
    batch: int = DEFAULT_BATCH,
    logits_rows: int = 1,
    threads: int | None = None,
    prefetch: bool = True,
    telemetry: bool = False,
    device: "str | Device" = "cpu",
) -> Model:
    """Open the GGUF file at ``path`` (mmap'd, nothing copied) and build its :class:`Model`.

    ``prefetch`` reads each layer's weights ahead (see :mod:`.prefetch`); the other arguments are
    :class:`Model`'s. The returned model keeps the file open; its :attr:`Model.gguf` is the
    :class:`~axon_quant.gguf.GGUFFile` (metadata for the tokenizer).

    ``device``: ``"cpu"`` (the Numba kernels), or ``"cuda"`` / ``"cuda:N"`` / ``"cuda-sim"`` for a
    :class:`~axon_quant.runtime.device_model.DeviceModel`: the arena and KV cache on the device,
    the layer ops as CUDA kernels, the quantized matrices streamed from the mmap one layer ahead
    into two device buffers. ``cuda`` without a GPU raises DeviceUnavailableError at once.
    """
    device = Device(device)
    gguf_file = GGUFFile.open(path)
    try:
        config = ModelConfig.from_gguf(gguf_file.metadata, gguf_file.tensors, path=str(path))
        prefetcher = None
        if prefetch:
            infos = gguf_file.tensor_infos
            groups = [
                [(t.offset, t.nbytes) for name, t in infos.items() if name.startswith(f"blk.{i}.")]
                for i in range(config.n_layers)
            ]
            head = "token_embd.weight" if config.tied_output else "output.weight"
            groups.append(
                [
                    (infos[head].offset, infos[head].nbytes),
                    (infos["output_norm.weight"].offset, infos["output_norm.weight"].nbytes),
                ]
            )
            prefetcher = LayerPrefetcher(str(path), groups)
        kind: type[Model] = Model
        options: dict[str, Any] = {}
        if device.type != "cpu":
            from .device_model import DeviceModel

            kind, options = DeviceModel, {"device": device}
        model = kind(
            config,
            gguf_file.tensors,
            max_ctx=max_ctx,
            batch=batch,
            logits_rows=logits_rows,
            threads=threads,
            prefetcher=prefetcher,
            telemetry=telemetry,
            source=gguf_file,
            **options,
        )
    except BaseException:
        gguf_file.close()
        raise
    return model

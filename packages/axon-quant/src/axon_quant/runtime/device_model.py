"""The forward pass on a GPU (``cuda``) or on cuda-sim: the graph of :mod:`.model`, with the arena
and the KV cache in device memory, every op a device kernel, and the quantized matrices streamed
from the host one layer ahead (:mod:`.streaming`).

What lives where:

- device, planned once at load: the arena (activations, attention scores, RoPE tables, the KV
  cache; :class:`~axon_quant.runtime.arena.Arena` over one device allocation), the two weight
  buffers of the streamer, the output head (read every pass, so resident, as llama.cpp keeps
  ``output`` on the GPU) and one allocation holding every norm and bias vector (a few KiB a layer);
- host: the layers' quantized matrices (the GGUF mmap, staged through pinned buffers), the token
  embedding table (rows are looked up on the host and copied up, as llama.cpp keeps
  ``token_embd`` on the CPU), the returned logits.

Each op is one launch on the compute stream: ``quant_matmul`` (axon-core's kernels for the ggml
formats) and the ``decoder`` family (fused residual RMSNorm, RoPE with the KV-cache store, GQA
attention over the cache, gated activation, bias). Like the CPU :class:`~.model.Model`, a decode
step allocates nothing: every launch writes into views made at load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from axon_core import Device
from axon_core.kernels import REGISTRY
from axon_core.kernels.decoder import ATTENTION_THREADS, NORM_THREADS, ROPE_THREADS

from ..errors import QuantError
from ..kernels.device import DEVICE_FORMATS, device_quant_matmul
from ..tensor import QuantTensor
from . import _ops
from ._embed import check_embedding, embed_rows
from .arena import Arena
from .config import ModelConfig
from .kv_cache import KVCache
from .model import DEFAULT_BATCH, Model, plan_sizes, rope_tables
from .prefetch import LayerPrefetcher
from .streaming import WeightStreamer
from .telemetry import STREAM_COLUMNS, StreamTelemetry

__all__ = ["DeviceModel", "MATRICES"]

#: the streamed matrices of a layer, in the order :meth:`WeightStreamer.acquire` returns them.
MATRICES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
# f32 vectors of a layer, resident on the device: (GGUF name, when the arch has it).
_VECTORS = (
    ("attn_norm", None),
    ("ffn_norm", None),
    ("attn_q.bias", "qkv_bias"),
    ("attn_k.bias", "qkv_bias"),
    ("attn_v.bias", "qkv_bias"),
    ("attn_q_norm", "qk_norm"),
    ("attn_k_norm", "qk_norm"),
    ("post_attention_norm", "post_norms"),
    ("post_ffw_norm", "post_norms"),
)
_ELEMENTWISE_THREADS = 256
_MAX_GRID = 65535 * 16
_COMPUTE, _WAIT, _COPY, _STAGE = range(len(STREAM_COLUMNS))


@dataclass(frozen=True)
class _DeviceLayer:
    """A layer's resident vectors (device float32 views; None where the arch has none) and its
    RoPE tables and window."""

    attn_norm: Any
    ffn_norm: Any
    bq: Any
    bk: Any
    bv: Any
    q_norm: Any
    k_norm: Any
    post_attn_norm: Any
    post_ffw_norm: Any
    cos: Any
    sin: Any
    window: int


@dataclass(frozen=True)
class _DeviceRows:
    """A pass over ``n`` tokens: host token ids and embedding rows, device arena views."""

    tokens: np.ndarray
    host_x: np.ndarray
    x: Any
    xn: Any
    q: Any
    k: Any
    v: Any
    att: Any
    o: Any
    gate: Any
    up: Any
    q_heads: Any
    k_heads: Any


def _pow2_threads(width: int, most: int) -> int:
    """A block of at least one warp and at most ``most`` threads, covering ``width`` if it can."""
    threads = 32
    while threads < width and threads < most:
        threads *= 2
    return threads


class DeviceModel(Model):
    """A LLaMA-family model whose forward pass runs on ``device`` (``cuda``, ``cuda:N``,
    ``cuda-sim``), streaming each layer's quantized matrices from the host (see the module doc).

    Arguments as :class:`~.model.Model`'s (``threads``: host threads, for the embedding lookup's
    kernels). :meth:`prefill`, :meth:`decode`, :meth:`reset` and :attr:`position` are Model's and
    behave the same; the logits they return are host arrays (views of one buffer, valid until the
    next call). ``telemetry`` keeps a :class:`StreamTelemetry` (per layer: compute, the compute
    stream's wait for the copy, copy and host staging times). QuantError when a layer matrix or
    the output head is in a format without a CUDA kernel (f32/f16/bf16 matrices have none yet).
    """

    def __init__(
        self,
        config: ModelConfig,
        tensors: Mapping[str, QuantTensor],
        *,
        device: "str | Device",
        max_ctx: int | None = None,
        batch: int = DEFAULT_BATCH,
        logits_rows: int = 1,
        threads: int | None = None,
        prefetcher: LayerPrefetcher | None = None,
        telemetry: bool = False,
        source: Any = None,
    ):
        self.device = Device(device)
        if self.device.type == "cpu":
            raise QuantError("DeviceModel runs on cuda, cuda:N or cuda-sim; the CPU runtime is Model")
        self.config = c = config
        self.max_ctx, self.batch, self.logits_rows, self.threads = plan_sizes(c, max_ctx, batch, logits_rows, threads)
        self.gguf = source
        self.prefetcher = prefetcher
        be = self.backend = self.device.backend
        self.token_embd = tensors["token_embd.weight"]
        check_embedding(self.token_embd)
        head = tensors["token_embd.weight" if c.tied_output else "output.weight"]
        matrices = [[tensors[f"blk.{i}.{name}.weight"] for name in MATRICES] for i in range(c.n_layers)]
        _check_formats(matrices, head, "token_embd.weight" if c.tied_output else "output.weight")

        self.compute = be.stream("compute")
        plan = [entry for entry in Model._plan(self) if entry[0] != "tokens"]
        self.arena = Arena(plan, allocate=lambda nbytes: be.empty((nbytes,), np.uint8))
        self.kv = KVCache(self.arena["k_cache"], self.arena["v_cache"])
        for name, table in rope_tables(c, tensors, self.max_ctx).items():
            be.copy_to_device_async(self.arena[name], np.ascontiguousarray(table, dtype=np.float32), self.compute)
        self.output = QuantTensor(be.empty(head.raw.shape, np.uint8), head.ggml_type, head.shape)
        be.copy_to_device_async(self.output.raw, np.ascontiguousarray(head.raw), self.compute)
        self.output_norm, self.layers = self._vectors(tensors)
        self.streamer = WeightStreamer(be, matrices, compute=self.compute, prefetcher=prefetcher, timing=telemetry)

        self._host_tokens = np.zeros(self.batch, dtype=np.int32)
        self._host_x = np.empty((self.batch, c.d_model), dtype=np.float32)
        self._logits = np.empty((self.logits_rows, c.vocab_size), dtype=np.float32)
        self._logits_one = self._logits[:1]
        self._device_logits = self.arena["logits"]
        self._scores = self.arena["scores"]
        self._full = self._rows(self.batch)
        self._one = self._rows(1)
        self.telemetry: StreamTelemetry | None = None  # type: ignore[assignment]
        self._marks: list[tuple[Any, Any]] = []
        if telemetry:
            labels = [f"blk.{i}" for i in range(c.n_layers)] + ["embed", "output"]
            self.telemetry = StreamTelemetry(labels, self.streamer.layer_bytes + [0, 0])
            self._marks = [(be.event(timing=True), be.event(timing=True)) for _ in labels]
        self.compute.synchronize()  # the uploads above are done before any other stream reads them

    # -- planning -------------------------------------------------------------------------------
    def _vectors(self, tensors: Mapping[str, QuantTensor]) -> tuple[Any, list[_DeviceLayer]]:
        """Every layer's norm and bias vectors and the output norm, packed into one device
        allocation; the output norm's view and the layers."""
        c, be = self.config, self.backend
        names = [
            f"blk.{i}.{name}.weight" if not name.endswith(".bias") else f"blk.{i}.{name}"
            for i in range(c.n_layers)
            for name, needs in _VECTORS
            if needs is None or getattr(c.spec, needs)
        ] + ["output_norm.weight"]
        for name in names:
            t = tensors.get(name)
            if t is None or t.ggml_type.name != "f32" or len(t.shape) != 1:
                got = "missing" if t is None else f"{t.ggml_type.name} {list(t.shape)}"
                raise QuantError(f"{name}: the device runtime needs an f32 vector here, got {got}")
        sizes = [tensors[name].shape[0] for name in names]
        starts = np.cumsum([0] + [-(-n // 64) * 64 for n in sizes])  # 256-byte aligned vectors
        host = np.zeros(int(starts[-1]), dtype=np.float32)
        for name, at, n in zip(names, starts, sizes, strict=False):
            host[at : at + n] = tensors[name].raw.view(np.float32)
        packed = be.empty(host.shape, np.float32)
        be.copy_to_device_async(packed, host, self.compute)
        views = {name: packed[at : at + n] for name, at, n in zip(names, starts, sizes, strict=False)}
        self._packed_vectors = packed

        def vector(i: int, name: str) -> Any:
            return views.get(f"blk.{i}.{name}.weight" if not name.endswith(".bias") else f"blk.{i}.{name}")

        layers = []
        for i in range(c.n_layers):
            local = c.is_local_layer(i)
            layers.append(
                _DeviceLayer(
                    attn_norm=vector(i, "attn_norm"),
                    ffn_norm=vector(i, "ffn_norm"),
                    bq=vector(i, "attn_q.bias"),
                    bk=vector(i, "attn_k.bias"),
                    bv=vector(i, "attn_v.bias"),
                    q_norm=vector(i, "attn_q_norm"),
                    k_norm=vector(i, "attn_k_norm"),
                    post_attn_norm=vector(i, "post_attention_norm"),
                    post_ffw_norm=vector(i, "post_ffw_norm"),
                    cos=self.arena["rope_cos_local" if local else "rope_cos"],
                    sin=self.arena["rope_sin_local" if local else "rope_sin"],
                    window=c.sliding_window if local else 0,
                )
            )
        return views["output_norm.weight"], layers

    def _rows(self, n: int) -> _DeviceRows:  # type: ignore[override]
        a, c = self.arena, self.config
        q, k = a["q"][:n], a["k"][:n]
        return _DeviceRows(
            tokens=self._host_tokens[:n],
            host_x=self._host_x[:n],
            x=a["x"][:n],
            xn=a["xn"][:n],
            q=q,
            k=k,
            v=a["v"][:n],
            att=a["att"][:n],
            o=a["o"][:n],
            gate=a["gate"][:n],
            up=a["up"][:n],
            q_heads=q.reshape(n * c.n_heads, c.head_dim),
            k_heads=k.reshape(n * c.n_kv_heads, c.head_dim),
        )

    # -- launches (all on the compute stream) ----------------------------------------------------
    def _launch(self, name: str, grid: tuple, block: tuple, args: tuple) -> None:
        self.backend.launch(REGISTRY["decoder"], name, grid, block, args, stream=self.compute)

    def _norm(self, x: Any, weight: Any, out: Any, delta: Any = None) -> None:
        """``out = rmsnorm(x) * weight`` over rows of ``x`` [rows, d]; with ``delta``, ``x += delta`` first."""
        rows, d = x.shape
        args = (x, x if delta is None else delta, weight, out, np.int32(d), np.float32(self.config.rms_eps))
        self._launch(
            "decoder_rmsnorm", (rows,), (_pow2_threads(d, NORM_THREADS),), args + (np.int32(delta is not None),)
        )

    def _elementwise(self, name: str, count: int, args: tuple) -> None:
        grid = (max(1, min(-(-count // _ELEMENTWISE_THREADS), _MAX_GRID)),)
        self._launch(name, grid, (_ELEMENTWISE_THREADS,), args)

    def _matmul(self, w: QuantTensor, x: Any, out: Any) -> None:
        device_quant_matmul(x, w, out, device=self.device, stream=self.compute)

    def _mark(self, row: int, end: int) -> None:
        if self._marks:
            self._marks[row][end].record(self.compute)

    # -- running --------------------------------------------------------------------------------
    def close(self) -> None:
        """Wait for the device, then close the files (the model cannot run afterwards)."""
        self.compute.synchronize()
        self.streamer.copy_stream.synchronize()
        super().close()

    def _forward(self, r: _DeviceRows, logits: np.ndarray | None, last_only: bool) -> None:  # type: ignore[override]
        """One pass over the ``n`` tokens of ``r`` at positions ``kv.length ..``; the logits of the
        last row (``last_only``) or of every row are copied into the host array ``logits``."""
        c, kv, be, cs, st, tel = self.config, self.kv, self.backend, self.compute, self.streamer, self.telemetry
        n, start = r.tokens.shape[0], kv.length
        embed_row, out_row = c.n_layers, c.n_layers + 1
        first = st.executed
        if tel is not None:
            tel.begin(n)
        embed_rows(self.token_embd, r.tokens, r.host_x)
        if c.spec.embed_scale:
            _ops.scale_rows(r.host_x, math.sqrt(c.d_model))
        self._mark(embed_row, 0)
        be.copy_to_device_async(r.x, r.host_x, cs)  # pageable: staged by the time it returns
        layers = self.layers
        self._norm(r.x, layers[0].attn_norm, r.xn)
        self._mark(embed_row, 1)
        rope = (np.int32(c.rope_dim), np.int32(c.spec.rope_style == "neox"))
        heads = (np.int32(c.n_heads), np.int32(c.n_kv_heads), np.int32(c.head_dim))
        ctx, at = np.int32(kv.max_ctx), np.int32(start)
        for i, L in enumerate(layers):
            wq, wk, wv, wo, wg, wu, wd = st.acquire()
            self._mark(i, 0)
            self._matmul(wq, r.xn, r.q)
            self._matmul(wk, r.xn, r.k)
            self._matmul(wv, r.xn, r.v)
            if L.bq is not None:
                self._elementwise("decoder_add_bias", r.q.size, (r.q, L.bq, np.int64(r.q.size), np.int32(c.q_dim)))
                self._elementwise("decoder_add_bias", r.k.size, (r.k, L.bk, np.int64(r.k.size), np.int32(c.kv_dim)))
                self._elementwise("decoder_add_bias", r.v.size, (r.v, L.bv, np.int64(r.v.size), np.int32(c.kv_dim)))
            if L.q_norm is not None:
                self._norm(r.q_heads, L.q_norm, r.q_heads)
                self._norm(r.k_heads, L.k_norm, r.k_heads)
            self._launch(
                "decoder_rope_store",
                (n, c.n_heads + c.n_kv_heads),
                (ROPE_THREADS,),
                (r.q, r.k, r.v, L.cos, L.sin, kv.layer_k[i], kv.layer_v[i], at) + heads + rope + (ctx,),
            )
            self._launch(
                "decoder_attention",
                (n, c.n_heads),
                (ATTENTION_THREADS,),
                (r.q, kv.layer_k[i], kv.layer_v[i], self._scores, r.att, at)
                + heads
                + (ctx, np.float32(c.attn_scale), np.int32(L.window)),
            )
            self._matmul(wo, r.att, r.o)
            if L.post_attn_norm is not None:
                self._norm(r.o, L.post_attn_norm, r.o)
            self._norm(r.x, L.ffn_norm, r.xn, delta=r.o)
            self._matmul(wg, r.xn, r.gate)
            self._matmul(wu, r.xn, r.up)
            gelu = np.int32(c.spec.activation == "gelu_tanh")
            self._elementwise("decoder_gated", r.gate.size, (r.gate, r.up, np.int64(r.gate.size), gelu))
            self._matmul(wd, r.gate, r.o)
            if L.post_ffw_norm is not None:
                self._norm(r.o, L.post_ffw_norm, r.o)
            next_norm = layers[i + 1].attn_norm if i + 1 < len(layers) else self.output_norm
            self._norm(r.x, next_norm, r.xn, delta=r.o)
            st.release()
            self._mark(i, 1)
        kv.advance(n)
        if logits is not None:
            rows = r.xn[n - 1 :] if last_only and n > 1 else r.xn
            out = self._device_logits[: rows.shape[0]]
            self._mark(out_row, 0)
            self._matmul(self.output, rows, out)
            self._mark(out_row, 1)
            be.copy_to_host(logits, out, cs)  # waits for the compute stream
        if tel is not None:
            cs.synchronize()
            self._collect(first, logits is not None)

    def _collect(self, first: int, with_output: bool) -> None:
        """Add the pass's event times (layers ``first ..`` of the streamer's count) to the telemetry."""
        tel, be, marks, n = self.telemetry, self.backend, self._marks, self.config.n_layers
        assert tel is not None
        for i in range(n):
            tel.add(i, _COMPUTE, be.elapsed_ms(*marks[i]) / 1e3)
            previous = marks[i - 1][1] if i else marks[n][1]  # the embedding row ends before layer 0
            tel.add(i, _WAIT, be.elapsed_ms(previous, marks[i][0]) / 1e3)
            tel.add(i, _COPY, self.streamer.copy_ms(first + i) / 1e3)
            tel.add(i, _STAGE, float(self.streamer.stage_seconds[i]))
        self.streamer.stage_seconds[:] = 0.0
        tel.add(n, _COMPUTE, be.elapsed_ms(*marks[n]) / 1e3)
        if with_output:
            tel.add(n + 1, _COMPUTE, be.elapsed_ms(*marks[n + 1]) / 1e3)


def _check_formats(matrices: list[list[QuantTensor]], head: QuantTensor, head_name: str) -> None:
    for i, layer in enumerate(matrices):
        for name, w in zip(MATRICES, layer, strict=True):
            if w.ggml_type.name not in DEVICE_FORMATS:
                raise QuantError(
                    f"blk.{i}.{name}.weight is {w.ggml_type.name}; the device runtime has kernels for "
                    f"{', '.join(DEVICE_FORMATS)} (run this model on the CPU, or requantize it)"
                )
    if head.ggml_type.name not in DEVICE_FORMATS:
        raise QuantError(
            f"{head_name} (the output head) is {head.ggml_type.name}; the device runtime has kernels for "
            f"{', '.join(DEVICE_FORMATS)}"
        )

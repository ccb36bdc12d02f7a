"""Double backward of the rest of axon-nn's functional ops against PyTorch 2.13 CPU, in float64.

The sibling of ``test_nn_gradgrad_torch.py`` (linear, losses, norms, conv, embedding, pooling),
for the recurrent scans and cells, attention (plain and flash paths), dropout, pad, rotary,
swiglu, the FFTs and STFT, the graph ops, sparse_linear and the ternary straight-through ops.
Each case runs the op in both frameworks on the same values (ops with several outputs give a
tuple), takes the first gradients with ``create_graph=True`` against random cotangents that
themselves require grad, then the gradient of a random linear functional of those first
gradients with respect to the inputs and the cotangents, and compares both orders with
``torch.autograd.grad``. Where PyTorch has no such op (rotary, sparse_linear's CSR product,
scatter_softmax, the ternary STEs) the oracle is the op written with torch's differentiable ops;
where it draws its own random mask (dropout) the oracle multiplies by axon's mask, which is what
``torch.nn.functional.dropout``'s backward does with its own. Attention's oracle is
``scaled_dot_product_attention`` under ``SDPBackend.MATH``: torch's default CPU kernel
(``_scaled_dot_product_flash_attention_for_cpu``) has no double backward. A few cases are also
checked by :func:`axon_autograd.gradgradcheck` (finite differences of the first gradient).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as TF  # noqa: E402
from torch.func import functional_call  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

import axon_autograd as ag  # noqa: E402
import axon_nn.functional as AF  # noqa: E402
from axon_autograd import Variable  # noqa: E402
from axon_tensor import Generator, tensor  # noqa: E402

pytestmark = pytest.mark.torch

rng = np.random.default_rng(4321)


def randn(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def _axon_const(a: np.ndarray) -> Any:
    return Variable(tensor(a), requires_grad=False)


#: (id, axon op, torch op, the float64 inputs (all differentiable)); an op takes the inputs as
#: Variables / tensors and returns one output or a tuple of outputs.
Case = tuple[str, Callable[..., Any], Callable[..., Any], list[np.ndarray]]
CASES: list[Case] = []


def same(op: Callable[..., Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``op(F, const, *inputs)`` run with axon's and with torch's functional module."""
    return (lambda *xs: op(AF, _axon_const, *xs)), (lambda *xs: op(TF, torch.tensor, *xs))


# -- recurrent ---------------------------------------------------------------------------------
_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
_TORCH_MODULE = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU"}


def _recurrent_case(
    mode: str,
    layers: int = 1,
    bidirectional: bool = False,
    proj: int = 0,
    batch_first: bool = False,
    hx: bool = False,
    bias: bool = True,
    lengths: list[int] | None = None,
    seq: int = 4,
    batch: int = 3,
    features: int = 3,
    hidden: int = 3,
) -> Case:
    """``F.rnn`` / ``lstm`` / ``gru`` against ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` run by
    ``functional_call`` on the same weights (packed with ``pack_padded_sequence`` for ``lengths``)."""
    directions = 2 if bidirectional else 1
    lstm = mode == "lstm"
    state = proj or hidden
    width = _GATES[mode] * hidden
    arrays = [randn(batch, seq, features) if batch_first else randn(seq, batch, features)]
    n_states = 0
    if hx:
        arrays.append(randn(layers * directions, batch, state))
        n_states = 1
        if lstm:
            arrays.append(randn(layers * directions, batch, hidden))
            n_states = 2
    names, per_direction = [], []
    for layer in range(layers):
        for d in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            size_in = features if layer == 0 else directions * state
            shapes = [("weight_ih", (width, size_in)), ("weight_hh", (width, state))]
            shapes += [("bias_ih", (width,)), ("bias_hh", (width,))] if bias else []
            shapes += [("weight_hr", (state, hidden))] if proj else []
            names += [name + suffix for name, _ in shapes]
            per_direction.append(len(shapes))
            arrays += [randn(*shape) * 0.6 for _, shape in shapes]
    options = dict(bidirectional=bidirectional, batch_first=batch_first)

    def axon_op(*leaves: Any) -> tuple:
        x, states, params = leaves[0], leaves[1 : 1 + n_states], list(leaves[1 + n_states :])
        weights = []
        for count in per_direction:
            w, params = params[:count], params[count:]
            w = w[:2] + (w[2:4] if bias else [None, None]) + w[4 if bias else 2 :]
            weights.append(tuple(w))
        h0 = (tuple(states) if lstm else states[0]) if hx else None
        if mode.startswith("rnn"):
            out, h = AF.rnn(x, h0, weights, nonlinearity=mode[4:], lengths=lengths, **options)
            return out, h
        if lstm:
            out, (h, c) = AF.lstm(x, h0, weights, lengths=lengths, **options)
            return out, h, c
        out, h = AF.gru(x, h0, weights, lengths=lengths, **options)
        return out, h

    def torch_op(*leaves: Any) -> tuple:
        x, states, params = leaves[0], leaves[1 : 1 + n_states], leaves[1 + n_states :]
        extra = {"nonlinearity": mode[4:]} if mode.startswith("rnn") else {}
        if proj:
            extra["proj_size"] = proj
        module = getattr(torch.nn, _TORCH_MODULE[mode])(
            features, hidden, num_layers=layers, bias=bias, **options, **extra
        ).double()
        h0 = (tuple(states) if lstm else states[0]) if hx else None
        given = x
        if lengths is not None:
            given = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out, final = functional_call(module, dict(zip(names, params)), (given, h0))
        if lengths is not None:
            out = pad_packed_sequence(out, batch_first=batch_first, total_length=seq)[0]
        return (out, *final) if lstm else (out, final)

    flags = [f"L{layers}"] + ["bi"] * bidirectional + [f"proj{proj}"] * bool(proj) + ["batch_first"] * batch_first
    flags += ["hx"] * hx + ["no-bias"] * (not bias) + ["lengths"] * (lengths is not None)
    return ("-".join([mode] + flags), axon_op, torch_op, arrays)


CASES += [
    _recurrent_case("rnn_tanh"),
    _recurrent_case("rnn_tanh", layers=2, bidirectional=True, hx=True),
    _recurrent_case("rnn_relu", hx=True, batch_first=True),
    _recurrent_case("rnn_tanh", lengths=[4, 2, 3], hx=True),
    _recurrent_case("lstm"),
    _recurrent_case("lstm", hx=True, bias=False),
    _recurrent_case("lstm", layers=2, bidirectional=True, hx=True),
    _recurrent_case("lstm", proj=2, hidden=4, hx=True, batch_first=True),
    _recurrent_case("lstm", bidirectional=True, lengths=[2, 4, 1], hx=True),
    _recurrent_case("gru"),
    _recurrent_case("gru", layers=2, hx=True, batch_first=True),
    _recurrent_case("gru", bidirectional=True, hx=True, bias=False),
    _recurrent_case("gru", lengths=[3, 1, 4]),
]

#: A mask with holes (not a prefix): torch's oracle is a loop over its cells that keeps the state
#: where a step is masked out and outputs 0 there, as axon documents.
HOLES = np.array([[True, False, True, True], [False, True, True, False]])


def _torch_masked_scan(cell: Callable[..., Any], lstm: bool) -> Callable[..., Any]:
    def op(x: Any, h: Any, *rest: Any) -> tuple:
        c, params = (rest[0], rest[1:]) if lstm else (None, rest)
        outs = []
        for t in range(x.shape[0]):
            valid = torch.tensor(HOLES[:, t])[:, None]
            if lstm:
                h_new, c_new = cell(x[t], (h, c), *params)
                c = torch.where(valid, c_new, c)
            else:
                h_new = cell(x[t], h, *params)
            outs.append(torch.where(valid, h_new, 0.0))
            h = torch.where(valid, h_new, h)
        return (torch.stack(outs), h, c) if lstm else (torch.stack(outs), h)

    return op


def _masked_arrays(gates: int, lstm: bool) -> list[np.ndarray]:
    states = [randn(2, 3)] + ([randn(2, 3)] if lstm else [])
    return [randn(4, 2, 3)] + states + [randn(gates * 3, 3) * 0.6, randn(gates * 3, 3) * 0.6, randn(gates * 3)]


CASES += [
    (
        "lstm-mask-holes",
        lambda x, h, c, wi, wh, b: (lambda o: (o[0], *o[1]))(
            AF.lstm(x, (h[None], c[None]), [(wi, wh, b, None)], mask=HOLES)
        ),
        lambda x, h, c, wi, wh, b: (lambda o: (o[0], o[1][None], o[2][None]))(
            _torch_masked_scan(torch.lstm_cell, True)(x, h, c, wi, wh, b, None)
        ),
        _masked_arrays(4, True),
    ),
    (
        "gru-mask-holes",
        lambda x, h, wi, wh, b: AF.gru(x, h[None], [(wi, wh, None, b)], mask=HOLES),
        lambda x, h, wi, wh, b: (lambda o: (o[0], o[1][None]))(
            _torch_masked_scan(torch.gru_cell, False)(x, h, wi, wh, None, b)
        ),
        _masked_arrays(3, False),
    ),
]


def _cell_arrays(gates: int, lstm: bool, batched: bool = True) -> list[np.ndarray]:
    lead = (3,) if batched else ()
    states = [randn(*lead, 4)] + ([randn(*lead, 4)] if lstm else [])
    return [randn(*lead, 5)] + states + [randn(gates * 4, 5) * 0.5, randn(gates * 4, 4) * 0.5]
    # biases are appended by the cases that take them


CASES += [
    (
        "rnn_tanh_cell",
        lambda x, h, wi, wh, bi, bh: AF.rnn_cell(x, h, wi, wh, bi, bh),
        lambda x, h, wi, wh, bi, bh: torch.rnn_tanh_cell(x, h, wi, wh, bi, bh),
        _cell_arrays(1, False) + [randn(4), randn(4)],
    ),
    (
        "rnn_relu_cell-no-bias",
        lambda x, h, wi, wh: AF.rnn_cell(x, h, wi, wh, nonlinearity="relu"),
        lambda x, h, wi, wh: torch.rnn_relu_cell(x, h, wi, wh),
        _cell_arrays(1, False),
    ),
    (
        "lstm_cell",
        lambda x, h, c, wi, wh, bi, bh: AF.lstm_cell(x, (h, c), wi, wh, bi, bh),
        lambda x, h, c, wi, wh, bi, bh: torch.lstm_cell(x, (h, c), wi, wh, bi, bh),
        _cell_arrays(4, True) + [randn(16), randn(16)],
    ),
    (
        "lstm_cell-unbatched",
        lambda x, h, c, wi, wh, bi: AF.lstm_cell(x, (h, c), wi, wh, bi),
        lambda x, h, c, wi, wh, bi: tuple(t[0] for t in torch.lstm_cell(x[None], (h[None], c[None]), wi, wh, bi)),
        _cell_arrays(4, True, batched=False) + [randn(16)],
    ),
    (
        "gru_cell",
        lambda x, h, wi, wh, bi, bh: AF.gru_cell(x, h, wi, wh, bi, bh),
        lambda x, h, wi, wh, bi, bh: torch.gru_cell(x, h, wi, wh, bi, bh),
        _cell_arrays(3, False) + [randn(12), randn(12)],
    ),
]


# -- attention ---------------------------------------------------------------------------------
def _sdpa_case(name: str, path: str, arrays: list[np.ndarray], **kwargs: Any) -> Case:
    """``scaled_dot_product_attention(q, k, v, [attn_mask], **kwargs)`` on axon's ``path`` against
    torch's math backend; a fourth input is a float mask (its gradient is compared too)."""

    def axon_op(*xs: Any) -> Any:
        with AF.attention_path(path):
            return AF.scaled_dot_product_attention(*xs, **kwargs)

    def torch_op(*xs: Any) -> Any:
        with sdpa_kernel(SDPBackend.MATH):
            return TF.scaled_dot_product_attention(*xs, **kwargs)

    return (f"sdpa-{path}-{name}", axon_op, torch_op, arrays)


def qkv(batch: int, heads: int, sq: int, sk: int, d: int, kv_heads: int | None = None) -> list[np.ndarray]:
    kv = heads if kv_heads is None else kv_heads
    return [randn(batch, heads, sq, d), randn(batch, kv, sk, d), randn(batch, kv, sk, d)]


BOOL_MASK = rng.random((4, 5)) > 0.3
BOOL_MASK[2] = False  # a fully masked row: its output and every gradient through it are 0
for path in ("plain", "flash"):
    CASES += [
        _sdpa_case("basic", path, qkv(2, 2, 4, 5, 3)),
        _sdpa_case("causal", path, qkv(1, 2, 4, 4, 3), is_causal=True),
        _sdpa_case("causal-sq>sk", path, qkv(1, 2, 5, 3, 3), is_causal=True),
        _sdpa_case("causal-sq<sk", path, qkv(1, 2, 3, 5, 3), is_causal=True, scale=0.7),
        _sdpa_case("gqa", path, qkv(1, 4, 3, 4, 3, kv_heads=2), enable_gqa=True),
        _sdpa_case("3d", path, [randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 2)]),
    ]
CASES += [
    (
        "sdpa-plain-bool-mask-fully-masked-row",
        lambda q, k, v: AF.scaled_dot_product_attention(q, k, v, attn_mask=tensor(BOOL_MASK)),
        lambda q, k, v: _math(lambda: TF.scaled_dot_product_attention(q, k, v, attn_mask=torch.tensor(BOOL_MASK))),
        qkv(2, 2, 4, 5, 3),
    ),
    _sdpa_case("float-mask-as-input", "plain", qkv(1, 2, 4, 5, 3) + [randn(4, 5)]),
    (
        "sdpa-flash-squared",
        lambda q, k, v: _flash(lambda: AF.scaled_dot_product_attention(q, k, v, is_causal=True) ** 2),
        lambda q, k, v: _math(lambda: TF.scaled_dot_product_attention(q, k, v, is_causal=True) ** 2),
        qkv(1, 1, 4, 4, 2),
    ),
]


def _flash(fn: Callable[[], Any]) -> Any:
    with AF.attention_path("flash"):
        return fn()


def _math(fn: Callable[[], Any]) -> Any:
    with sdpa_kernel(SDPBackend.MATH):
        return fn()


# -- dropout -----------------------------------------------------------------------------------
#: Dropout is linear for its drawn mask: its second derivative with respect to the input is 0 and
#: with respect to the cotangent the same mask again; "-cubed" puts a curved op after it.
P, SEED = 0.4, 5


def _keep(shape: tuple[int, ...]) -> np.ndarray:
    """The mask axon's dropout draws from ``Generator(SEED)`` (True = kept)."""
    return Generator(SEED).numpy_generator.random(shape) >= P


def _alpha_dropout_torch(x: Any) -> Any:
    # torch.nn.functional.alpha_dropout's affine map (its _dropout_impl), on axon's mask.
    alpha = 1.7580993408473766
    keep = torch.tensor(_keep(tuple(x.shape)).astype(np.float64))
    a = 1.0 / ((alpha * alpha * P + 1) * (1 - P)) ** 0.5
    return (x * keep + alpha * (1 - keep)) * a + alpha * a * P


X_DROP = randn(3, 4, 2, 2)
CASES += [
    (
        "dropout",
        lambda x: AF.dropout(x, P, generator=Generator(SEED)),
        lambda x: x * torch.tensor(_keep(x.shape) / (1 - P)),
        [X_DROP],
    ),
    (
        "dropout-cubed",
        lambda x: AF.dropout(x, P, generator=Generator(SEED)) ** 3,
        lambda x: (x * torch.tensor(_keep(x.shape) / (1 - P))) ** 3,
        [X_DROP],
    ),
    (
        "dropout2d-cubed",
        lambda x: AF.dropout2d(x, P, generator=Generator(SEED)) ** 3,
        lambda x: (x * torch.tensor(_keep((3, 4, 1, 1)) / (1 - P))) ** 3,
        [X_DROP],
    ),
    (
        "alpha_dropout-cubed",
        lambda x: AF.alpha_dropout(x, P, training=True, generator=Generator(SEED)) ** 3,
        lambda x: _alpha_dropout_torch(x) ** 3,
        [X_DROP],
    ),
]

# -- pad ---------------------------------------------------------------------------------------
PADS = [
    ("constant", (1, 2), dict(value=0.5)),
    ("constant-crop", (-1, 2, 1, -2), {}),
    ("reflect", (2, 1, 1, 2), {}),
    ("replicate", (2, 3, 1, 0), {}),
    ("circular", (1, 2, 2, 0), {}),
]
for name, widths, extra in PADS:
    mode = name.split("-")[0]
    CASES += [
        (
            f"pad-{name}",
            *same(lambda F, c, x, w=widths, m=mode, e=extra: F.pad(x, w, mode=m, **e)),
            [randn(2, 3, 4, 5)],
        ),
        (
            f"pad-{name}-cubed",
            *same(lambda F, c, x, w=widths, m=mode, e=extra: F.pad(x, w, mode=m, **e) ** 3),
            [randn(2, 3, 4, 5)],
        ),
    ]


# -- rotary, swiglu ----------------------------------------------------------------------------
def _angles(seq: int, half: int) -> tuple[np.ndarray, np.ndarray]:
    angles = np.outer(np.arange(seq), 10000.0 ** (-np.arange(half) / half))
    return np.cos(angles), np.sin(angles)


COS, SIN = _angles(5, 3)


def _torch_rotary(x: Any, interleaved: bool) -> Any:
    """HF's ``x * cos + rotate_half(x) * sin`` (split halves) or GPT-J's pairs, in torch ops."""
    cos, sin = torch.tensor(COS), torch.tensor(SIN)
    rot, rest = x[..., :6], x[..., 6:]
    if interleaved:
        cos, sin = cos.repeat_interleave(2, -1), sin.repeat_interleave(2, -1)
        turned = torch.stack([-rot[..., 1::2], rot[..., 0::2]], -1).flatten(-2)
    else:
        cos, sin = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)
        turned = torch.cat([-rot[..., 3:], rot[..., :3]], -1)
    return torch.cat([rot * cos + turned * sin, rest], -1)


for interleaved in (False, True):
    tag = "interleaved" if interleaved else "halves"
    CASES += [
        (
            f"rotary-{tag}-partial",
            lambda x, i=interleaved: AF.apply_rotary_emb(x, tensor(COS), tensor(SIN), interleaved=i),
            lambda x, i=interleaved: _torch_rotary(x, i),
            [randn(2, 5, 8)],
        ),
        (
            f"rotary-{tag}-partial-cubed",
            lambda x, i=interleaved: AF.apply_rotary_emb(x, tensor(COS), tensor(SIN), interleaved=i) ** 3,
            lambda x, i=interleaved: _torch_rotary(x, i) ** 3,
            [randn(2, 5, 8)],
        ),
    ]
CASES += [
    ("swiglu", lambda g, u: AF.swiglu(g, u), lambda g, u: TF.silu(g) * u, [randn(3, 4, 5), randn(3, 4, 5)]),
    ("swiglu-shared-graph", lambda g: AF.swiglu(g, g.tanh()), lambda g: TF.silu(g) * g.tanh(), [randn(4, 6)]),
]


# -- fft, stft ---------------------------------------------------------------------------------
def _torch_fft(kind: str, **kw: Any) -> Callable[[Any], Any]:
    def op(x: Any) -> Any:
        if kind == "rfft":
            return torch.view_as_real(torch.fft.rfft(x, **kw))
        z = torch.view_as_complex(x)
        if kind == "irfft":
            return torch.fft.irfft(z, **kw)
        return torch.view_as_real(getattr(torch.fft, kind)(z, **kw))

    return op


FFTS = [
    ("fft", dict(norm="ortho"), (3, 6, 2)),
    ("fft", dict(n=8, dim=0), (5, 3, 2)),
    ("ifft", dict(n=4), (3, 6, 2)),
    ("rfft", dict(norm="forward"), (3, 7)),
    ("rfft", dict(n=10), (2, 7)),
    ("irfft", {}, (3, 5, 2)),
    ("irfft", dict(n=7, norm="ortho"), (2, 4, 2)),
]
for kind, kw, shape in FFTS:
    torch_fft = _torch_fft(kind, **kw)
    label = "-".join([kind] + [f"{k}{v}" for k, v in kw.items()])
    CASES += [
        (label, lambda x, k=kind, o=kw: getattr(AF, k)(x, **o), torch_fft, [randn(*shape)]),
        (
            f"{label}-cubed",
            lambda x, k=kind, o=kw: getattr(AF, k)(x, **o) ** 3,
            lambda x, t=torch_fft: t(x) ** 3,
            [randn(*shape)],
        ),
    ]


def _torch_stft_pairs(x: Any) -> Any:
    ones = torch.ones(6, dtype=x.dtype)
    return torch.view_as_real(
        torch.stft(x, 6, 3, window=ones, pad_mode="constant", normalized=True, return_complex=True)
    )


CASES += [
    (
        "complex_abs",
        lambda z: AF.complex_abs(z),
        lambda z: torch.view_as_complex(z).abs(),
        [randn(3, 4, 2)],
    ),
    (
        "stft-magnitude-window",
        lambda x, w: AF.stft(x, 8, hop_length=2, window=w, output="magnitude"),
        lambda x, w: torch.stft(x, 8, hop_length=2, window=w, return_complex=True).abs(),
        [randn(2, 20), np.hanning(8) + 0.1],
    ),
    (
        "stft-pairs-constant-normalized",
        lambda x: AF.stft(x, 6, 3, window=tensor(np.ones(6)), pad_mode="constant", normalized=True) ** 3,
        lambda x: _torch_stft_pairs(x) ** 3,
        [randn(17)],
    ),
]

# -- graph ops ---------------------------------------------------------------------------------
#: A directed graph on 5 nodes (node 4 has no incoming edge; 2 -> 2 an explicit self-loop).
EDGES = np.array([[0, 1, 2, 3, 1, 0, 2, 4], [1, 2, 3, 0, 0, 2, 2, 3]])
SEGMENTS = np.array([0, 2, 1, 0, 2, 2, 1])


def _torch_scatter_softmax(src: Any) -> Any:
    """Per segment a torch softmax over the entries masked in (an independent formulation)."""
    member = torch.tensor(SEGMENTS[None, :] == np.arange(3)[:, None])  # [segment, entry]
    scores = torch.where(member[..., None], src[None], -torch.inf)  # [segment, entry, *]
    return torch.softmax(scores, dim=1)[torch.tensor(SEGMENTS), torch.arange(len(SEGMENTS))]


def _torch_dense_gcn(x: Any, w: Any, b: Any, ew: Any) -> Any:
    """``D^-1/2 (A + I) D^-1/2 X Wᵀ + b`` with the weighted adjacency ``A[dst, src]`` dense."""
    n = x.shape[0]
    a = torch.zeros(n, n, dtype=x.dtype).index_put((torch.tensor(EDGES[1]), torch.tensor(EDGES[0])), ew, True)
    a = a + torch.eye(n, dtype=x.dtype)
    inv_sqrt = a.sum(1) ** -0.5
    return (inv_sqrt[:, None] * a * inv_sqrt[None, :]) @ x @ w.T + b


def _torch_dense_gat(x: Any, w: Any, att_src: Any, att_dst: Any, b: Any, heads: int = 2) -> Any:
    """GAT from the paper's equations on a dense [dst, src] mask with one self-loop per node."""
    n = x.shape[0]
    h = (x @ w.T).reshape(n, heads, -1)
    logits = (h * att_dst).sum(-1)[:, None, :] + (h * att_src).sum(-1)[None, :, :]  # [i, j, head]
    mask = np.eye(n, dtype=bool)
    mask[EDGES[1], EDGES[0]] = True
    logits = torch.where(torch.tensor(mask)[..., None], TF.leaky_relu(logits, 0.2), -torch.inf)
    alpha = torch.softmax(logits, dim=1)
    return torch.einsum("ijh,jhc->ihc", alpha, h).reshape(n, -1) + b


CASES += [
    (
        "scatter_softmax",
        lambda s: AF.scatter_softmax(s, tensor(SEGMENTS), 3),
        _torch_scatter_softmax,
        [randn(7, 2)],
    ),
    (
        "gcn_conv-edge_weight",
        lambda x, w, b, ew: AF.gcn_conv(x, tensor(EDGES), w, b, edge_weight=ew) ** 2,
        lambda x, w, b, ew: _torch_dense_gcn(x, w, b, ew) ** 2,
        [randn(5, 3), randn(4, 3), randn(4), rng.uniform(0.5, 2.0, EDGES.shape[1])],
    ),
    (
        "gat_conv",
        lambda x, w, s, d, b: AF.gat_conv(x, tensor(EDGES), w, s, d, b, heads=2),
        _torch_dense_gat,
        [randn(5, 3), randn(4, 3), randn(1, 2, 2), randn(1, 2, 2), randn(4)],
    ),
]


# -- sparse_linear, ternary --------------------------------------------------------------------
DENSE_PATTERN = rng.random((4, 5)) < 0.5
DENSE_PATTERN[1] = False  # an empty row
ROWS, COLS = np.nonzero(DENSE_PATTERN)
CSR = tensor(DENSE_PATTERN.astype(np.float64)).to_sparse_csr()


def _torch_sparse_linear(x: Any, values: Any, b: Any) -> Any:
    """The dense weight with ``values`` at the pattern's entries (row-major, as CSR stores them)."""
    w = torch.zeros(4, 5, dtype=values.dtype).index_put((torch.tensor(ROWS), torch.tensor(COLS)), values)
    return TF.linear(x, w, b)


def _torch_ste(x: Any, quantized: Callable[[np.ndarray], np.ndarray]) -> Any:
    """PyTorch's straight-through estimator: the quantised value forward, the identity backward."""
    return x + (torch.tensor(quantized(x.detach().numpy())) - x).detach()


def _ternary(w: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    gamma = np.abs(w).mean()
    return np.clip(np.round(w / (gamma + eps)), -1, 1) * gamma


def _fake_quant(x: np.ndarray, bits: int = 8, eps: float = 1e-5) -> np.ndarray:
    scale = (2 ** (bits - 1) - 1) / np.maximum(np.abs(x).max(-1, keepdims=True), eps)
    return np.clip(np.round(x * scale), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1) / scale


CASES += [
    (
        "sparse_linear-cubed",
        lambda x, v, b: AF.sparse_linear(x, CSR, v, b) ** 3,
        lambda x, v, b: _torch_sparse_linear(x, v, b) ** 3,
        [randn(2, 3, 5), randn(int(DENSE_PATTERN.sum())), randn(4)],
    ),
    (
        "ternary_weight_ste-cubed",
        lambda w: AF.ternary_weight_ste(w) ** 3,
        lambda w: _torch_ste(w, _ternary) ** 3,
        [randn(4, 6)],
    ),
    (
        "activation_quant_ste-cubed",
        lambda x: AF.activation_quant_ste(x) ** 3,
        lambda x: _torch_ste(x, _fake_quant) ** 3,
        [randn(3, 6)],
    ),
    (
        "ternary_linear-squared",
        lambda x, w, b: AF.ternary_linear(x, w, b) ** 2,
        lambda x, w, b: TF.linear(_torch_ste(x, _fake_quant), _torch_ste(w, _ternary), b) ** 2,
        [randn(3, 6), randn(4, 6), randn(4)],
    ),
]

#: Ops linear in their inputs: the second derivative with respect to the inputs is 0 (checked
#: equal to torch's), with respect to the cotangent the op itself.
LINEAR = {c[0] for c in CASES if c[0].split("-")[0] in ("dropout", "pad", "fft", "ifft", "rfft", "irfft", "rotary")}
LINEAR -= {c for c in LINEAR if c.endswith("-cubed")}


# -- the comparison ----------------------------------------------------------------------------
def _as_tuple(out: Any) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _grads(lib: str, op: Callable[..., Any], arrays: list[np.ndarray], cotangents: list, probe: list) -> tuple:
    """First gradients (create_graph) and the gradients of ``Σ probe_i * first_i`` with respect to
    the inputs and the cotangents, as NumPy arrays (zeros where a gradient is absent)."""
    if lib == "torch":
        inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
        outs = _as_tuple(op(*inputs))
        g_outs = [torch.tensor(c, requires_grad=True) for c in cotangents]
        first = torch.autograd.grad(outs, inputs, g_outs, create_graph=True, allow_unused=True)
        to_np = lambda t: t.detach().numpy(force=True)  # noqa: E731
        const, autograd_grad = torch.tensor, torch.autograd.grad
    else:
        inputs = [Variable(tensor(a), requires_grad=True) for a in arrays]
        outs = _as_tuple(op(*inputs))
        g_outs = [Variable(tensor(c), requires_grad=True) for c in cotangents]
        first = ag.grad(list(outs), inputs, g_outs, create_graph=True, allow_unused=True)
        to_np = lambda t: t.data.numpy()  # noqa: E731
        const, autograd_grad = _axon_const, ag.grad
    first_np = [np.zeros(a.shape) if g is None else to_np(g) for g, a in zip(first, arrays)]
    terms = [(g * const(u)).sum() for g, u in zip(first, probe) if g is not None]
    terms = [t for t in terms if t.requires_grad]
    shapes = arrays + cotangents
    if not terms:
        return first_np, [np.zeros(s.shape) for s in shapes]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    second = autograd_grad(total, inputs + g_outs, allow_unused=True)
    return first_np, [np.zeros(s.shape) if g is None else to_np(g) for g, s in zip(second, shapes)]


def _run(case: Case) -> tuple:
    name, axon_op, torch_op, arrays = case
    outs = _as_tuple(torch_op(*[torch.tensor(a) for a in arrays]))
    local = np.random.default_rng(7)
    cotangents = [local.standard_normal(tuple(o.shape)) for o in outs]
    probe = [local.standard_normal(a.shape) for a in arrays]
    return _grads("axon", axon_op, arrays, cotangents, probe), _grads("torch", torch_op, arrays, cotangents, probe)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_double_backward_matches_torch(case):
    name, _, _, arrays = case
    (first_ax, second_ax), (first_th, second_th) = _run(case)
    for i, (a, t) in enumerate(zip(first_ax, first_th)):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-11, err_msg=f"{name}: first gradient {i}")
    labels = [f"input {i}" for i in range(len(arrays))] + [
        f"cotangent {i}" for i in range(len(second_ax) - len(arrays))
    ]
    for label, a, t in zip(labels, second_ax, second_th):
        np.testing.assert_allclose(a, t, rtol=1e-8, atol=1e-10, err_msg=f"{name}: second gradient, {label}")
    # Guards against both sides being trivially zero: each case is curved in some input, or
    # (a linear op) has the op itself as its second derivative with respect to the cotangent.
    checked = second_ax[len(arrays) :] if name in LINEAR else second_ax[: len(arrays)]
    assert max(np.abs(s).max(initial=0.0) for s in checked) > 1e-6, name


GRADGRAD = [
    "rnn_tanh-L1",
    "lstm_cell",
    "gru_cell",
    "gru-mask-holes",
    "sdpa-plain-bool-mask-fully-masked-row",
    "sdpa-flash-causal-sq>sk",
    "dropout-cubed",
    "pad-reflect-cubed",
    "rotary-interleaved-partial-cubed",
    "swiglu",
    "irfft-n7-normortho-cubed",
    "complex_abs",
    "scatter_softmax",
    "sparse_linear-cubed",
]


@pytest.mark.parametrize("name", GRADGRAD)
def test_gradgradcheck(name):
    _, axon_op, _, arrays = next(c for c in CASES if c[0] == name)
    inputs = tuple(Variable(tensor(a), requires_grad=True) for a in arrays)
    assert ag.gradgradcheck(axon_op, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


def test_third_order_matches_torch():
    """A third derivative through an LSTM, flash attention over its outputs and a swiglu."""
    case = _recurrent_case("lstm", seq=3, batch=2, features=2, hidden=2, hx=True)
    arrays = case[3]

    def run(lib: str) -> list[np.ndarray]:
        if lib == "torch":
            leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
            out = case[2](*leaves)[0].permute(1, 0, 2)[:, None]  # [B, 1, T, H]
            y = _math(lambda: TF.scaled_dot_product_attention(out, out, out, is_causal=True))
            y = TF.silu(y) * out
            grad, to_np = torch.autograd.grad, (lambda t: t.detach().numpy())
        else:
            leaves = [Variable(tensor(a), requires_grad=True) for a in arrays]
            out = case[1](*leaves)[0].permute(1, 0, 2).unsqueeze(1)
            y = _flash(lambda: AF.scaled_dot_product_attention(out, out, out, is_causal=True))
            y = AF.swiglu(y, out)
            grad, to_np = ag.grad, (lambda t: t.data.numpy())
        x, w_hh = leaves[0], leaves[4]
        (gx,) = grad((y * y).sum(), [x], create_graph=True)
        (gxx,) = grad((gx * gx).sum(), [w_hh], create_graph=True)
        return [to_np(t) for t in grad((gxx * gxx).sum(), leaves)]

    for i, (a, t) in enumerate(zip(run("axon"), run("torch"))):
        np.testing.assert_allclose(a, t, rtol=1e-7, atol=1e-10, err_msg=f"input {i}")

"""Recurrent ops: RNN (tanh/relu), LSTM and GRU over whole sequences, and their single-step cells.

Every layer/direction of a recurrent net is one :class:`RecurrentScanFunction` node. Its forward
projects the input of all time steps with one matmul (``x @ W_ihᵀ``), then walks the steps,
each step one ``h @ W_hhᵀ`` matmul plus the backend's fused gate op (``lstm_cell`` /
``gru_cell``: one CUDA kernel per step on cuda). Its backward walks the steps in reverse with the
backend's cell backward ops and finishes with one matmul each for ``dx``, ``dW_ih`` and ``dW_hh``.
Under ``create_graph=True`` the gradients are instead those of :func:`_scan_composite`, the same
scan as Variable ops (:func:`~._twice.graph_backward`), so RNN/LSTM/GRU and their cells are
twice differentiable, as PyTorch's.

Variable lengths without packing: a ``mask [T, B]`` says which steps are real. At a masked-out
step the state is carried over unchanged and the output is zero, so with a prefix mask
(``lengths``) the final state of the forward direction is the state at each sequence's last valid
step, and the reverse direction starts at each sequence's own last valid step — what PyTorch's
``pack_padded_sequence`` computes.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from axon_autograd import Function, cat, stack, where
from axon_core import DeviceError, DTypeError, ShapeError
from axon_tensor import zeros

from ._twice import graph_backward
from ._util import out_like, tensor_of
from .dropout import dropout as _dropout

__all__ = ["rnn", "lstm", "gru", "rnn_cell", "lstm_cell", "gru_cell"]

# Gates per mode, in PyTorch's weight layout: LSTM (i, f, g, o), GRU (r, z, n).
_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _scan_composite(ctx: Any, x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, w_hr: Any) -> Any:
    """:class:`RecurrentScanFunction` as Variable ops, step by step: what double backward differentiates."""
    mode, mask, reverse = ctx.options[:3]
    lstm, gru = mode == "lstm", mode == "gru"
    seq = x.shape[0]
    hidden = w_ih.shape[0] // _GATES[mode]
    valid = None if mask is None else out_like(mask, tensor_of(x))
    if valid is not None:
        x = where(valid, x, 0.0)
    input_gates = x @ w_ih.transpose(0, 1)
    if b_ih is not None:
        input_gates = input_gates + b_ih
    if b_hh is not None and not gru:
        input_gates = input_gates + b_hh
    h, c = h0, c0
    outputs: list[Any] = [None] * seq
    for t in range(seq - 1, -1, -1) if reverse else range(seq):
        recurrent = h @ w_hh.transpose(0, 1)
        c_new = None
        if lstm:
            gates = input_gates[t] + recurrent
            i, f, o = (gates[:, k * hidden : (k + 1) * hidden].sigmoid() for k in (0, 1, 3))
            c_new = f * c + i * gates[:, 2 * hidden : 3 * hidden].tanh()
            h_new = o * c_new.tanh()
        elif gru:
            if b_hh is not None:
                recurrent = recurrent + b_hh
            gx = input_gates[t]
            r, z = (
                (gx[:, k * hidden : (k + 1) * hidden] + recurrent[:, k * hidden : (k + 1) * hidden]).sigmoid()
                for k in (0, 1)
            )
            n = (gx[:, 2 * hidden :] + r * recurrent[:, 2 * hidden :]).tanh()
            h_new = (1.0 - z) * n + z * h
        else:
            gates = input_gates[t] + recurrent
            h_new = gates.tanh() if mode == "rnn_tanh" else gates.relu()
        if w_hr is not None:
            h_new = h_new @ w_hr.transpose(0, 1)
        if valid is None:
            outputs[t], h, c = h_new, h_new, c_new
        else:
            step = valid[t]
            outputs[t] = where(step, h_new, 0.0)
            h = where(step, h_new, h)
            c = where(step, c_new, c) if lstm else None
    return stack(outputs, 0), h, c


class RecurrentScanFunction(Function):
    """One direction of one recurrent layer over a whole sequence.

    ``x [T, B, I]``, ``h0 [B, P]``, ``c0 [B, H]`` (LSTM, else None), ``w_ih [G*H, I]``,
    ``w_hh [G*H, P]``, ``b_ih``/``b_hh [G*H]`` or None, ``w_hr [P, H]`` (LSTM projection, else
    None; then ``P = H``). ``mode`` is a key of ``_GATES``; ``mask`` a ``[T, B, 1]`` bool backend
    array or None (every step valid); ``reverse`` walks ``t = T-1 .. 0``.
    Returns ``(y [T, B, P], h_n [B, P], c_n [B, H])``; ``c_n`` only for LSTM.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode, mask, reverse):
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr)
        backend = x.backend
        xp = backend.xp
        seq, batch, features = x.shape
        lstm, gru = mode == "lstm", mode == "gru"
        whh = w_hh.array
        whr = None if w_hr is None else w_hr.array
        gate_width = w_ih.shape[0]
        # Pre-activations of every step at once; LSTM/RNN fold both biases in here, GRU keeps
        # b_hh with h @ W_hhᵀ because its reset gate multiplies that term.
        x_data = x.array
        if mask is not None:
            # Padding never reaches a gradient (torch's packed sequences never read it), even NaN.
            x_data = xp.where(mask, x_data, 0)
        x_rows = xp.ascontiguousarray(x_data).reshape(seq * batch, features)
        gates = (x_rows @ w_ih.array.T).reshape(seq, batch, gate_width)
        if b_ih is not None:
            gates += b_ih.array
        hidden_bias = None if b_hh is None else b_hh.array
        if hidden_bias is not None and not gru:
            gates += hidden_bias
        h, c = h0.array, None if c0 is None else c0.array
        dtype = gates.dtype
        state_size, hidden = whh.shape[1], gate_width // _GATES[mode]
        out = xp.empty((seq, batch, state_size), dtype=dtype)
        h_prev_all = xp.empty((seq, batch, state_size), dtype=dtype)
        # What each mode's backward recomputes its gate derivatives from.
        c_prev_all = xp.empty((seq, batch, hidden), dtype=dtype) if lstm else None
        c_cell_all = xp.empty((seq, batch, hidden), dtype=dtype) if lstm else None
        hidden_gates_all = xp.empty((seq, batch, gate_width), dtype=dtype) if gru else None
        h_cell_all = xp.empty((seq, batch, hidden), dtype=dtype) if (whr is not None or not (lstm or gru)) else None
        for t in range(seq - 1, -1, -1) if reverse else range(seq):
            h_prev_all[t] = h
            recurrent = h @ whh.T
            if lstm:
                step_gates = gates[t]
                step_gates += recurrent
                h_cell, c_cell = backend.lstm_cell(step_gates, c)
                c_prev_all[t], c_cell_all[t] = c, c_cell
            elif gru:
                if hidden_bias is not None:
                    recurrent += hidden_bias
                hidden_gates_all[t] = recurrent
                h_cell = backend.gru_cell(gates[t], recurrent, h)
            else:
                step_gates = gates[t]
                step_gates += recurrent
                h_cell = xp.tanh(step_gates) if mode == "rnn_tanh" else xp.maximum(step_gates, 0)
            if h_cell_all is not None:
                h_cell_all[t] = h_cell
            h_new = h_cell if whr is None else h_cell @ whr.T
            if mask is None:
                out[t], h = h_new, h_new
                if lstm:
                    c = c_cell
            else:
                valid = mask[t]
                out[t] = xp.where(valid, h_new, 0)
                h = xp.where(valid, h_new, h)
                if lstm:
                    c = xp.where(valid, c_cell, c)
        ctx.arrays = (x_rows, gates, h_prev_all, c_prev_all, c_cell_all, hidden_gates_all, h_cell_all)
        ctx.weights = (w_ih.array, whh, whr)
        ctx.options = (mode, mask, reverse, b_ih is not None, b_hh is not None, x.shape)
        h_n = out_like(h if h is not h0.array else h.copy(), x)
        c_n = None if c is None else out_like(c if c is not c0.array else c.copy(), x)
        return out_like(out, x), h_n, c_n

    @staticmethod
    @graph_backward(_scan_composite)
    def backward(ctx, grad_out, grad_h, grad_c):
        backend = grad_out.backend
        xp = backend.xp
        x_rows, gates, h_prev_all, c_prev_all, c_cell_all, hidden_gates_all, h_cell_all = ctx.arrays
        wih, whh, whr = ctx.weights
        mode, mask, reverse, has_b_ih, has_b_hh, x_shape = ctx.options
        lstm, gru = mode == "lstm", mode == "gru"
        seq, batch, gate_width = gates.shape
        dy = grad_out.array
        dh = grad_h.array
        dc = grad_c.array if lstm else None
        d_gates = xp.empty_like(gates)
        # LSTM/RNN gates get the same gradient through W_ih and W_hh; GRU's differ (reset gate).
        d_hidden_gates = xp.empty_like(gates) if gru else d_gates
        d_h_cell_all = xp.empty_like(h_prev_all) if whr is not None else None
        for t in range(seq) if reverse else range(seq - 1, -1, -1):
            g = dh + dy[t]
            if mask is not None:
                valid = mask[t]
                g = xp.where(valid, g, 0)
                carry_h = xp.where(valid, 0, dh)
            if whr is not None:
                d_h_cell_all[t] = g
                g = g @ whr
            direct = None
            if lstm:
                dc_cell = dc if mask is None else xp.where(valid, dc, 0)
                d_gates[t], dc_prev = backend.lstm_cell_backward(g, dc_cell, gates[t], c_prev_all[t], c_cell_all[t])
                dc = dc_prev if mask is None else dc_prev + xp.where(valid, 0, dc)
            elif gru:
                d_gates[t], d_hidden_gates[t], direct = backend.gru_cell_backward(
                    g, gates[t], hidden_gates_all[t], h_prev_all[t]
                )
            else:
                h_cell = h_cell_all[t]
                d_gates[t] = g * (1 - h_cell * h_cell) if mode == "rnn_tanh" else g * (h_cell > 0)
            dh = d_hidden_gates[t] @ whh
            if direct is not None:
                dh += direct
            if mask is not None:
                dh += carry_h
        needs = ctx.needs_input_grad
        rows = d_gates.reshape(seq * batch, gate_width)
        hidden_rows = d_hidden_gates.reshape(seq * batch, gate_width)
        like = grad_out
        grad_x = out_like((rows @ wih).reshape(x_shape), like) if needs[0] else None
        grad_h0 = out_like(dh, like) if needs[1] else None
        grad_c0 = out_like(dc, like) if lstm and needs[2] else None
        grad_w_ih = out_like(rows.T @ x_rows, like) if needs[3] else None
        grad_w_hh = (
            out_like(hidden_rows.T @ h_prev_all.reshape(seq * batch, h_prev_all.shape[2]), like) if needs[4] else None
        )
        grad_b_ih = out_like(rows.sum(axis=0), like) if has_b_ih and needs[5] else None
        grad_b_hh = out_like(hidden_rows.sum(axis=0), like) if has_b_hh and needs[6] else None
        grad_w_hr = None
        if whr is not None and needs[7]:
            grad_w_hr = out_like(
                d_h_cell_all.reshape(seq * batch, d_h_cell_all.shape[2]).T
                @ h_cell_all.reshape(seq * batch, h_cell_all.shape[2]),
                like,
            )
        return grad_x, grad_h0, grad_c0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh, grad_w_hr, None, None, None


def _name(mode: str) -> str:
    return {"rnn_tanh": "rnn", "rnn_relu": "rnn"}.get(mode, mode)


def _check_same(op: str, input: Any, named: Sequence[tuple[str, Any]]) -> None:
    """Every tensor in ``named`` (None skipped) has ``input``'s dtype and device."""
    for name, t in named:
        if t is None:
            continue
        if t.dtype != input.dtype:
            raise DTypeError(f"{op}: {name} has dtype {t.dtype}, input has {input.dtype}")
        if t.device is not input.device:
            raise DeviceError(f"{op}: {name} is on {t.device}, input is on {input.device}")


def _check_weights(
    op: str, mode: str, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any, w_hr: Any, input_size: int
) -> tuple[int, int]:
    """``(hidden, state_size)`` implied by one layer/direction's weights; raises on a mismatch."""
    gates = _GATES[mode]
    if len(w_ih.shape) != 2 or w_ih.shape[0] % gates or w_ih.shape[0] == 0:
        raise ShapeError(f"{op}: weight_ih must be [{gates}*hidden, input], got {tuple(w_ih.shape)}")
    hidden = w_ih.shape[0] // gates
    state_size = hidden if w_hr is None else w_hr.shape[0]
    if w_hr is not None and (
        mode != "lstm" or tuple(w_hr.shape) != (state_size, hidden) or not 0 < state_size < hidden
    ):
        raise ShapeError(
            f"{op}: weight_hr must be [proj_size, {hidden}] with 0 < proj_size < {hidden} (LSTM only), got "
            f"{tuple(w_hr.shape)}"
        )
    if w_ih.shape[1] != input_size:
        raise ShapeError(f"{op}: input has {input_size} features but weight_ih is {tuple(w_ih.shape)}")
    if tuple(w_hh.shape) != (gates * hidden, state_size):
        raise ShapeError(f"{op}: weight_hh must be {(gates * hidden, state_size)}, got {tuple(w_hh.shape)}")
    for name, b in (("bias_ih", b_ih), ("bias_hh", b_hh)):
        if b is not None and tuple(b.shape) != (gates * hidden,):
            raise ShapeError(f"{op}: {name} must be {(gates * hidden,)}, got {tuple(b.shape)}")
    return hidden, state_size


def _step_mask(op: str, input: Any, seq: int, batch: int, lengths: Any, mask: Any) -> Any:
    """The ``[T, B, 1]`` bool backend array of valid steps, or None when every step is valid."""
    if lengths is None and mask is None:
        return None
    if lengths is not None and mask is not None:
        raise ValueError(f"{op}: pass lengths or mask, not both")
    if lengths is not None:
        host = np.asarray(tensor_of(lengths).numpy() if hasattr(lengths, "numpy") else lengths)
        if host.shape != (batch,) or host.dtype.kind not in "iu":
            raise ShapeError(
                f"{op}: lengths must be {batch} integers (one per sequence), got shape {host.shape} dtype {host.dtype}"
            )
        if host.size and (host.min() < 0 or host.max() > seq):
            raise ValueError(f"{op}: lengths must lie in [0, {seq}], got min {host.min()} max {host.max()}")
        steps = np.arange(seq)[:, None] < host[None, :]
    else:
        host = np.asarray(tensor_of(mask).numpy() if hasattr(mask, "numpy") else mask)
        if host.shape != (batch, seq) or host.dtype != np.bool_:
            raise ShapeError(
                f"{op}: mask must be a bool [batch, seq] = {(batch, seq)} array, got shape {host.shape} dtype "
                f"{host.dtype}"
            )
        steps = host.T
    return input.device.backend.from_numpy(np.ascontiguousarray(steps[:, :, None]))


def _scan(
    mode: str, x: Any, h0: Any, c0: Any, weights: Sequence[Any], mask: Any, reverse: bool
) -> tuple[Any, Any, Any]:
    w_ih, w_hh, b_ih, b_hh, w_hr = (tuple(weights) + (None,))[:5]
    return RecurrentScanFunction.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, mode, mask, reverse)


def _stacked(
    mode: str,
    input: Any,
    hx: Any,
    weights: Sequence[Sequence[Any]],
    dropout: float,
    training: bool,
    bidirectional: bool,
    batch_first: bool,
    lengths: Any,
    mask: Any,
) -> tuple[Any, Any, Any]:
    """Multi-layer, optionally bidirectional scan shared by :func:`rnn`, :func:`lstm`, :func:`gru`.

    Returns ``(output, h_n, c_n)`` (``c_n`` None unless LSTM) in the caller's layout.
    """
    op = _name(mode)
    directions = 2 if bidirectional else 1
    if len(weights) == 0 or len(weights) % directions:
        raise ValueError(f"{op}: expected num_layers * {directions} weight tuples, got {len(weights)}")
    if not 0.0 <= dropout <= 1.0:
        raise ValueError(f"{op}: dropout must be in [0, 1], got {dropout}")
    layers = len(weights) // directions
    shape = tuple(input.shape)
    if len(shape) not in (2, 3):
        raise ShapeError(
            f"{op}: expected input [seq, batch, features] (or [batch, seq, features] with batch_first, or "
            f"unbatched [seq, features]), got {shape}"
        )
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a floating-point input, got {input.dtype}")
    batched = len(shape) == 3
    if mode != "lstm" and isinstance(hx, (tuple, list)):
        raise ValueError(
            f"{op}: hx must be one tensor [num_layers * directions, batch, hidden], got a {type(hx).__name__}"
        )
    h_in, c_in = (hx if hx is not None else (None, None)) if mode == "lstm" else (hx, None)
    if not batched:
        if lengths is not None or mask is not None:
            raise ValueError(f"{op}: lengths/mask need a batched input")
        input = input.unsqueeze(1)
        h_in = None if h_in is None else h_in.unsqueeze(1)
        c_in = None if c_in is None else c_in.unsqueeze(1)
    elif batch_first:
        input = input.transpose(0, 1)
    seq, batch, _ = tuple(input.shape)
    step_mask = _step_mask(op, input, seq, batch, lengths, mask)

    sizes = []
    layer_input_size = shape[-1]
    for layer in range(layers):
        for d in range(directions):
            w = tuple(weights[layer * directions + d]) + (None,) * 5
            _check_same(op, input, zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"), w[:5]))
            sizes.append(_check_weights(op, mode, *w[:5], layer_input_size))
        if directions == 2 and sizes[-1] != sizes[-2]:
            raise ShapeError(
                f"{op}: the two directions of layer {layer} have different sizes {sizes[-2]} and {sizes[-1]}"
            )
        layer_input_size = directions * sizes[-1][1]
    hidden, state_size = sizes[0]
    if any(s != sizes[0] for s in sizes):
        raise ShapeError(f"{op}: every layer must have the same hidden/proj sizes, got {sizes}")
    h0 = _initial(op, "h0", input, h_in, (layers * directions, batch, state_size), batched)
    c0 = _initial(op, "c0", input, c_in, (layers * directions, batch, hidden), batched) if mode == "lstm" else None

    h_n, c_n = [], []
    layer_input = input
    for layer in range(layers):
        if layer > 0 and dropout > 0 and training:
            layer_input = _dropout(layer_input, dropout, True)
        outputs = []
        for d in range(directions):
            k = layer * directions + d
            y, h, c = _scan(mode, layer_input, h0[k], None if c0 is None else c0[k], weights[k], step_mask, d == 1)
            outputs.append(y)
            h_n.append(h)
            c_n.append(c)
        layer_input = outputs[0] if directions == 1 else cat(outputs, dim=2)
    output, h_out = layer_input, stack(h_n, 0)
    c_out = stack(c_n, 0) if mode == "lstm" else None
    if not batched:
        output, h_out = output.squeeze(1), h_out.squeeze(1)
        c_out = None if c_out is None else c_out.squeeze(1)
    elif batch_first:
        output = output.transpose(0, 1)
    return output, h_out, c_out


def _initial(op: str, name: str, input: Any, given: Any, shape: tuple[int, ...], batched: bool) -> Any:
    """The initial state ``[layers * directions, B, size]``: ``given`` checked, or zeros."""
    if given is None:
        return zeros(shape, dtype=input.dtype, device=input.device)
    if tuple(given.shape) != shape:
        expected = shape if batched else (shape[0], shape[2])
        got = tuple(given.shape) if batched else (given.shape[0], given.shape[2])
        raise ShapeError(f"{op}: {name} must have shape {expected}, got {got}")
    _check_same(op, input, ((name, given),))
    return given


def rnn(
    input: Any,
    hx: Any,
    weights: Sequence[Sequence[Any]],
    nonlinearity: str = "tanh",
    dropout: float = 0.0,
    training: bool = True,
    bidirectional: bool = False,
    batch_first: bool = False,
    lengths: Any = None,
    mask: Any = None,
) -> tuple[Any, Any]:
    """Elman RNN ``h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)``, ``act`` tanh or relu.

    ``input [T, B, I]`` (``[B, T, I]`` with ``batch_first``, or unbatched ``[T, I]``); ``hx``
    ``[L*D, B, H]`` or None (zeros); ``weights``: one ``(w_ih [H, in], w_hh [H, H], b_ih [H] | None,
    b_hh [H] | None)`` per layer and direction, ordered layer 0 forward, layer 0 reverse, layer 1...
    ``dropout`` applies to the input of every layer but the first while ``training``.
    ``lengths [B]`` (ints in ``[0, T]``) or ``mask [B, T]`` (bool, True = valid step) give variable
    lengths: outputs at invalid steps are zero and the state carries over them unchanged.
    Returns ``(output [T, B, D*H], h_n [L*D, B, H])``.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    output, h_n, _ = _stacked(
        f"rnn_{nonlinearity}", input, hx, weights, dropout, training, bidirectional, batch_first, lengths, mask
    )
    return output, h_n


def lstm(
    input: Any,
    hx: Any,
    weights: Sequence[Sequence[Any]],
    dropout: float = 0.0,
    training: bool = True,
    bidirectional: bool = False,
    batch_first: bool = False,
    lengths: Any = None,
    mask: Any = None,
) -> tuple[Any, tuple[Any, Any]]:
    """LSTM over a sequence (gate order i, f, g, o as PyTorch); see :func:`rnn` for the layouts.

    ``hx``: ``(h0 [L*D, B, P], c0 [L*D, B, H])`` or None. ``weights``: per layer and direction
    ``(w_ih [4H, in], w_hh [4H, P], b_ih [4H] | None, b_hh [4H] | None[, w_hr [P, H]])``; with
    ``w_hr`` (a projection, ``P < H``) ``h_t = (o * tanh(c_t)) W_hrᵀ``, else ``P = H``.
    Returns ``(output [T, B, D*P], (h_n [L*D, B, P], c_n [L*D, B, H]))``.
    """
    if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
        raise ValueError("lstm: hx must be a pair (h0, c0) or None")
    output, h_n, c_n = _stacked(
        "lstm", input, hx, weights, dropout, training, bidirectional, batch_first, lengths, mask
    )
    return output, (h_n, c_n)


def gru(
    input: Any,
    hx: Any,
    weights: Sequence[Sequence[Any]],
    dropout: float = 0.0,
    training: bool = True,
    bidirectional: bool = False,
    batch_first: bool = False,
    lengths: Any = None,
    mask: Any = None,
) -> tuple[Any, Any]:
    """GRU over a sequence (gate order r, z, n as PyTorch; ``n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn))``).

    Layouts as :func:`rnn` with ``w_ih [3H, in]``, ``w_hh [3H, H]``, biases ``[3H]``.
    Returns ``(output [T, B, D*H], h_n [L*D, B, H])``.
    """
    output, h_n, _ = _stacked("gru", input, hx, weights, dropout, training, bidirectional, batch_first, lengths, mask)
    return output, h_n


def _cell(mode: str, input: Any, h: Any, c: Any, weights: tuple[Any, ...]) -> tuple[Any, Any]:
    """One step: a length-1 scan of ``input [B, I]`` (or unbatched ``[I]``) from ``h``/``c``."""
    op = f"{_name(mode)}_cell"
    if len(input.shape) not in (1, 2):
        raise ShapeError(f"{op}: expected input [batch, features] or [features], got {tuple(input.shape)}")
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{op}: expected a floating-point input, got {input.dtype}")
    batched = len(input.shape) == 2
    hidden, _ = _check_weights(op, mode, *weights, None, input.shape[-1])
    _check_same(op, input, zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh", "hx", "cx"), (*weights, h, c)))
    x = input.unsqueeze(0) if batched else input.reshape(1, 1, -1)
    batch = x.shape[1]
    states = []
    for name, given in (("hx", h), ("cx", c)) if mode == "lstm" else (("hx", h),):
        if given is None:
            states.append(zeros((batch, hidden), dtype=input.dtype, device=input.device))
            continue
        if tuple(given.shape) != ((batch, hidden) if batched else (hidden,)):
            raise ShapeError(
                f"{op}: {name} must have shape {(batch, hidden) if batched else (hidden,)}, got {tuple(given.shape)}"
            )
        states.append(given if batched else given.reshape(1, hidden))
    _, h_new, c_new = _scan(mode, x, states[0], states[1] if mode == "lstm" else None, weights, None, False)
    if not batched:
        h_new = h_new.reshape(hidden)
        c_new = None if c_new is None else c_new.reshape(hidden)
    return h_new, c_new


def rnn_cell(
    input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None, nonlinearity: str = "tanh"
) -> Any:
    """``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``: ``input [B, I]``, ``hx [B, H]`` or None -> ``[B, H]``."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_cell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return _cell(f"rnn_{nonlinearity}", input, hx, None, (w_ih, w_hh, b_ih, b_hh))[0]


def lstm_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> tuple[Any, Any]:
    """One LSTM step: ``input [B, I]``, ``hx = (h [B, H], c [B, H])`` or None -> ``(h', c')``."""
    if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
        raise ValueError("lstm_cell: hx must be a pair (h, c) or None")
    h, c = (None, None) if hx is None else hx
    return _cell("lstm", input, h, c, (w_ih, w_hh, b_ih, b_hh))


def gru_cell(input: Any, hx: Any, w_ih: Any, w_hh: Any, b_ih: Any = None, b_hh: Any = None) -> Any:
    """One GRU step: ``input [B, I]``, ``hx [B, H]`` or None -> ``h' [B, H]``."""
    return _cell("gru", input, hx, None, (w_ih, w_hh, b_ih, b_hh))[0]

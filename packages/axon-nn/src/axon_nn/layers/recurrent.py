"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` and cells ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Parameter names, shapes and gate order follow PyTorch (``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ``weight_hr_l0``, ``_reverse`` suffix; LSTM i, f, g, o; GRU r, z, n),
so a PyTorch state dict loads as it is. Every parameter starts as U(±1/sqrt(hidden_size)).
"""

from __future__ import annotations

import math
from typing import Any

from .. import functional as F
from .. import init
from ..module import Module
from ._factory import new_parameter

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _reset_uniform(module: Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


class RNNBase(Module):
    """Parameters and options shared by :class:`RNN`, :class:`LSTM` and :class:`GRU`."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if hidden_size <= 0 or num_layers <= 0 or input_size < 0:
            raise ValueError(
                f"{name}: need hidden_size > 0, num_layers > 0, input_size >= 0, got {hidden_size}, {num_layers}, "
                f"{input_size}"
            )
        if not 0.0 <= dropout <= 1.0 or isinstance(dropout, bool):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if proj_size < 0 or (proj_size and (mode != "LSTM" or proj_size >= hidden_size)):
            raise ValueError(
                f"{name}: proj_size must be 0 or in (0, hidden_size) and only LSTM has it, got {proj_size}"
            )
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate_size = _GATES[mode] * hidden_size
        state_size = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        self._suffixes = [
            f"_l{layer}" + ("_reverse" if direction else "")
            for layer in range(num_layers)
            for direction in range(directions)
        ]
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else state_size * directions
            for suffix in self._suffixes[layer * directions : (layer + 1) * directions]:
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, state_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for prefix, shape in shapes:
                    self.register_parameter(prefix + suffix, new_parameter(*shape, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_uniform(self, self.hidden_size)

    def _weights(self) -> list[tuple[Any, ...]]:
        """Per layer and direction ``(w_ih, w_hh, b_ih, b_hh[, w_hr])`` as the functional ops take them."""
        result = []
        for suffix in self._suffixes:
            w = [getattr(self, prefix + suffix) for prefix in ("weight_ih", "weight_hh")]
            w += [getattr(self, prefix + suffix) if self.bias else None for prefix in ("bias_ih", "bias_hh")]
            result.append(tuple(w) + ((getattr(self, "weight_hr" + suffix),) if self.proj_size else ()))
        return result

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text


class RNN(RNNBase):
    """Elman RNN, ``h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)`` with ``act`` tanh or relu.

    ``forward(input, hx=None, lengths=None, mask=None)``: ``input [T, B, I]`` (``[B, T, I]`` with
    ``batch_first``; unbatched ``[T, I]``), ``hx [L*D, B, H]``; ``lengths [B]`` or ``mask [B, T]``
    for variable lengths (see :func:`axon_nn.functional.rnn`). Returns
    ``(output [T, B, D*H], h_n [L*D, B, H])``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(
            f"RNN_{nonlinearity.upper()}",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            0,
            device,
            dtype,
        )
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None, lengths: Any = None, mask: Any = None) -> tuple[Any, Any]:
        return F.rnn(
            input,
            hx,
            self._weights(),
            self.nonlinearity,
            self.dropout,
            self.training,
            self.bidirectional,
            self.batch_first,
            lengths,
            mask,
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """LSTM (gates i, f, g, o), optionally with a projection ``proj_size`` of the hidden state.

    ``forward(input, hx=None, lengths=None, mask=None)`` with ``hx = (h0 [L*D, B, P], c0 [L*D, B, H])``
    (``P = proj_size or hidden_size``). Returns ``(output [T, B, D*P], (h_n, c_n))``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            device,
            dtype,
        )

    def forward(self, input: Any, hx: Any = None, lengths: Any = None, mask: Any = None) -> tuple[Any, tuple[Any, Any]]:
        return F.lstm(
            input, hx, self._weights(), self.dropout, self.training, self.bidirectional, self.batch_first, lengths, mask
        )


class GRU(RNNBase):
    """GRU (gates r, z, n as PyTorch). ``forward(input, hx=None, lengths=None, mask=None)`` as :class:`RNN`."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, device, dtype
        )

    def forward(self, input: Any, hx: Any = None, lengths: Any = None, mask: Any = None) -> tuple[Any, Any]:
        return F.gru(
            input, hx, self._weights(), self.dropout, self.training, self.bidirectional, self.batch_first, lengths, mask
        )


class RNNCellBase(Module):
    """``weight_ih [G*H, I]``, ``weight_hh [G*H, H]``, ``bias_ih``/``bias_hh [G*H]`` for one step."""

    _gates = 1

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        if hidden_size <= 0 or input_size < 0:
            raise ValueError(
                f"{type(self).__name__}: need hidden_size > 0 and input_size >= 0, got {hidden_size}, {input_size}"
            )
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        gate_size = self._gates * hidden_size
        self.weight_ih = new_parameter(gate_size, input_size, device=device, dtype=dtype)
        self.weight_hh = new_parameter(gate_size, hidden_size, device=device, dtype=dtype)
        if bias:
            self.bias_ih = new_parameter(gate_size, device=device, dtype=dtype)
            self.bias_hh = new_parameter(gate_size, device=device, dtype=dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """One Elman step: ``input [B, I]`` (or ``[I]``), ``hx [B, H]`` or None -> ``h' [B, H]``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Any:
        return F.rnn_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTMCell(RNNCellBase):
    """One LSTM step: ``input [B, I]``, ``hx = (h [B, H], c [B, H])`` or None -> ``(h', c')``."""

    _gates = 4

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        return F.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(RNNCellBase):
    """One GRU step: ``input [B, I]``, ``hx [B, H]`` or None -> ``h' [B, H]``."""

    _gates = 3

    def forward(self, input: Any, hx: Any = None) -> Any:
        return F.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)

"""Recurrent ops: float64 finite-difference gradchecks, the masking contract, names, errors.

(PyTorch comparisons with copied weights live in tests-integration/test_nn_recurrent_torch.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

import axon_nn as nn
import axon_nn.functional as F
from axon_autograd import Variable, gradcheck
from axon_core import DTypeError, ShapeError
from axon_tensor import tensor

rng = np.random.default_rng(2024)
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def leaf(*shape: int, scale: float = 0.5) -> Variable:
    return Variable(tensor(rng.standard_normal(shape) * scale), requires_grad=True)


def cell_weights(mode: str, inputs: int, hidden: int, bias: bool = True) -> list[Variable | None]:
    g = GATES[mode] * hidden
    return [leaf(g, inputs), leaf(g, hidden)] + ([leaf(g), leaf(g)] if bias else [None, None])


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_gradcheck(nonlinearity):
    x, h = leaf(3, 4), leaf(3, 5)
    w = cell_weights("rnn", 4, 5)
    assert gradcheck(lambda *a: F.rnn_cell(a[0], a[1], *a[2:], nonlinearity=nonlinearity), (x, h, *w))


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_gradcheck(bias):
    x, h, c = leaf(3, 4), leaf(3, 5), leaf(3, 5)
    w = [p for p in cell_weights("lstm", 4, 5, bias) if p is not None]
    fn = (
        (lambda x, h, c, *w: F.lstm_cell(x, (h, c), *w))
        if bias
        else (lambda x, h, c, wi, wh: F.lstm_cell(x, (h, c), wi, wh))
    )
    assert gradcheck(fn, (x, h, c, *w))


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_gradcheck(bias):
    x, h = leaf(3, 4), leaf(3, 5)
    w = [p for p in cell_weights("gru", 4, 5, bias) if p is not None]
    assert gradcheck(lambda x, h, *w: F.gru_cell(x, h, *w), (x, h, *w))


def test_cells_without_state_start_from_zeros():
    x = leaf(2, 3)
    w = cell_weights("lstm", 3, 4)
    zeros = Variable(tensor(np.zeros((2, 4))))
    for a, b in zip(F.lstm_cell(x, None, *w), F.lstm_cell(x, (zeros, zeros), *w)):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def _lstm_reference(x: np.ndarray, h: np.ndarray, c: np.ndarray, w_ih, w_hh, b_ih, b_hh, w_hr=None):
    """The LSTM equations written out with NumPy (i, f, g, o), one step."""
    sig = lambda v: 1 / (1 + np.exp(-v))
    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
    i, f, g, o = np.split(gates, 4, axis=-1)
    c = sig(f) * c + sig(i) * np.tanh(g)
    h = sig(o) * np.tanh(c)
    return (h if w_hr is None else h @ w_hr.T), c


def test_lstm_cell_forward_matches_the_equations():
    x, h, c = (rng.standard_normal(s) for s in ((3, 4), (3, 5), (3, 5)))
    w = [rng.standard_normal(s) for s in ((20, 4), (20, 5), (20,), (20,))]
    got = F.lstm_cell(tensor(x), (tensor(h), tensor(c)), *map(tensor, w))
    for a, b in zip(got, _lstm_reference(x, h, c, *w)):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-12)


def test_lstm_sequence_with_projection_matches_the_equations_step_by_step():
    seq, batch, inputs, hidden, proj = 4, 2, 3, 5, 2
    x = rng.standard_normal((seq, batch, inputs))
    w = [
        rng.standard_normal(s) * 0.5
        for s in ((4 * hidden, inputs), (4 * hidden, proj), (4 * hidden,), (4 * hidden,), (proj, hidden))
    ]
    out, (h_n, c_n) = F.lstm(tensor(x), None, [tuple(map(tensor, w))])
    h, c = np.zeros((batch, proj)), np.zeros((batch, hidden))
    for t in range(seq):
        h, c = _lstm_reference(x[t], h, c, *w)
        np.testing.assert_allclose(out.numpy()[t], h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.numpy()[0], h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_n.numpy()[0], c, rtol=1e-12, atol=1e-12)


def _layer_weights(mode: str, inputs: int, hidden: int, layers: int, directions: int, proj: int = 0) -> list[Variable]:
    """Flat list of every layer/direction's (w_ih, w_hh, b_ih, b_hh[, w_hr]) as float64 leaves."""
    g, state = GATES[mode] * hidden, proj or hidden
    flat = []
    for layer in range(layers):
        for _ in range(directions):
            flat += [leaf(g, inputs if layer == 0 else directions * state), leaf(g, state), leaf(g), leaf(g)]
            flat += [leaf(proj, hidden)] if proj else []
    return flat


def _group(flat: tuple, size: int) -> list[tuple]:
    return [tuple(flat[i : i + size]) for i in range(0, len(flat), size)]


def test_small_lstm_gradcheck_every_input_and_parameter():
    """2 layers, bidirectional, projection, a mask with holes, given initial states."""
    x, h0, c0 = leaf(3, 2, 2), leaf(4, 2, 2), leaf(4, 2, 3)
    mask = np.array([[True, False, True], [True, True, False]])

    def fn(x, h0, c0, *flat):
        out, (h, c) = F.lstm(x, (h0, c0), _group(flat, 5), bidirectional=True, mask=mask)
        return out, h, c

    assert gradcheck(fn, (x, h0, c0, *_layer_weights("lstm", 2, 3, 2, 2, proj=2)))


@pytest.mark.parametrize("mode", ["rnn_tanh", "rnn_relu", "gru"])
def test_small_rnn_and_gru_gradcheck_with_lengths(mode):
    x, h0 = leaf(2, 4, 2), leaf(4, 2, 2)

    def fn(x, h0, *flat):
        weights = _group(flat, 4)
        if mode == "gru":
            return F.gru(x, h0, weights, bidirectional=True, batch_first=True, lengths=[4, 2])
        return F.rnn(x, h0, weights, mode[4:], bidirectional=True, batch_first=True, lengths=[4, 2])

    assert gradcheck(fn, (x, h0, *_layer_weights("gru" if mode == "gru" else "rnn", 2, 2, 2, 2)))


def test_masked_steps_give_zero_output_and_carry_the_state():
    model = nn.GRU(3, 4, bidirectional=True, dtype="float64")
    x = tensor(rng.standard_normal((5, 2, 3)))
    out, h_n = model(x, lengths=[5, 2])
    full_out, full_h = model(x[:2, 1:2])
    np.testing.assert_array_equal(out.detach().numpy()[2:, 1], 0.0)
    np.testing.assert_allclose(out.detach().numpy()[:2, 1:2], full_out.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(h_n.detach().numpy()[:, 1:2], full_h.detach().numpy(), rtol=1e-13)


def test_zero_length_keeps_the_initial_state_and_passes_its_gradient():
    model = nn.LSTM(2, 3, dtype="float64")
    x, h0, c0 = leaf(4, 2, 2), leaf(1, 2, 3), leaf(1, 2, 3)
    out, (h, c) = model(x, (h0, c0), lengths=np.array([0, 4]))
    np.testing.assert_array_equal(out.detach().numpy()[:, 0], 0.0)
    np.testing.assert_array_equal(h.detach().numpy()[:, 0], h0.detach().numpy()[:, 0])
    np.testing.assert_array_equal(c.detach().numpy()[:, 0], c0.detach().numpy()[:, 0])
    (h.sum() + 2 * c.sum() + out.sum()).backward()
    np.testing.assert_array_equal(h0.grad.numpy()[:, 0], 1.0)
    np.testing.assert_array_equal(c0.grad.numpy()[:, 0], 2.0)
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], 0.0)


def test_nan_padding_never_reaches_outputs_or_gradients():
    model = nn.LSTM(2, 3, num_layers=2, bidirectional=True, dtype="float64")
    data = rng.standard_normal((4, 2, 2))
    padded = data.copy()
    padded[3:, 1] = np.nan
    data[3:, 1] = 0.0
    results = []
    for array in (padded, data):
        model.zero_grad()
        x = Variable(tensor(array), requires_grad=True)
        out, (h, c) = model(x, lengths=[4, 3])
        (out.sum() + h.sum() + c.sum()).backward()
        results.append(
            [out.detach().numpy(), h.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in model.parameters()]
        )
    for a, b in zip(*results):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)


def test_empty_sequence_returns_the_initial_state():
    model = nn.GRU(2, 3, num_layers=2, dtype="float64")
    x, h0 = leaf(0, 2, 2), leaf(2, 2, 3)
    out, h = model(x, h0)
    assert tuple(out.shape) == (0, 2, 3)
    np.testing.assert_array_equal(h.detach().numpy(), h0.detach().numpy())
    h.sum().backward()
    np.testing.assert_array_equal(h0.grad.numpy(), 1.0)


def test_parameter_names_and_shapes_follow_pytorch():
    model = nn.LSTM(3, 8, num_layers=2, bidirectional=True, proj_size=4, bias=False)
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    assert shapes == {
        "weight_ih_l0": (32, 3),
        "weight_hh_l0": (32, 4),
        "weight_hr_l0": (4, 8),
        "weight_ih_l0_reverse": (32, 3),
        "weight_hh_l0_reverse": (32, 4),
        "weight_hr_l0_reverse": (4, 8),
        "weight_ih_l1": (32, 8),
        "weight_hh_l1": (32, 4),
        "weight_hr_l1": (4, 8),
        "weight_ih_l1_reverse": (32, 8),
        "weight_hh_l1_reverse": (32, 4),
        "weight_hr_l1_reverse": (4, 8),
    }
    assert list(nn.GRUCell(3, 5).state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert repr(nn.GRU(3, 5, num_layers=2, batch_first=True)) == "GRU(3, 5, num_layers=2, batch_first=True)"


def test_float32_module_keeps_float32():
    model = nn.LSTM(3, 4, num_layers=2)
    out, (h, c) = model(Variable(tensor(rng.standard_normal((5, 2, 3)).astype(np.float32))))
    assert out.dtype.name == h.dtype.name == c.dtype.name == "float32"
    out.sum().backward()
    assert all(p.grad.dtype.name == "float32" for p in model.parameters())


def test_bad_inputs_raise_typed_errors():
    model = nn.LSTM(3, 4, num_layers=2, dtype="float64")
    x = tensor(rng.standard_normal((5, 2, 3)))
    with pytest.raises(ShapeError, match="lstm: input has 2 features"):
        model(tensor(rng.standard_normal((5, 2, 2))))
    with pytest.raises(ShapeError, match="lstm: expected input"):
        model(tensor(rng.standard_normal((5, 2, 3, 1))))
    with pytest.raises(ShapeError, match=r"lstm: h0 must have shape \(2, 2, 4\)"):
        model(x, (tensor(np.zeros((1, 2, 4))), tensor(np.zeros((2, 2, 4)))))
    with pytest.raises(DTypeError, match="lstm: weight_ih has dtype axon.float64, input has axon.float32"):
        model(tensor(rng.standard_normal((5, 2, 3)).astype(np.float32)))
    with pytest.raises(DTypeError, match="floating-point"):
        model(tensor(np.ones((5, 2, 3), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"lengths must lie in \[0, 5\]"):
        model(x, lengths=[6, 1])
    with pytest.raises(ShapeError, match="lengths must be 2 integers"):
        model(x, lengths=[1, 2, 3])
    with pytest.raises(ShapeError, match="mask must be a bool"):
        model(x, mask=np.ones((5, 2), dtype=bool))
    with pytest.raises(ValueError, match="not both"):
        model(x, lengths=[1, 2], mask=np.ones((2, 5), dtype=bool))
    with pytest.raises(ValueError, match="hx must be a pair"):
        model(x, tensor(np.zeros((2, 2, 4))))
    with pytest.raises(ValueError, match="gru: hx must be one tensor"):
        nn.GRU(3, 4).double()(x, (tensor(np.zeros((1, 2, 4))),))
    with pytest.raises(ShapeError, match=r"gru_cell: hx must have shape \(2, 4\)"):
        nn.GRUCell(3, 4).double()(x[0], tensor(np.zeros((2, 5))))
    with pytest.raises(TypeError, match="proj_size"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        nn.LSTM(3, 4, dropout=1.5)

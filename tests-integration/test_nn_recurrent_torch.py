"""axon-nn's RNN/LSTM/GRU and their cells against PyTorch 2.13 CPU with copied weights.

Each case builds the layer in both frameworks with the same constructor arguments, loads
PyTorch's state_dict into axon's, runs both on the same input (and initial state), then
back-propagates the same random cotangents of the output and of the final states and compares
outputs, final states, the input and initial-state gradients and every parameter's gradient.
Variable lengths are compared with ``pack_padded_sequence`` / ``pad_packed_sequence``; masks with
holes against a step-by-step loop over PyTorch's cells.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

import axon_nn as nn  # noqa: E402
from axon_autograd import Variable  # noqa: E402
from axon_tensor import default_generator, manual_seed, tensor  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]

SEQ, BATCH, INPUT, HIDDEN = 5, 3, 4, 6
LENGTHS = np.array([3, 5, 1])
MODES = {
    "rnn_tanh": ("RNN", {"nonlinearity": "tanh"}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {}),
}


def _pair(mode: str, kwargs: dict, dtype: str = "float64", seed: int = 0) -> tuple[Any, Any]:
    name, extra = MODES[mode]
    torch.manual_seed(seed)
    th = getattr(torch.nn, name)(INPUT, HIDDEN, **extra, **kwargs).to(getattr(torch, dtype))
    ax = getattr(nn, name)(INPUT, HIDDEN, **extra, **kwargs).to(dtype)
    result = ax.load_state_dict({k: v.detach().numpy() for k, v in th.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    assert [n for n, _ in ax.named_parameters()] == [n for n, _ in th.named_parameters()]
    return th, ax


def _leaf(array: np.ndarray) -> tuple[Any, Any]:
    return Variable(tensor(array), requires_grad=True), torch.tensor(array, requires_grad=True)


def _states(out: Any) -> list[Any]:
    return list(out) if isinstance(out, tuple) else [out]


def _assert_close(a: Any, t: Any, tol: float, what: str) -> None:
    assert a is not None and t is not None, f"{what}: missing gradient"
    a = a.detach().numpy() if isinstance(a, Variable) else a.numpy()
    np.testing.assert_allclose(a, t.detach().numpy(), rtol=tol, atol=tol, err_msg=what)


def run_both(
    mode: str,
    kwargs: dict,
    with_hx: bool = False,
    lengths: np.ndarray | None = None,
    dtype: str = "float64",
    train: bool = False,
    tol: float = 1e-10,
    seed: int = 0,
    seq: int = SEQ,
    batch: int = BATCH,
) -> None:
    th, ax = _pair(mode, kwargs, dtype, seed)
    th.train(train)
    ax.train(train)
    rng = np.random.default_rng(seed)
    batch_first = kwargs.get("batch_first", False)
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1)
    state_size = kwargs.get("proj_size") or HIDDEN
    x = rng.standard_normal((batch, seq, INPUT) if batch_first else (seq, batch, INPUT)).astype(dtype)
    ax_x, th_x = _leaf(x)
    ax_hx = th_hx = None
    leaves = [(ax_x, th_x, "input")]
    if with_hx:
        shapes = [(layers * directions, batch, state_size)] + (
            [(layers * directions, batch, HIDDEN)] if mode == "lstm" else []
        )
        pairs = [_leaf(rng.standard_normal(s).astype(dtype)) for s in shapes]
        leaves += [(a, t, f"initial state {i}") for i, (a, t) in enumerate(pairs)]
        ax_hx = tuple(a for a, _ in pairs) if mode == "lstm" else pairs[0][0]
        th_hx = tuple(t for _, t in pairs) if mode == "lstm" else pairs[0][1]
    if lengths is None:
        th_out, th_state = th(th_x, th_hx)
        ax_out, ax_state = ax(ax_x, ax_hx)
    else:
        packed = pack_padded_sequence(th_x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        th_packed, th_state = th(packed, th_hx)
        th_out, _ = pad_packed_sequence(th_packed, batch_first=batch_first, total_length=seq)
        ax_out, ax_state = ax(ax_x, ax_hx, lengths=lengths)
    th_outs, ax_outs = [th_out] + _states(th_state), [ax_out] + _states(ax_state)
    for i, (a, t) in enumerate(zip(ax_outs, th_outs)):
        assert tuple(a.shape) == tuple(t.shape), f"output {i}: {tuple(a.shape)} vs {tuple(t.shape)}"
        _assert_close(a, t, tol, f"{mode} {kwargs} output {i}")
    cotangents = [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in th_outs]
    sum(Variable(tensor(c)).mul(a).sum() for a, c in zip(ax_outs, cotangents)).backward()
    sum((t * torch.tensor(c)).sum() for t, c in zip(th_outs, cotangents)).backward()
    for a, t, what in leaves:
        _assert_close(a.grad, t.grad, tol, f"{mode} {kwargs} grad of {what}")
    th_params = dict(th.named_parameters())
    for name, param in ax.named_parameters():
        _assert_close(param.grad, th_params[name].grad, tol, f"{mode} {kwargs} grad of {name}")


# Every mode x depth x direction, each with four combinations that turn every other option on and off.
OPTION_SETS = [
    dict(batch_first=False, with_hx=False, bias=True, lengths=None),
    dict(batch_first=True, with_hx=True, bias=False, lengths=LENGTHS),
    dict(batch_first=False, with_hx=True, bias=True, lengths=LENGTHS),
    dict(batch_first=True, with_hx=False, bias=True, lengths=None),
]


@pytest.mark.parametrize(
    "options", OPTION_SETS, ids=lambda o: "-".join(f"{k}={v is not None and v is not False}" for k, v in o.items())
)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("mode", list(MODES))
def test_layers_match_torch(mode, num_layers, bidirectional, options):
    options = dict(options)
    kwargs = dict(
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=options.pop("batch_first"),
        bias=options.pop("bias"),
    )
    run_both(mode, kwargs, **options)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_hx, lengths", [(False, None), (True, LENGTHS)])
def test_lstm_projection_matches_torch(bidirectional, with_hx, lengths):
    run_both("lstm", dict(num_layers=2, bidirectional=bidirectional, proj_size=3), with_hx=with_hx, lengths=lengths)


@pytest.mark.parametrize("mode", list(MODES))
def test_float32_matches_torch(mode):
    run_both(
        mode, dict(num_layers=2, bidirectional=True), with_hx=True, lengths=LENGTHS, dtype="float32", tol=2e-5, seq=12
    )


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_every_length_equal_to_seq_matches_unpacked(mode):
    run_both(mode, dict(num_layers=2, bidirectional=True), with_hx=True, lengths=np.full(BATCH, SEQ))


@pytest.mark.parametrize("mode", list(MODES))
def test_empty_batch_matches_torch(mode):
    run_both(mode, dict(num_layers=2, bidirectional=True), batch=0)


@pytest.mark.parametrize("mode", list(MODES))
def test_eval_mode_dropout_is_the_identity_like_torch(mode):
    run_both(mode, dict(num_layers=3, dropout=0.5, bidirectional=True), with_hx=True, train=False)


def _torch_layer(th: Any, layer: int, directions: int) -> Any:
    """A one-layer PyTorch net holding layer ``layer`` of ``th``'s weights."""
    extra = {"nonlinearity": th.nonlinearity} if isinstance(th, torch.nn.RNN) else {}
    size = th.input_size if layer == 0 else directions * th.hidden_size
    single = type(th)(size, th.hidden_size, bidirectional=directions == 2, **extra).double()
    single.load_state_dict({k.replace(f"_l{layer}", "_l0"): v for k, v in th.state_dict().items() if f"_l{layer}" in k})
    return single


@pytest.mark.parametrize("mode", list(MODES))
def test_train_mode_dropout_equals_torch_with_the_same_masks(mode):
    """Dropout draws one ``[T, B, D*H]`` keep-mask per layer after the first from axon's seeded
    generator; PyTorch layer by layer with those masks applied between layers must agree exactly."""
    p, layers, directions = 0.4, 3, 2
    th, ax = _pair(mode, dict(num_layers=layers, dropout=p, bidirectional=True))
    ax.train()
    x = np.random.default_rng(3).standard_normal((SEQ, BATCH, INPUT))
    ax_x, th_x = _leaf(x)
    manual_seed(1234)
    ax_out, ax_state = ax(ax_x)
    manual_seed(1234)
    masks = [
        default_generator.numpy_generator.random((SEQ, BATCH, directions * HIDDEN)) >= p for _ in range(layers - 1)
    ]
    assert all(0.3 < 1 - m.mean() < 0.5 for m in masks)
    layer_input, finals = th_x, []
    for layer in range(layers):
        if layer:
            layer_input = layer_input * torch.tensor(masks[layer - 1] / (1 - p))
        layer_input, state = _torch_layer(th, layer, directions)(layer_input)
        finals.append(state)
    _assert_close(ax_out, layer_input, 1e-10, "output")
    th_h = torch.cat([s[0] if isinstance(s, tuple) else s for s in finals])
    _assert_close(_states(ax_state)[0], th_h, 1e-10, "h_n")
    cotangent = np.random.default_rng(4).standard_normal(tuple(layer_input.shape))
    ax_out.backward(tensor(cotangent))
    layer_input.backward(torch.tensor(cotangent))
    _assert_close(ax_x.grad, th_x.grad, 1e-10, "input grad")
    # Train mode differs from eval mode: the masks did something.
    ax.eval()
    assert not np.allclose(ax(ax_x)[0].detach().numpy(), ax_out.detach().numpy())


def _torch_masked_reference(th: Any, mode: str, x: Any, mask: np.ndarray) -> tuple[Any, Any]:
    """Step-by-step with PyTorch's cells: a masked-out step keeps the state and outputs zero."""
    name, extra = MODES[mode]
    directions = 2 if th.bidirectional else 1
    state_dict = th.state_dict()
    layer_input, finals = x, []
    for layer in range(th.num_layers):
        outputs = []
        for d in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            cell = getattr(torch.nn, name + "Cell")(layer_input.shape[-1], th.hidden_size, **extra).double()
            for key in state_dict:
                if key.endswith(suffix):  # share th's Parameters so its gradients are filled in
                    setattr(cell, key[: -len(suffix)], getattr(th, key))
            h = torch.zeros(x.shape[1], th.hidden_size, dtype=torch.float64)
            c = torch.zeros_like(h)
            steps = [None] * x.shape[0]
            for t in reversed(range(x.shape[0])) if d else range(x.shape[0]):
                valid = torch.tensor(mask[:, t])[:, None]
                if mode == "lstm":
                    h_new, c_new = cell(layer_input[t], (h, c))
                    c = torch.where(valid, c_new, c)
                else:
                    h_new = cell(layer_input[t], h)
                h = torch.where(valid, h_new, h)
                steps[t] = torch.where(valid, h_new, torch.zeros_like(h_new))
            outputs.append(torch.stack(steps))
            finals.append(h)
        layer_input = torch.cat(outputs, dim=2)
    return layer_input, torch.stack(finals)


@pytest.mark.parametrize("mode", list(MODES))
def test_mask_with_holes_matches_a_stepwise_torch_loop(mode):
    th, ax = _pair(mode, dict(num_layers=2, bidirectional=True))
    mask = np.array([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [1, 1, 0, 1, 1]], dtype=bool)
    x = np.random.default_rng(5).standard_normal((SEQ, BATCH, INPUT))
    ax_x, th_x = _leaf(x)
    th_out, th_h = _torch_masked_reference(th, mode, th_x, mask)
    ax_out, ax_state = ax(ax_x, mask=mask)
    _assert_close(ax_out, th_out, 1e-10, "output")
    _assert_close(_states(ax_state)[0], th_h, 1e-10, "h_n")
    rng = np.random.default_rng(6)
    co_out, co_h = rng.standard_normal(tuple(th_out.shape)), rng.standard_normal(tuple(th_h.shape))
    (ax_out.mul(Variable(tensor(co_out))).sum() + _states(ax_state)[0].mul(Variable(tensor(co_h))).sum()).backward()
    ((th_out * torch.tensor(co_out)).sum() + (th_h * torch.tensor(co_h)).sum()).backward()
    _assert_close(ax_x.grad, th_x.grad, 1e-10, "input grad")
    th_params = dict(th.named_parameters())
    for name, param in ax.named_parameters():
        _assert_close(param.grad, th_params[name].grad, 1e-10, f"grad of {name}")


def test_lengths_equal_the_matching_prefix_mask():
    _, ax = _pair("lstm", dict(num_layers=2, bidirectional=True, batch_first=True))
    x = Variable(tensor(np.random.default_rng(7).standard_normal((BATCH, SEQ, INPUT))))
    by_lengths = ax(x, lengths=LENGTHS)
    by_mask = ax(x, mask=np.arange(SEQ)[None, :] < LENGTHS[:, None])
    for a, b in zip([by_lengths[0], *by_lengths[1]], [by_mask[0], *by_mask[1]]):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_non_contiguous_input_matches_torch():
    th, ax = _pair("gru", dict(num_layers=2, bidirectional=True))
    x = np.random.default_rng(8).standard_normal((SEQ, BATCH, 2 * INPUT))
    ax_x, th_x = _leaf(x)
    ax_out, ax_h = ax(ax_x[:, :, ::2])
    th_out, th_h = th(th_x[:, :, ::2])
    _assert_close(ax_out, th_out, 1e-10, "output")
    (ax_out.sum() + ax_h.sum()).backward()
    (th_out.sum() + th_h.sum()).backward()
    _assert_close(ax_x.grad, th_x.grad, 1e-10, "input grad")


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(mode, with_hx, bias, batched):
    name, extra = MODES[mode]
    torch.manual_seed(0)
    th = getattr(torch.nn, name + "Cell")(INPUT, HIDDEN, bias=bias, **extra).double()
    ax = getattr(nn, name + "Cell")(INPUT, HIDDEN, bias=bias, **extra).double()
    ax.load_state_dict({k: v.numpy() for k, v in th.state_dict().items()})
    rng = np.random.default_rng(1)
    lead = (BATCH,) if batched else ()
    ax_x, th_x = _leaf(rng.standard_normal(lead + (INPUT,)))
    leaves = [(ax_x, th_x, "input")]
    ax_hx = th_hx = None
    if with_hx:
        pairs = [_leaf(rng.standard_normal(lead + (HIDDEN,))) for _ in range(2 if mode == "lstm" else 1)]
        leaves += [(a, t, f"state {i}") for i, (a, t) in enumerate(pairs)]
        ax_hx = tuple(a for a, _ in pairs) if mode == "lstm" else pairs[0][0]
        th_hx = tuple(t for _, t in pairs) if mode == "lstm" else pairs[0][1]
    ax_outs, th_outs = _states(ax(ax_x, ax_hx)), _states(th(th_x, th_hx))
    cotangents = [rng.standard_normal(tuple(t.shape)) for t in th_outs]
    for a, t in zip(ax_outs, th_outs):
        _assert_close(a, t, 1e-12, f"{name}Cell output")
    sum(a.mul(Variable(tensor(c))).sum() for a, c in zip(ax_outs, cotangents)).backward()
    sum((t * torch.tensor(c)).sum() for t, c in zip(th_outs, cotangents)).backward()
    for a, t, what in leaves:
        _assert_close(a.grad, t.grad, 1e-12, f"{name}Cell grad of {what}")
    th_params = dict(th.named_parameters())
    for pname, param in ax.named_parameters():
        _assert_close(param.grad, th_params[pname].grad, 1e-12, f"{name}Cell grad of {pname}")


@pytest.mark.parametrize("mode", list(MODES))
def test_unbatched_sequence_matches_torch(mode):
    th, ax = _pair(mode, dict(num_layers=2, bidirectional=True))
    rng = np.random.default_rng(2)
    ax_x, th_x = _leaf(rng.standard_normal((SEQ, INPUT)))
    ax_out, ax_state = ax(ax_x)
    th_out, th_state = th(th_x)
    for a, t in zip([ax_out] + _states(ax_state), [th_out] + _states(th_state)):
        _assert_close(a, t, 1e-12, "unbatched output")
    (ax_out.sum() + _states(ax_state)[0].sum()).backward()
    (th_out.sum() + _states(th_state)[0].sum()).backward()
    _assert_close(ax_x.grad, th_x.grad, 1e-12, "unbatched input grad")


def test_default_init_has_torchs_distribution():
    """Every parameter U(±1/sqrt(hidden)): same bounds as PyTorch's and spread over them."""
    hidden = 64
    for ax, th in [
        (
            nn.LSTM(32, hidden, num_layers=2, bidirectional=True, proj_size=16),
            torch.nn.LSTM(32, hidden, num_layers=2, bidirectional=True, proj_size=16),
        ),
        (nn.GRUCell(32, hidden), torch.nn.GRUCell(32, hidden)),
    ]:
        th_params = dict(th.named_parameters())
        assert [n for n, _ in ax.named_parameters()] == list(th_params)
        for name, p in ax.named_parameters():
            values, reference = p.detach().numpy(), th_params[name].detach().numpy()
            assert values.shape == reference.shape
            bound = 1 / np.sqrt(hidden)
            assert np.abs(values).max() <= bound and np.abs(reference).max() <= bound
            # Uniform on [-b, b] has std b/sqrt(3); both samples must be close to it.
            assert abs(values.std() - bound / np.sqrt(3)) < 0.1 * bound, name
            assert abs(values.std() - reference.std()) < 0.1 * bound, name


def test_all_option_combinations_of_a_small_lstm():
    """The full product of the boolean options for a 2-layer LSTM (the matrix above samples it)."""
    for batch_first, with_hx, bias, use_lengths, bidirectional in itertools.product([False, True], repeat=5):
        run_both(
            "lstm",
            dict(num_layers=2, batch_first=batch_first, bias=bias, bidirectional=bidirectional),
            with_hx=with_hx,
            lengths=LENGTHS if use_lengths else None,
        )

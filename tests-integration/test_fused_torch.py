"""The backend's reference fused ops (what the CPU runs) against PyTorch 2.13 CPU, forward and backward."""

from __future__ import annotations

import math

import numpy as np
import pytest

from axon_core import Device, DTypeError, ShapeError
from axon_core.backend import Backend
from axon_core.backend.reference import attention as attention_reference

torch = pytest.importorskip("torch")
F = torch.nn.functional

pytestmark = pytest.mark.torch
backend = Device("cpu").backend
rng = np.random.default_rng(0)


def randn(*shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def tt(a, grad=False):
    return torch.tensor(np.ascontiguousarray(a), requires_grad=grad)


def close(ours, theirs, tol=1e-10):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(
        np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64), rtol=tol, atol=tol
    )


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_matches_torch(approximate):
    """Finite inputs against torch; gelu(+inf) = +inf by the definition. Torch does not see the
    infinities: its answer there depends on the CPU and on where the value falls (#10, and
    tools/torch_nonfinite_probe.py); gelu(-inf) (limit 0, axon gives NaN) is a strict xfail in
    packages/axon-tensor/tests/test_activation.py."""
    finite_x = np.concatenate([randn(200) * 4, [0.0, -30.0, 30.0, 1e-8]])
    g = randn(finite_x.size)
    xt = tt(finite_x, True)
    yt = F.gelu(xt, approximate=approximate)
    yt.backward(tt(g))
    out = backend.gelu(np.concatenate([finite_x, [np.inf]]), approximate)
    close(out[:-1], yt, 1e-13)
    assert out[-1] == np.inf
    close(backend.gelu_backward(g, finite_x, approximate), xt.grad, 1e-13)


def test_gelu_float32_and_bad_mode():
    x = randn(64, dtype=np.float32)
    assert backend.gelu(x).dtype == np.float32
    close(backend.gelu(x), F.gelu(tt(x)), 1e-6)
    with pytest.raises(ValueError, match="approximate"):
        backend.gelu(x, "fast")


def test_silu_and_swiglu_match_torch():
    gate, up, g = randn(4, 7), randn(4, 7), randn(4, 7)
    gt, ut = tt(gate, True), tt(up, True)
    out = F.silu(gt) * ut
    out.backward(tt(g))
    close(backend.swiglu(gate, up), out)
    d_gate, d_up = backend.swiglu_backward(g, gate, up)
    close(d_gate, gt.grad)
    close(d_up, ut.grad)
    close(backend.silu(gate), F.silu(tt(gate)))
    with pytest.raises(ShapeError, match="swiglu"):
        backend.swiglu(gate, up[:, :3])


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_causal_matches_torch(causal, log):
    x = randn(2, 3, 4, 6)
    g = randn(2, 3, 4, 6)
    xt = tt(x, True)
    scores = xt
    if causal:
        mask = torch.ones(4, 6, dtype=torch.bool).tril(diagonal=2)
        scores = xt.masked_fill(~mask, -math.inf)
    yt = (F.log_softmax if log else F.softmax)(scores, dim=-1)
    yt.backward(tt(np.where(np.isfinite(yt.detach().numpy()), g, 0.0)) if log else tt(g))
    ours = (backend.log_softmax if log else backend.softmax)(x, -1, causal=causal)
    close(ours, yt)
    grad_in = np.where(np.isfinite(ours), g, 0.0) if log else g
    backward = backend.log_softmax_backward if log else backend.softmax_backward
    close(backward(grad_in, ours, -1, causal=causal), xt.grad)


def test_softmax_other_dim_and_errors():
    x = randn(3, 5, 2)
    close(backend.softmax(x, 1), F.softmax(tt(x), 1))
    with pytest.raises(ShapeError, match="causal"):
        backend.softmax(randn(5, 3), -1, causal=True)
    with pytest.raises(ShapeError, match="last dim"):
        backend.softmax(x, 0, causal=True)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(affine):
    x, g = randn(3, 4, 10) * 3 + 1, randn(3, 4, 10)
    w, b = (randn(10), randn(10)) if affine else (None, None)
    xt = tt(x, True)
    wt, bt = (tt(w, True), tt(b, True)) if affine else (None, None)
    yt = F.layer_norm(xt, (10,), wt, bt, 1e-5)
    yt.backward(tt(g))
    y, mean, rstd = backend.layer_norm(x, w, b, 1e-5)
    close(y, yt)
    close(mean, x.mean(-1))
    dx, dw, db = backend.layer_norm_backward(g, x, w, mean, rstd, has_bias=affine)
    close(dx, xt.grad)
    if affine:
        close(dw, wt.grad)
        close(db, bt.grad)
    else:
        assert dw is None and db is None
    with pytest.raises(ShapeError, match="layer_norm"):
        backend.layer_norm(x, randn(9), None, 1e-5)


def test_layer_norm_half_precision_returns_input_dtype():
    x = randn(4, 32, dtype=np.float16)
    y, mean, rstd = backend.layer_norm(x, None, None, 1e-5)
    assert y.dtype == np.float16 and mean.dtype == np.float32
    close(y, F.layer_norm(tt(x.astype(np.float32)), (32,)), 2e-3)


def test_rms_norm_matches_torch():
    x, g, w = randn(5, 8), randn(5, 8), randn(8)
    xt, wt = tt(x, True), tt(w, True)
    yt = F.rms_norm(xt, (8,), wt, 1e-6)
    yt.backward(tt(g))
    y, rstd = backend.rms_norm(x, w, 1e-6)
    close(y, yt)
    dx, dw = backend.rms_norm_backward(g, x, w, rstd)
    close(dx, xt.grad)
    close(dw, wt.grad)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_matches_torch(smoothing, weighted):
    logits = randn(7, 5) * 3
    target = np.array([0, 4, -100, 2, 1, -100, 3])
    weight = np.abs(randn(5)) + 0.1 if weighted else None
    lt = tt(logits, True)
    loss_t = F.cross_entropy(
        lt,
        torch.tensor(target),
        weight=tt(weight) if weighted else None,
        ignore_index=-100,
        label_smoothing=smoothing,
        reduction="none",
    )
    upstream = randn(7)
    loss_t.backward(tt(upstream))
    loss, lse = backend.cross_entropy(logits, target, weight, -100, smoothing)
    close(loss, loss_t)
    close(backend.cross_entropy_backward(upstream, logits, target, lse, weight, -100, smoothing), lt.grad)


def test_cross_entropy_mean_reduction_and_bad_targets():
    logits, target, weight = randn(6, 4), np.array([1, 0, 3, -1, 2, 2]), np.abs(randn(4)) + 0.5
    expected = F.cross_entropy(
        tt(logits), torch.tensor(target), weight=tt(weight), ignore_index=-1, label_smoothing=0.1
    )
    loss, _ = backend.cross_entropy(logits, target, weight, -1, 0.1)
    kept = target != -1
    close(loss.sum() / weight[target[kept]].sum(), expected)
    with pytest.raises(IndexError, match="outside"):
        backend.cross_entropy(logits, np.array([0, 1, 2, 3, 4, 0]), None)
    with pytest.raises(DTypeError, match="integer"):
        backend.cross_entropy(logits, target.astype(np.float32), None)


def test_embedding_and_backward_with_padding():
    weight = randn(10, 4)
    indices = np.array([[1, 3, 3], [0, 9, 3]])
    g = randn(2, 3, 4)
    wt = tt(weight, True)
    out = F.embedding(torch.tensor(indices), wt, padding_idx=3)
    out.backward(tt(g))
    close(backend.embedding(weight, indices), out)
    close(backend.embedding_backward(g, indices, 10, padding_idx=3), wt.grad)
    close(backend.embedding_backward(g, indices, 10, padding_idx=-7), wt.grad)
    with pytest.raises(IndexError, match="indices"):
        backend.embedding(weight, np.array([10]))


@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("maximize", [False, True])
def test_adam_step_matches_torch(decoupled, amsgrad, maximize):
    param = randn(6, 3, dtype=np.float32)
    p_t = torch.nn.Parameter(tt(param.copy()))
    options = dict(lr=1e-2, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1, amsgrad=amsgrad, maximize=maximize)
    optimizer = (torch.optim.AdamW if decoupled else torch.optim.Adam)([p_t], foreach=False, **options)
    m, v = np.zeros_like(param), np.zeros_like(param)
    vmax = np.zeros_like(param) if amsgrad else None
    for step in range(1, 4):
        grad = randn(6, 3, dtype=np.float32)
        p_t.grad = tt(grad)
        optimizer.step()
        backend.adam_step(
            param,
            grad,
            m,
            v,
            vmax,
            step=step,
            lr=1e-2,
            beta1=0.8,
            beta2=0.95,
            eps=1e-6,
            weight_decay=0.1,
            decoupled=decoupled,
            amsgrad=amsgrad,
            maximize=maximize,
        )
    close(param, p_t, 1e-6)
    close(m, optimizer.state[p_t]["exp_avg"], 1e-6)
    close(v, optimizer.state[p_t]["exp_avg_sq"], 1e-6)


def test_strided_copy_makes_contiguous():
    base = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    view = base.transpose(2, 0, 1)[:, ::2]
    out = backend.strided_copy(view)
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(out, view)


@pytest.mark.parametrize(
    "params", [dict(kernel_size=3), dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0), dilation=(1, 2))]
)
def test_im2col_col2im_match_unfold_fold(params):
    x = randn(2, 3, 7, 8)
    cols = backend.im2col(x, **params)
    close(cols, F.unfold(tt(x), **params))
    back = backend.col2im(cols, (7, 8), **params)
    close(back, F.fold(tt(cols), (7, 8), **params))


@pytest.mark.parametrize(
    "params",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), dilation=(2, 1), ceil_mode=True),
        dict(kernel_size=3, stride=2, ceil_mode=True),
    ],
)
def test_max_pool2d_matches_torch(params):
    x = randn(2, 3, 9, 8)
    x[0, 0, 0, :2] = x[0, 0, 0, 2]  # ties: the first wins in both
    xt = tt(x, True)
    out_t, idx_t = F.max_pool2d(xt, return_indices=True, **params)
    g = randn(*out_t.shape)
    out_t.backward(tt(g))
    out, idx = backend.max_pool2d(x, **params)
    close(out, out_t)
    np.testing.assert_array_equal(idx, idx_t.numpy())
    close(backend.max_pool2d_backward(g, idx, x.shape), xt.grad)


@pytest.mark.parametrize(
    "params",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), dilation=(2, 1), ceil_mode=True),
        dict(kernel_size=3, stride=1, padding=1),
    ],
)
@pytest.mark.parametrize("implementation", ["cpu kernel", "reference"])
def test_max_pool2d_nan_and_inf_indices_match_torch(params, implementation):
    # PyTorch: the first maximum wins, every NaN replaces what came before (the last NaN wins),
    # and a window of -inf points at its first pixel inside the image.
    x = randn(2, 3, 9, 8, dtype=np.float32)
    draw = rng.random(x.shape)
    x[draw < 0.15] = np.nan
    x[(draw >= 0.15) & (draw < 0.3)] = -np.inf
    x[1, 2] = -np.inf
    pool = backend.max_pool2d if implementation == "cpu kernel" else Backend.max_pool2d.__get__(backend)
    out, idx = pool(x, **params)
    out_t, idx_t = F.max_pool2d(tt(x), return_indices=True, **params)
    np.testing.assert_array_equal(out, out_t.numpy())
    np.testing.assert_array_equal(idx, idx_t.numpy())


@pytest.mark.parametrize(
    "params", [dict(kernel_size=5, padding=2), dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 0), dilation=(1, 2))]
)
def test_conv2d_columns_batched_layout_match_unfold_fold(params):
    x = randn(3, 2, 9, 8, dtype=np.float32)
    cols = backend.im2col(x, **params, batched_columns=True)
    unfolded = F.unfold(tt(x), **params).numpy()
    np.testing.assert_array_equal(cols, unfolded.transpose(1, 0, 2).reshape(unfolded.shape[1], -1))
    np.testing.assert_array_equal(
        backend.col2im(cols, (9, 8), **params, batched_columns=True), F.fold(tt(unfolded), (9, 8), **params).numpy()
    )


def test_max_pool2d_nan_propagates():
    x = randn(1, 1, 4, 4)
    x[0, 0, 1, 1] = np.nan
    out, idx = backend.max_pool2d(x, 2)
    assert np.isnan(out[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 5
    with pytest.raises(DTypeError, match="floating"):
        backend.max_pool2d(np.zeros((1, 1, 4, 4), np.int32), 2)
    with pytest.raises(ValueError, match="half"):
        backend.max_pool2d(x, 2, padding=2)


@pytest.mark.parametrize(
    "params",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        dict(kernel_size=(2, 3), stride=1, padding=(1, 1), divisor_override=5),
    ],
)
def test_avg_pool2d_matches_torch(params):
    x = randn(2, 2, 7, 6)
    xt = tt(x, True)
    out_t = F.avg_pool2d(xt, **params)
    g = randn(*out_t.shape)
    out_t.backward(tt(g))
    close(backend.avg_pool2d(x, **params), out_t)
    close(backend.avg_pool2d_backward(g, x.shape, **params), xt.grad)


def test_lstm_cell_matches_torch():
    batch, inp, hidden = 3, 4, 5
    cell = torch.nn.LSTMCell(inp, hidden, dtype=torch.float64)
    x, h0, c0 = randn(batch, inp), randn(batch, hidden), randn(batch, hidden)
    xt, ht, ct = tt(x, True), tt(h0, True), tt(c0, True)
    h_t, c_t = cell(xt, (ht, ct))
    gh, gc = randn(batch, hidden), randn(batch, hidden)
    torch.autograd.backward([h_t, c_t], [tt(gh), tt(gc)])
    w_ih, w_hh = cell.weight_ih.detach().numpy(), cell.weight_hh.detach().numpy()
    gates = x @ w_ih.T + cell.bias_ih.detach().numpy() + h0 @ w_hh.T + cell.bias_hh.detach().numpy()
    h, c = backend.lstm_cell(gates, c0)
    close(h, h_t)
    close(c, c_t)
    d_gates, d_c0 = backend.lstm_cell_backward(gh, gc, gates, c0, c)
    close(d_c0, ct.grad)
    close(d_gates @ w_ih, xt.grad)
    close(d_gates @ w_hh, ht.grad)
    close(d_gates.T @ x, cell.weight_ih.grad)


def test_gru_cell_matches_torch():
    batch, inp, hidden = 3, 4, 5
    cell = torch.nn.GRUCell(inp, hidden, dtype=torch.float64)
    x, h0 = randn(batch, inp), randn(batch, hidden)
    xt, ht = tt(x, True), tt(h0, True)
    h_t = cell(xt, ht)
    g = randn(batch, hidden)
    h_t.backward(tt(g))
    gi = x @ cell.weight_ih.detach().numpy().T + cell.bias_ih.detach().numpy()
    gh = h0 @ cell.weight_hh.detach().numpy().T + cell.bias_hh.detach().numpy()
    close(backend.gru_cell(gi, gh, h0), h_t)
    d_gi, d_gh, d_h0 = backend.gru_cell_backward(g, gi, gh, h0)
    close(d_gi @ cell.weight_ih.detach().numpy(), xt.grad)
    close(d_h0 + d_gh @ cell.weight_hh.detach().numpy(), ht.grad)
    close(d_gh.sum(0), cell.bias_hh.grad)
    with pytest.raises(ShapeError, match="gru_cell"):
        backend.gru_cell(gi[:, :-1], gh, h0)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("sq, sk", [(5, 5), (3, 300), (1, 1), (37, 37), (20, 45)])
@pytest.mark.parametrize("min_block", [None, 4, 7])
def test_flash_attention_matches_sdpa(causal, sq, sk, min_block, monkeypatch):
    if min_block is not None:
        # small key blocks: the online softmax across blocks and the causal skipping of rows run
        monkeypatch.setattr(attention_reference, "_ATTENTION_TILE_ELEMENTS", 1)
        monkeypatch.setattr(attention_reference, "_ATTENTION_MIN_BLOCK", min_block)
    q, k, v = randn(2, 3, sq, 8), randn(2, 3, sk, 8), randn(2, 3, sk, 6)
    qt, kt, vt = tt(q, True), tt(k, True), tt(v, True)
    mask = torch.ones(sq, sk, dtype=torch.bool).tril(diagonal=sk - sq) if causal else None
    out_t = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mask, scale=0.3)
    g = randn(2, 3, sq, 6)
    out_t.backward(tt(g))
    out, lse = backend.flash_attention(q, k, v, causal=causal, scale=0.3)
    close(out, out_t)
    scores = 0.3 * q @ np.swapaxes(k, -1, -2)
    if causal:
        scores = np.where(mask.numpy(), scores, -np.inf)
    close(lse, torch.logsumexp(tt(scores), -1))
    dq, dk, dv = backend.flash_attention_backward(g, q, k, v, out, lse, causal=causal, scale=0.3)
    close(dq, qt.grad)
    close(dk, kt.grad)
    close(dv, vt.grad)


def test_flash_attention_float32_default_scale_and_errors():
    q, k, v = (
        randn(1, 2, 4, 16, dtype=np.float32),
        randn(1, 2, 6, 16, dtype=np.float32),
        randn(1, 2, 6, 16, dtype=np.float32),
    )
    out, lse = backend.flash_attention(q, k, v)
    assert out.dtype == np.float32
    close(out, F.scaled_dot_product_attention(tt(q), tt(k), tt(v)), 1e-5)
    with pytest.raises(ShapeError, match="Sk >= Sq"):
        backend.flash_attention(k, q, q, causal=True)
    with pytest.raises(ShapeError, match="flash_attention"):
        backend.flash_attention(q, k[..., :8], v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("implementation", ["cpu kernel", "reference"])
def test_relu_backward_matches_threshold_backward(dtype, implementation):
    # Zero wherever y <= 0, even for an inf/NaN gradient; a NaN y passes the gradient through.
    y = np.maximum(randn(4, 33, dtype=dtype), 0)
    y[0, :3] = np.nan
    grad = randn(4, 33, dtype=dtype)
    grad[1, ::2] = np.inf
    grad[2, ::3] = np.nan
    relu_backward = backend.relu_backward if implementation == "cpu kernel" else Backend.relu_backward.__get__(backend)
    ours = relu_backward(grad, y)
    theirs = torch.ops.aten.threshold_backward(tt(grad), tt(y), 0).numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == dtype


def test_relu_gradient_of_a_variable_matches_torch():
    from axon_autograd import Variable, grad
    from axon_tensor import tensor

    x = randn(5, 7, dtype=np.float32)
    x[0, 0] = np.nan
    upstream = randn(5, 7, dtype=np.float32)
    upstream[x < 0] = np.inf  # masked positions: the gradient must still be exactly 0
    v = Variable(tensor(x), requires_grad=True)
    v.relu().backward(tensor(upstream))
    xt = tt(x, True)
    torch.relu(xt).backward(tt(upstream))
    np.testing.assert_array_equal(v.grad.numpy(), xt.grad.numpy())
    # create_graph keeps the rule differentiable in the incoming gradient g.
    w = Variable(tensor(x), requires_grad=True)
    g = Variable(tensor(upstream), requires_grad=True)
    (first,) = grad(w.relu(), [w], grad_outputs=[g], create_graph=True)
    np.testing.assert_array_equal(first.detach().numpy(), xt.grad.numpy())
    (second,) = grad(first.sum(), [g])
    mask = torch.ops.aten.threshold_backward(torch.ones(x.shape), torch.relu(tt(x)), 0)
    np.testing.assert_array_equal(second.numpy(), mask.numpy())

"""Every backward rule against float64 central differences (gradcheck), and double backward
(gradgradcheck) for the core differentiable ops. Ops that axon-tensor does not have yet are
skipped with the missing op named."""

from __future__ import annotations

import math

import numpy as np
import pytest

import axon_tensor
from axon_autograd import Variable, cat, einsum, gradcheck, gradgradcheck, stack, where
from axon_tensor import Tensor, tensor

rng = np.random.default_rng(0)


def _has(name: str) -> bool:
    return hasattr(Tensor, name) or hasattr(axon_tensor, name)


def randn(*shape):
    return rng.standard_normal(shape)


def positive(*shape):
    return rng.uniform(0.5, 2.0, shape)


def unit(*shape):
    return rng.uniform(-0.8, 0.8, shape)


def away_from_zero(*shape):
    return rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


IDX = np.array([[0, 2, 2], [1, 0, 1]])
MASK = np.array([[True, False, True], [False, False, True]])

# (id, fn, inputs, Tensor ops it needs, check double backward)
CASES = [
    ("add_broadcast", lambda a, b: a + b, [randn(3, 1, 2), randn(4, 2)], ["sum", "reshape"], True),
    ("add_alpha", lambda a, b: a.add(b, alpha=2.5), [randn(2, 3), randn(3)], ["sum", "reshape"], True),
    ("sub_broadcast", lambda a, b: a - b, [randn(2, 3), randn(2, 1)], ["sum", "reshape"], True),
    ("mul_broadcast", lambda a, b: a * b, [randn(2, 3), randn(3)], ["sum", "reshape"], True),
    ("div_broadcast", lambda a, b: a / b, [randn(2, 3), away_from_zero(2, 1)], ["sum", "reshape"], True),
    ("pow_scalar", lambda a: a**3.0, [randn(2, 3)], [], True),
    ("pow_tensor", lambda a, b: a**b, [positive(2, 3), randn(2, 3)], ["log", "where", "__eq__"], True),
    ("rpow", lambda a: 1.7**a, [randn(4)], [], True),
    ("neg", lambda a: -a, [randn(3)], [], True),
    ("scalar_0d_broadcast", lambda a, b: a * b + b, [randn(2, 2), np.array(1.5)], ["sum", "reshape"], True),
    ("clone_contiguous", lambda a: a.clone().contiguous() * 2.0, [randn(3)], [], True),
]

UNARY_DOMAINS = {
    "exp": randn,
    "exp2": randn,
    "expm1": randn,
    "log": positive,
    "log2": positive,
    "log10": positive,
    "log1p": positive,
    "sqrt": positive,
    "rsqrt": positive,
    "square": randn,
    "reciprocal": away_from_zero,
    "sin": randn,
    "cos": randn,
    "tan": unit,
    "asin": unit,
    "acos": unit,
    "atan": randn,
    "sinh": randn,
    "cosh": randn,
    "tanh": randn,
    "asinh": randn,
    "acosh": lambda *s: positive(*s) + 1.0,
    "atanh": unit,
    "sigmoid": randn,
    "erf": randn,
    "erfc": randn,
    "erfinv": unit,
    "abs": away_from_zero,
    "relu": away_from_zero,
    "frac": lambda *s: rng.uniform(0.1, 0.9, s) + rng.integers(-3, 3, s),
    "softsign": randn,
    "mish": randn,
    "selu": away_from_zero,
    "hardsigmoid": lambda *s: rng.uniform(-2.5, 2.5, s),
    "hardswish": lambda *s: rng.uniform(-2.5, 2.5, s),
    "relu6": lambda *s: rng.uniform(0.5, 5.5, s),
    "nan_to_num": randn,
    "absolute": away_from_zero,
    "arctan": randn,
    "fix": lambda *s: rng.uniform(0.1, 0.9, s),
    "sign": away_from_zero,
    "floor": lambda *s: rng.uniform(0.1, 0.9, s) + 2,
    "ceil": lambda *s: rng.uniform(0.1, 0.9, s),
    "round": lambda *s: rng.uniform(0.1, 0.4, s),
    "trunc": lambda *s: rng.uniform(0.1, 0.9, s),
}
for _name, _domain in UNARY_DOMAINS.items():
    CASES.append((_name, (lambda n: lambda a: getattr(a, n)())(_name), [_domain(2, 3)], [_name], True))

CASES += [
    ("softmax_last", lambda a: a.softmax(-1), [randn(2, 4)], ["softmax", "sum"], True),
    ("softmax_dim0", lambda a: a.softmax(0), [randn(3, 2)], ["softmax", "sum"], True),
    ("log_softmax", lambda a: a.log_softmax(1), [randn(2, 4)], ["log_softmax", "sum", "exp"], True),
    ("gelu", lambda a: a.gelu(), [randn(2, 3)], ["gelu", "exp"], True),
    ("gelu_tanh", lambda a: a.gelu(approximate="tanh"), [randn(2, 3)], ["gelu", "tanh"], True),
    ("silu", lambda a: a.silu(), [randn(2, 3)], ["silu", "sigmoid"], True),
    ("leaky_relu", lambda a: a.leaky_relu(0.2), [away_from_zero(2, 3)], ["leaky_relu", "where", "__gt__"], True),
    ("elu", lambda a: a.elu(1.3), [away_from_zero(2, 3)], ["elu", "where", "exp"], True),
    ("softplus", lambda a: a.softplus(2.0, 3.0), [randn(2, 3) * 3], ["softplus", "where", "sigmoid"], True),
    ("hardtanh", lambda a: a.hardtanh(-0.5, 0.5), [randn(2, 3)], ["hardtanh", "__and__"], True),
    ("sum_all", lambda a: a.sum(), [randn(2, 3)], ["sum", "reshape", "expand"], True),
    ("sum_dim", lambda a: a.sum(1), [randn(2, 3, 2)], ["sum", "reshape", "expand"], True),
    ("sum_dims_keepdim", lambda a: a.sum((0, -1), keepdim=True), [randn(2, 3, 2)], ["sum", "reshape", "expand"], True),
    ("mean_dim", lambda a: a.mean(-1), [randn(2, 3)], ["mean", "reshape", "expand"], True),
    ("var_dim", lambda a: a.var(1), [randn(2, 4)], ["var", "mean", "expand"], True),
    ("var_correction0", lambda a: a.var(0, correction=0), [randn(3, 2)], ["var", "mean", "expand"], True),
    ("std_all", lambda a: a.std(), [randn(2, 3)], ["std", "mean", "expand"], True),
    ("max_all", lambda a: a.max(), [randn(2, 3)], ["max", "expand", "__eq__"], True),
    ("max_dim", lambda a: a.max(1).values, [randn(2, 4)], ["max", "scatter", "unsqueeze"], True),
    ("min_dim_keepdim", lambda a: a.min(0, keepdim=True)[0], [randn(3, 2)], ["min", "scatter"], True),
    ("amax", lambda a: a.amax(1), [randn(2, 3)], ["amax", "__eq__", "expand"], True),
    ("amin", lambda a: a.amin((0, 1)), [randn(2, 3)], ["amin", "__eq__", "expand"], True),
    ("prod_no_zero", lambda a: a.prod(1), [away_from_zero(2, 3)], ["prod", "where", "__eq__"], False),
    ("prod_all", lambda a: a.prod(), [away_from_zero(2, 2)], ["prod", "where", "__eq__"], False),
    ("logsumexp", lambda a: a.logsumexp(1), [randn(2, 3)], ["logsumexp", "exp", "expand"], True),
    ("norm_2", lambda a: a.norm(), [randn(2, 3)], ["norm", "where", "expand"], True),
    ("norm_1_dim", lambda a: a.norm(1, 1), [away_from_zero(2, 3)], ["norm", "sign", "expand"], True),
    ("norm_3_dim", lambda a: a.norm(3, 0), [away_from_zero(2, 3)], ["norm", "abs", "where"], True),
    ("cumsum", lambda a: a.cumsum(1), [randn(2, 4)], ["cumsum", "sum"], True),
    ("maximum", lambda a, b: a.maximum(b), [randn(2, 3), randn(3)], ["maximum", "__gt__", "__eq__"], True),
    ("minimum", lambda a, b: a.minimum(b), [randn(2, 3), randn(2, 3)], ["minimum", "__lt__", "__eq__"], True),
    ("matmul_2d", lambda a, b: a @ b, [randn(3, 4), randn(4, 2)], ["matmul", "transpose"], True),
    (
        "matmul_batched_broadcast",
        lambda a, b: a @ b,
        [randn(2, 3, 4), randn(4, 2)],
        ["matmul", "transpose", "sum"],
        True,
    ),
    ("matmul_vec_mat", lambda a, b: a @ b, [randn(3), randn(3, 2)], ["matmul", "unsqueeze", "transpose"], True),
    ("matmul_mat_vec", lambda a, b: a @ b, [randn(2, 3), randn(3)], ["matmul", "unsqueeze", "transpose"], True),
    ("matmul_vec_vec", lambda a, b: a.matmul(b), [randn(3), randn(3)], ["matmul", "unsqueeze", "reshape"], True),
    ("mm", lambda a, b: a.mm(b), [randn(2, 3), randn(3, 2)], ["mm", "matmul", "transpose"], True),
    ("bmm", lambda a, b: a.bmm(b), [randn(2, 2, 3), randn(2, 3, 2)], ["bmm", "matmul", "transpose"], True),
    ("dot", lambda a, b: a.dot(b), [randn(4), randn(4)], ["dot"], True),
    ("einsum_mm", lambda a, b: einsum("ij,jk->ik", a, b), [randn(2, 3), randn(3, 2)], ["einsum"], True),
    ("einsum_batched", lambda a, b: einsum("bij,bjk->bik", a, b), [randn(2, 2, 3), randn(2, 3, 2)], ["einsum"], True),
    ("einsum_sum_out", lambda a, b: einsum("ij,k->i", a, b), [randn(2, 3), randn(2)], ["einsum", "expand"], True),
    ("einsum_implicit", lambda a, b: einsum("ij,jk", a, b), [randn(2, 3), randn(3, 2)], ["einsum"], True),
    ("reshape", lambda a: a.reshape(3, 2) * 2.0, [randn(2, 3)], ["reshape"], True),
    ("view", lambda a: a.view(-1), [randn(2, 3)], ["view", "reshape"], True),
    ("transpose", lambda a: a.transpose(0, 2), [randn(2, 3, 2)], ["transpose"], True),
    ("permute", lambda a: a.permute(2, 0, 1), [randn(2, 3, 2)], ["permute"], True),
    ("T", lambda a: a.T, [randn(2, 3)], ["permute"], True),
    ("expand", lambda a: a.expand(2, 3, 4), [randn(3, 1)], ["expand", "sum"], True),
    (
        "squeeze_unsqueeze",
        lambda a: a.squeeze(1).unsqueeze(0),
        [randn(2, 1, 3)],
        ["squeeze", "unsqueeze", "reshape"],
        True,
    ),
    ("flatten", lambda a: a.flatten(1), [randn(2, 2, 2)], ["flatten", "reshape"], True),
    ("narrow", lambda a: a.narrow(1, 1, 2), [randn(2, 4)], ["narrow", "__getitem__"], True),
    ("select_negative", lambda a: a.select(-1, -2), [randn(2, 3)], ["select", "__getitem__"], True),
    ("chunk", lambda a: a.chunk(2, 1), [randn(2, 4)], ["chunk", "narrow"], True),
    ("split_sections_unused_part", lambda a: a.split([1, 3], 1)[1], [randn(2, 4)], ["split", "narrow"], True),
    ("unbind", lambda a: a.unbind(0), [randn(2, 3)], ["unbind", "stack", "select"], True),
    ("getitem_int_slice", lambda a: a[1, 1:], [randn(3, 3)], ["__getitem__"], True),
    ("getitem_none_ellipsis", lambda a: a[None, ..., 0], [randn(2, 3)], ["__getitem__"], True),
    ("getitem_step", lambda a: a[::2, 1], [randn(4, 2)], ["__getitem__"], True),
    ("getitem_bool_mask", lambda a: a[tensor(MASK)], [randn(2, 3)], ["__getitem__"], True),
    ("getitem_repeated_index", lambda a: a[tensor(np.array([0, 2, 0, 0]))], [randn(3, 2)], ["__getitem__"], True),
    (
        "getitem_two_index_tensors",
        lambda a: a[tensor(np.array([0, 1, 1])), tensor(np.array([2, 2, 0]))],
        [randn(2, 3)],
        ["__getitem__"],
        True,
    ),
    ("flip", lambda a: a.flip(0, 1), [randn(2, 3)], ["flip"], True),
    ("repeat", lambda a: a.repeat(2, 1, 3), [randn(2, 2)], ["repeat", "sum", "reshape"], True),
    ("cat", lambda a, b: cat([a, b], 1), [randn(2, 2), randn(2, 3)], ["cat", "narrow"], True),
    ("stack", lambda a, b: stack([a, b], -1), [randn(2, 2), randn(2, 2)], ["stack", "select"], True),
    ("gather_repeats", lambda a: a.gather(1, tensor(IDX)), [randn(2, 3)], ["gather", "scatter_add"], True),
    (
        "scatter",
        lambda a, s: a.scatter(1, tensor(np.array([[0, 2], [1, 0]])), s),
        [randn(2, 3), randn(2, 2)],
        ["scatter", "gather"],
        True,
    ),
    (
        "scatter_add_repeats",
        lambda a, s: a.scatter_add(1, tensor(IDX), s),
        [randn(2, 3), randn(2, 3)],
        ["scatter_add", "gather"],
        True,
    ),
    (
        "index_select_repeats",
        lambda a: a.index_select(0, tensor(np.array([2, 0, 2]))),
        [randn(3, 2)],
        ["index_select", "__getitem__"],
        True,
    ),
    ("masked_fill", lambda a: a.masked_fill(tensor(MASK), 0.5), [randn(2, 3)], ["masked_fill"], True),
    (
        "masked_fill_variable_value",
        lambda a, v: a.masked_fill(tensor(MASK), v),
        [randn(2, 3), np.array(0.7)],
        ["masked_fill", "where", "sum"],
        True,
    ),
    ("where", lambda a, b: where(tensor(MASK), a, b), [randn(2, 3), randn(3)], ["where", "sum"], True),
    ("clamp_scalars", lambda a: a.clamp(-0.5, 0.5), [randn(3, 3)], ["clamp", "__lt__", "__gt__", "__invert__"], True),
    (
        "clamp_tensor_bounds",
        lambda a, lo, hi: a.clamp(lo, hi),
        [randn(2, 3), randn(3) - 0.5, randn(2, 3) + 0.5],
        ["clamp", "maximum", "__lt__", "__gt__", "__invert__", "where"],
        True,
    ),
    ("atan2", lambda a, b: a.atan2(b), [randn(2, 3), away_from_zero(3)], ["atan2", "sum"], True),
    (
        "remainder",
        lambda a, b: a.remainder(b),
        [rng.uniform(0.1, 0.4, (2, 3)) + 1.0, np.full(3, 0.7)],
        ["remainder", "sum"],
        True,
    ),
    ("fmod", lambda a, b: a.fmod(b), [rng.uniform(0.1, 0.4, (2, 3)) - 1.0, np.full((2, 3), 0.7)], ["fmod"], True),
    ("tril", lambda a: a.tril(), [randn(3, 3)], ["tril"], True),
    ("triu_offset", lambda a: a.triu(1), [randn(3, 4)], ["triu"], True),
    ("roll", lambda a: a.roll((1, -1), (0, 1)), [randn(3, 3)], ["roll"], True),
    ("roll_flat", lambda a: a.roll(2), [randn(2, 3)], ["roll"], True),
    ("movedim", lambda a: a.movedim(0, -1), [randn(2, 3, 2)], ["movedim", "permute"], True),
    ("tile", lambda a: a.tile(2), [randn(2, 2)], ["tile", "repeat"], True),
    ("sort", lambda a: a.sort(1, descending=True).values, [randn(2, 4)], ["sort", "scatter_add"], True),
    ("topk", lambda a: a.topk(2, 1).values, [randn(2, 4)], ["topk", "scatter_add"], True),
    ("kthvalue", lambda a: a.kthvalue(2, 1)[0], [randn(2, 4)], ["kthvalue", "scatter_add"], True),
    ("median_dim", lambda a: a.median(1).values, [randn(2, 5)], ["median", "scatter_add"], True),
    (
        "index_add",
        lambda a, s: a.index_add(0, tensor(np.array([0, 2, 0])), s),
        [randn(3, 2), randn(3, 2)],
        ["index_add", "index_select"],
        True,
    ),
    ("masked_select", lambda a: a.masked_select(tensor(MASK)), [randn(2, 3)], ["masked_select"], True),
    ("take", lambda a: a.take(tensor(np.array([5, 0, 5]))), [randn(2, 3)], ["take"], True),
    (
        "addcmul",
        lambda a, b, c: a.addcmul(b, c, value=0.5),
        [randn(2, 3), randn(2, 3), randn(3)],
        ["addcmul", "sum"],
        True,
    ),
    (
        "addcdiv",
        lambda a, b, c: a.addcdiv(b, c, value=2.0),
        [randn(2, 3), randn(2, 3), away_from_zero(2, 3)],
        ["addcdiv"],
        True,
    ),
    (
        "addmm",
        lambda a, b, c: a.addmm(b, c, beta=0.5, alpha=2.0),
        [randn(2, 2), randn(2, 3), randn(3, 2)],
        ["addmm", "mm"],
        True,
    ),
    (
        "baddbmm",
        lambda a, b, c: a.baddbmm(b, c),
        [randn(2, 2, 2), randn(2, 2, 3), randn(2, 3, 2)],
        ["baddbmm", "bmm"],
        True,
    ),
    ("outer", lambda a, b: a.outer(b), [randn(3), randn(2)], ["outer", "reshape"], True),
    ("mv", lambda a, b: a.mv(b), [randn(2, 3), randn(3)], ["mv", "matmul"], True),
    ("lerp", lambda a, b, w: a.lerp(b, w), [randn(2, 3), randn(2, 3), randn(3)], ["lerp", "sum"], True),
    ("hypot", lambda a, b: a.hypot(b), [away_from_zero(2, 3), away_from_zero(2, 3)], ["hypot", "sqrt"], True),
    ("var_mean", lambda a: a.var_mean(1), [randn(2, 3)], ["var_mean", "var", "mean"], True),
    ("aminmax", lambda a: a.aminmax(dim=1), [randn(2, 3)], ["aminmax", "amax", "amin"], True),
    (
        "repeat_interleave",
        lambda a: a.repeat_interleave(2, 1),
        [randn(2, 3)],
        ["repeat_interleave", "index_select"],
        True,
    ),
]


def _params(double_only: bool = False):
    for name, fn, inputs, ops, double in CASES:
        if double_only and not double:
            continue
        missing = [op for op in ops if not _has(op)]
        marks = [pytest.mark.skipif(bool(missing), reason=f"Tensor op(s) {missing} not in axon-tensor yet")]
        yield pytest.param(fn, inputs, id=name, marks=marks)


def _leaves(inputs):
    return [Variable(tensor(np.array(x, dtype=np.float64)), requires_grad=True) for x in inputs]


@pytest.mark.parametrize("fn, inputs", list(_params()))
def test_gradcheck(fn, inputs):
    assert gradcheck(fn, _leaves(inputs))


@pytest.mark.parametrize("fn, inputs", list(_params(double_only=True)))
def test_gradgradcheck(fn, inputs):
    assert gradgradcheck(fn, _leaves(inputs))


@pytest.mark.skipif(not (_has("prod") and _has("where")), reason="Tensor prod/where not in axon-tensor yet")
@pytest.mark.parametrize("values", [[[2.0, 0.0, 3.0], [1.5, -2.0, 0.5]], [[0.0, 0.0, 3.0], [1.0, 2.0, 0.0]]])
def test_prod_gradient_with_zeros(values):
    # One zero in a slice: its gradient is the product of the others; two zeros: all zero.
    x = Variable(tensor(np.array(values)), requires_grad=True)
    x.prod(1).sum().backward()
    expected = np.array([[math.prod(v for j, v in enumerate(row) if j != i) for i in range(3)] for row in values])
    np.testing.assert_allclose(x.grad.numpy(), expected)


@pytest.mark.skipif(not _has("max"), reason="Tensor max not in axon-tensor yet")
def test_max_all_ties_share_gradient_evenly():
    x = Variable(tensor(np.array([1.0, 3.0, 3.0, 2.0])), requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.5, 0.5, 0.0])


@pytest.mark.skipif(not _has("__getitem__"), reason="Tensor indexing not in axon-tensor yet")
def test_non_contiguous_input_gradient():
    base = Variable(tensor(rng.standard_normal((4, 3))), requires_grad=True)
    assert gradcheck(lambda b: b.T * 2.0 if hasattr(Tensor, "permute") else b[::2] * 2.0, (base,))

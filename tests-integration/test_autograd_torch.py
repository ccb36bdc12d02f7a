"""axon-autograd against PyTorch 2.13 CPU: the forward value and the input gradients of every
differentiable op, on random shapes, broadcasting, non-contiguous inputs, 0-d and empty tensors,
repeated indices and ties."""

from __future__ import annotations

import numpy as np
import pytest

import axon_autograd as ag
import axon_tensor
from axon_autograd import Variable

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.torch, pytest.mark.slow]


class Ops:
    """What a case needs besides methods: index tensors and module functions, per framework."""

    def __init__(self, lib: str) -> None:
        self.lib = lib

    def idx(self, values):
        array = np.asarray(values)
        return axon_tensor.tensor(array) if self.lib == "axon" else torch.tensor(array)

    def cat(self, xs, dim):
        return ag.cat(xs, dim) if self.lib == "axon" else torch.cat(xs, dim)

    def stack(self, xs, dim):
        return ag.stack(xs, dim) if self.lib == "axon" else torch.stack(xs, dim)

    def where(self, c, a, b):
        return ag.where(self.idx(c), a, b) if self.lib == "axon" else torch.where(self.idx(c), a, b)

    def gelu(self, x, approximate="none"):
        return (
            x.gelu(approximate=approximate)
            if self.lib == "axon"
            else torch.nn.functional.gelu(x, approximate=approximate)
        )

    def silu(self, x):
        return x.silu() if self.lib == "axon" else torch.nn.functional.silu(x)

    def einsum(self, eq, *xs):
        return ag.einsum(eq, *xs) if self.lib == "axon" else torch.einsum(eq, *xs)


def _normal(shape, rng):
    return rng.standard_normal(shape)


def _positive(shape, rng):
    return rng.uniform(0.2, 3.0, shape)


def _unit(shape, rng):
    return rng.uniform(-0.9, 0.9, shape)


def _nonzero(shape, rng):
    return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def _ties(shape, rng):
    return rng.integers(-2, 3, shape).astype(np.float64)


# (id, fn(ops, *inputs), [(shape, sampler)], check_grad)
CASES = [
    ("add_broadcast", lambda o, a, b: a + b, [((4, 1, 3), _normal), ((2, 3), _normal)]),
    ("add_0d", lambda o, a, b: a + b, [((3, 2), _normal), ((), _normal)]),
    ("sub_alpha", lambda o, a, b: a.sub(b, alpha=0.5), [((2, 3), _normal), ((3,), _normal)]),
    ("rsub_scalar", lambda o, a: 2.0 - a, [((5,), _normal)]),
    ("mul_broadcast", lambda o, a, b: a * b, [((2, 1), _normal), ((1, 4), _normal)]),
    ("div", lambda o, a, b: a / b, [((3, 4), _normal), ((4,), _nonzero)]),
    ("rdiv_scalar", lambda o, a: 3.0 / a, [((4,), _nonzero)]),
    ("pow_scalar", lambda o, a: a**2.5, [((2, 3), _positive)]),
    ("pow_tensor", lambda o, a, b: a**b, [((2, 3), _positive), ((3,), _normal)]),
    ("rpow", lambda o, a: 2.0**a, [((3,), _normal)]),
    ("neg", lambda o, a: -a, [((2, 2), _normal)]),
    ("atan2", lambda o, a, b: a.atan2(b), [((3, 2), _normal), ((2,), _nonzero)]),
    ("remainder", lambda o, a, b: a.remainder(b), [((4,), _normal), ((4,), _positive)]),
    ("exp", lambda o, a: a.exp(), [((3, 4), _normal)]),
    ("log", lambda o, a: a.log(), [((3, 4), _positive)]),
    ("log1p", lambda o, a: a.log1p(), [((5,), _positive)]),
    ("sqrt", lambda o, a: a.sqrt(), [((5,), _positive)]),
    ("rsqrt", lambda o, a: a.rsqrt(), [((5,), _positive)]),
    ("sin_cos_tan", lambda o, a: a.sin() + a.cos() * a.tan(), [((6,), _unit)]),
    ("asin_acos_atan", lambda o, a: a.asin() * a.acos() + a.atan(), [((6,), _unit)]),
    ("hyperbolic", lambda o, a: a.sinh() + a.cosh() + a.tanh() + a.asinh() + a.atanh(), [((6,), _unit)]),
    ("sigmoid_erf", lambda o, a: a.sigmoid() * a.erf() + a.erfc(), [((6,), _normal)]),
    ("abs_sign", lambda o, a: a.abs() + a.sign(), [((6,), _nonzero)]),
    ("relu", lambda o, a: a.relu(), [((3, 3), _nonzero)]),
    ("rounding", lambda o, a: a.floor() + a.ceil() + a.round() + a.trunc() + a.frac(), [((6,), _normal)]),
    ("reciprocal_square", lambda o, a: a.reciprocal() + a.square(), [((6,), _nonzero)]),
    ("softmax", lambda o, a: a.softmax(-1), [((3, 5), _normal)]),
    ("softmax_dim0", lambda o, a: a.softmax(0), [((4, 2, 3), _normal)]),
    ("log_softmax", lambda o, a: a.log_softmax(1), [((2, 5, 2), _normal)]),
    ("gelu", lambda o, a: o.gelu(a), [((4, 3), _normal)]),
    ("gelu_tanh", lambda o, a: o.gelu(a, "tanh"), [((4, 3), _normal)]),
    ("silu", lambda o, a: o.silu(a), [((4, 3), _normal)]),
    ("sum_all", lambda o, a: a.sum(), [((3, 4), _normal)]),
    ("sum_dims_keepdim", lambda o, a: a.sum((0, 2), keepdim=True), [((2, 3, 4), _normal)]),
    ("sum_empty", lambda o, a: a.sum(0), [((0, 3), _normal)]),
    ("mean", lambda o, a: a.mean(-1), [((3, 4), _normal)]),
    ("var", lambda o, a: a.var(1), [((3, 4), _normal)]),
    ("var_correction0", lambda o, a: a.var(dim=0, correction=0), [((5, 2), _normal)]),
    ("std", lambda o, a: a.std(), [((3, 4), _normal)]),
    ("max_all_ties", lambda o, a: a.max(), [((4, 5), _ties)]),
    ("max_dim", lambda o, a: a.max(1).values, [((3, 6), _normal)]),
    ("min_dim_keepdim", lambda o, a: a.min(0, keepdim=True).values, [((4, 3), _normal)]),
    ("amax_ties", lambda o, a: a.amax(1), [((4, 6), _ties)]),
    ("amin_dims", lambda o, a: a.amin((0, 1)), [((3, 4), _ties)]),
    ("prod_dim", lambda o, a: a.prod(1), [((3, 4), _nonzero)]),
    ("logsumexp", lambda o, a: a.logsumexp(1), [((3, 4), _normal)]),
    ("norm", lambda o, a: a.norm(), [((3, 4), _normal)]),
    ("norm_p1_dim", lambda o, a: a.norm(1, 1), [((3, 4), _nonzero)]),
    ("cumsum", lambda o, a: a.cumsum(0), [((4, 3), _normal)]),
    ("maximum_broadcast", lambda o, a, b: a.maximum(b), [((3, 4), _normal), ((4,), _normal)]),
    ("minimum", lambda o, a, b: a.minimum(b), [((3, 4), _normal), ((3, 4), _normal)]),
    ("matmul", lambda o, a, b: a @ b, [((3, 4), _normal), ((4, 5), _normal)]),
    ("matmul_broadcast_batch", lambda o, a, b: a @ b, [((2, 1, 3, 4), _normal), ((3, 4, 2), _normal)]),
    ("matmul_vec", lambda o, a, b: a @ b, [((4,), _normal), ((2, 4, 3), _normal)]),
    ("matmul_empty_inner", lambda o, a, b: a @ b, [((3, 0), _normal), ((0, 2), _normal)]),
    ("bmm", lambda o, a, b: a.bmm(b), [((2, 3, 4), _normal), ((2, 4, 2), _normal)]),
    ("dot", lambda o, a, b: a.dot(b), [((5,), _normal), ((5,), _normal)]),
    (
        "einsum_attention",
        lambda o, q, k: o.einsum("bhqd,bhkd->bhqk", q, k),
        [((2, 2, 3, 4), _normal), ((2, 2, 5, 4), _normal)],
    ),
    ("einsum_reduce", lambda o, a, b: o.einsum("ij,jk->i", a, b), [((3, 4), _normal), ((4, 2), _normal)]),
    ("reshape_view", lambda o, a: a.reshape(6, 2).view(3, 4), [((2, 6), _normal)]),
    ("transpose_permute", lambda o, a: a.transpose(0, 1).permute(2, 0, 1), [((2, 3, 4), _normal)]),
    ("expand", lambda o, a: a.expand(3, 2, 4), [((2, 1), _normal)]),
    ("squeeze_unsqueeze_flatten", lambda o, a: a.squeeze(1).unsqueeze(-1).flatten(), [((3, 1, 2), _normal)]),
    ("narrow_select", lambda o, a: a.narrow(1, 1, 2).select(0, -1), [((3, 4), _normal)]),
    (
        "chunk_split_unbind",
        lambda o, a: a.chunk(3, 1)[0] * 2 + a.split([1, 2], 1)[1].sum() + a.unbind(0)[1][:1],
        [((2, 3), _normal)],
    ),
    ("getitem_basic", lambda o, a: a[1:, None, ..., -1], [((3, 4, 2), _normal)]),
    ("getitem_step", lambda o, a: a[::2, 1::3], [((5, 7), _normal)]),
    ("getitem_repeated_index", lambda o, a: a[o.idx([0, 2, 2, 0, 2])], [((3, 4), _normal)]),
    ("getitem_index_pairs", lambda o, a: a[o.idx([1, 1, 0]), :, o.idx([0, 0, 2])], [((2, 2, 3), _normal)]),
    ("getitem_bool", lambda o, a: a[o.idx(np.array([[True, False, True], [True, True, False]]))], [((2, 3), _normal)]),
    ("flip_repeat", lambda o, a: a.flip(0).repeat(2, 1, 2), [((2, 3), _normal)]),
    ("cat", lambda o, a, b, c: o.cat([a, b, c], -1), [((2, 1), _normal), ((2, 3), _normal), ((2, 0), _normal)]),
    ("stack", lambda o, a, b: o.stack([a, b], 1), [((2, 3), _normal), ((2, 3), _normal)]),
    ("gather_repeats", lambda o, a: a.gather(1, o.idx([[0, 0, 2], [1, 1, 1]])), [((2, 3), _normal)]),
    (
        "scatter_add_repeats",
        lambda o, a, s: a.scatter_add(0, o.idx([[0, 1], [0, 1], [0, 0]]), s),
        [((2, 2), _normal), ((3, 2), _normal)],
    ),
    ("scatter_src", lambda o, a, s: a.scatter(1, o.idx([[2, 0], [1, 2]]), s), [((2, 3), _normal), ((2, 2), _normal)]),
    ("index_select_repeats", lambda o, a: a.index_select(1, o.idx([2, 2, 0])), [((3, 4), _normal)]),
    ("masked_fill", lambda o, a: a.masked_fill(o.idx(np.array([True, False, True])), -1.0), [((2, 3), _normal)]),
    (
        "where_broadcast",
        lambda o, a, b: o.where(np.array([[True], [False]]), a, b),
        [((2, 3), _normal), ((3,), _normal)],
    ),
    ("clamp", lambda o, a: a.clamp(-0.5, 0.5), [((4, 4), _normal)]),
    ("clamp_min_only", lambda o, a: a.clamp(min=0.1), [((4, 4), _normal)]),
    ("sort_topk", lambda o, a: a.sort(1).values * 2 + a.topk(3, 1).values.sum(), [((3, 5), _normal)]),
    ("roll_tril", lambda o, a: a.roll(1, 0).tril(), [((3, 3), _normal)]),
    ("to_float32_and_back", lambda o, a: (a.to(a.dtype) * 2).double(), [((3,), _normal)]),
]


def _run(lib, fn, arrays, upstream_seed, noncontiguous):
    ops = Ops(lib)
    leaves = []
    for array in arrays:
        source = np.ascontiguousarray(array.T).T if noncontiguous and array.ndim >= 2 else array
        if lib == "axon":
            leaves.append(
                Variable(axon_tensor.from_numpy(source.copy() if not noncontiguous else source), requires_grad=True)
            )
        else:
            leaves.append(torch.from_numpy(source).requires_grad_(True))
    out = fn(ops, *leaves)
    value = out.detach().numpy() if lib == "axon" else out.detach().numpy()
    upstream = np.random.default_rng(upstream_seed).standard_normal(value.shape)
    if lib == "axon":
        out.backward(axon_tensor.tensor(upstream))
        grads = [None if v.grad is None else v.grad.numpy() for v in leaves]
    else:
        out.backward(torch.from_numpy(upstream))
        grads = [None if t.grad is None else t.grad.numpy() for t in leaves]
    return value, grads


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("noncontiguous", [False, True], ids=["contiguous", "noncontiguous"])
@pytest.mark.parametrize("name, fn, specs", CASES, ids=[c[0] for c in CASES])
def test_forward_and_input_gradients_match_torch(name, fn, specs, seed, noncontiguous):
    rng = np.random.default_rng(seed)
    arrays = [sampler(shape, rng) for shape, sampler in specs]
    if noncontiguous and not any(a.ndim >= 2 for a in arrays):
        pytest.skip("no input of 2 or more dims to make non-contiguous")
    ours, our_grads = _run("axon", fn, [a.copy() for a in arrays], seed, noncontiguous)
    theirs, their_grads = _run("torch", fn, [a.copy() for a in arrays], seed, noncontiguous)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    for i, (g, t) in enumerate(zip(our_grads, their_grads)):
        assert (g is None) == (t is None), f"input {i}: gradient presence differs"
        if g is not None:
            np.testing.assert_allclose(g, t, rtol=1e-9, atol=1e-12, err_msg=f"gradient of input {i}")


def test_max_dim_ties_pick_the_same_index_as_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    v = Variable(axon_tensor.tensor(x), requires_grad=True)
    v.max(1).values.sum().backward()
    t = torch.tensor(x, requires_grad=True)
    t.max(1).values.sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), t.grad.numpy())


def test_double_backward_matches_torch():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))

    def second(lib):
        if lib == "axon":
            x, w = (
                Variable(axon_tensor.tensor(a), requires_grad=True),
                Variable(axon_tensor.tensor(b), requires_grad=True),
            )
            y = ((x @ w).tanh() * (x @ w).softmax(-1)).sum() + x.exp().mean()
            (gx,) = ag.grad(y, [x], create_graph=True)
            (gx * gx).sum().backward()
            return x.grad.numpy(), w.grad.numpy()
        x, w = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        y = ((x @ w).tanh() * (x @ w).softmax(-1)).sum() + x.exp().mean()
        (gx,) = torch.autograd.grad(y, [x], create_graph=True)
        (gx * gx).sum().backward()
        return x.grad.numpy(), w.grad.numpy()

    for ours, theirs in zip(second("axon"), second("torch")):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_scalar_base_power_gradient_matches_torch_for_negative_bases() -> None:
    from axon_autograd import Variable
    from axon_tensor import tensor

    for base in (-2.0, 0.0, 3.0):
        x = Variable(tensor([1.0, 2.0, 3.0], dtype="float64"), requires_grad=True)
        (base**x).sum().backward()
        xt = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
        (base**xt).sum().backward()
        np.testing.assert_array_equal(np.isnan(x.grad.numpy()), np.isnan(xt.grad.numpy()))
        finite = ~np.isnan(xt.grad.numpy())
        np.testing.assert_allclose(x.grad.numpy()[finite], xt.grad.numpy()[finite], rtol=1e-14)

"""Finite-difference checks of backward rules (float64 central differences), for every package's tests."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from axon_tensor import tensor

from .engine import grad
from .variable import Variable, make_variable

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """The analytical and numerical Jacobians differ; the message names input, output and worst entry."""


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _float_outputs(fn: Callable[..., Any], inputs: tuple) -> list[Variable]:
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Variable) and o.dtype.is_floating_point]


def _numeric_jacobians(fn: Callable[..., Any], inputs: tuple, wrt: list[int], eps: float) -> list[list[np.ndarray]]:
    """``J[i][o]``: ``[numel(out o), numel(input i)]`` from central differences (with grad mode
    left on: ``fn`` may itself differentiate, as in :func:`gradgradcheck`)."""
    sizes = [o.data.numel() for o in _float_outputs(fn, inputs)]
    result = []
    for i in wrt:
        array = inputs[i].data.array
        n = array.size
        columns = [np.zeros((size, n)) for size in sizes]
        for k in range(n):
            index = np.unravel_index(k, array.shape)
            original = array[index].item()
            array[index] = original + eps
            plus = [o.data.numpy().astype(np.float64).ravel().copy() for o in _float_outputs(fn, inputs)]
            array[index] = original - eps
            minus = [o.data.numpy().astype(np.float64).ravel().copy() for o in _float_outputs(fn, inputs)]
            array[index] = original
            for col, p, m in zip(columns, plus, minus):
                col[:, k] = (p - m) / (2 * eps)
        result.append(columns)
    return result


def _analytic_jacobians(fn: Callable[..., Any], inputs: tuple, wrt: list[int]) -> list[list[np.ndarray]]:
    outputs = _float_outputs(fn, inputs)
    targets = [inputs[i] for i in wrt]
    result = [[np.zeros((o.data.numel(), inputs[i].data.numel())) for o in outputs] for i in wrt]
    for oi, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        size = out.data.numel()
        for j in range(size):
            onehot = np.zeros(size, dtype=out.dtype.np)
            onehot[j] = 1
            seed = make_variable(tensor(onehot.reshape(out.shape), device=out.device), False, None)
            grads = grad(out, targets, seed, retain_graph=True, allow_unused=True)
            for ii, g in enumerate(grads):
                if g is not None:
                    result[ii][oi][j, :] = g.data.numpy().astype(np.float64).ravel()
    return result


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare the Jacobians from backward with float64 central differences.

    ``inputs``: a Variable or a sequence; those with ``requires_grad`` are checked and must be
    float64. ``fn(*inputs)`` returns a Variable or a tuple (non-float outputs are ignored).
    """
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Variable) and x.requires_grad]
    for i in wrt:
        if inputs[i].dtype.name != "float64":
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64")
    analytic = _analytic_jacobians(fn, inputs, wrt)
    numeric = _numeric_jacobians(fn, inputs, wrt, eps)
    for ii, i in enumerate(wrt):
        for oi, (a, n) in enumerate(zip(analytic[ii], numeric[ii])):
            if not np.allclose(a, n, atol=atol, rtol=rtol, equal_nan=False):
                worst = np.unravel_index(np.argmax(np.abs(a - n)), a.shape)
                message = (
                    f"gradcheck: Jacobian mismatch for output {oi} with respect to input {i}: "
                    f"at (output element, input element) {tuple(int(w) for w in worst)} backward gives "
                    f"{a[worst]:.8g}, finite differences {n[worst]:.8g}\nanalytical:\n{a}\nnumerical:\n{n}"
                )
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Sequence[Variable] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check double backward: the gradient of ``fn`` (from ``create_graph=True``) is checked
    with :func:`gradcheck` as a function of the inputs and of the output gradients."""
    inputs = _as_tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Variable) and x.requires_grad]
    outputs = [o for o in _float_outputs(fn, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [
            Variable(tensor(rng.standard_normal(o.shape), dtype="float64", device=o.device), requires_grad=True)
            for o in outputs
        ]
    grad_outputs = list(grad_outputs)
    count = len(inputs)

    def first_derivative(*args: Any) -> tuple:
        outs = [o for o in _float_outputs(fn, args[:count]) if o.requires_grad]
        grads = grad(outs, [args[i] for i in wrt], list(args[count:]), create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, inputs + tuple(grad_outputs), eps, atol, rtol, raise_exception)

"""erf and erfc on any array module, without SciPy.

W. J. Cody's rational Chebyshev approximations (CALERF, "Rational Chebyshev approximations for
the error function", Math. Comp. 1969), evaluated in float64 on three intervals of ``|x|``:
``[0, 0.46875]`` for erf directly, ``(0.46875, 4]`` and ``(4, inf)`` for erfc. Agrees with
``math.erf`` to about 1e-16 relative; results are returned in the input's dtype (floats) or
float64.
"""

from __future__ import annotations

from typing import Any

__all__ = ["erf", "erfc", "erfinv"]

_A = (
    3.16112374387056560e00,
    1.13864154151050156e02,
    3.77485237685302021e02,
    3.20937758913846947e03,
    1.85777706184603153e-1,
)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_C = (
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
    1.23033935479799725e03,
    2.15311535474403846e-8,
)
_D = (
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
    1.23033935480374942e03,
)
_P = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
    6.58749161529837803e-4,
    1.63153871373020978e-2,
)
_Q = (
    2.56852019228982242e00,
    1.87295284992346047e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
    2.33520497626869185e-3,
)
_INV_SQRT_PI = 5.6418958354775628695e-1
_THRESHOLD = 0.46875
# erfc(28) underflows float64 to 0; clamping keeps (y - round16(y)) finite for y = inf.
_CLAMP = 28.0


def _erf_small(y2: Any) -> Any:
    """erf(y) / y for |y| <= 0.46875, as a function of y**2."""
    num = _A[4] * y2
    den = y2
    for i in range(3):
        num = (num + _A[i]) * y2
        den = (den + _B[i]) * y2
    return (num + _A[3]) / (den + _B[3])


def _exp_neg_square(xp: Any, y: Any) -> Any:
    # exp(-y*y) split as exp(-r*r) * exp(-(y-r)(y+r)) with r = y rounded down to 1/16: exact r*r.
    rounded = xp.floor(y * 16.0) / 16.0
    return xp.exp(-rounded * rounded) * xp.exp(-(y - rounded) * (y + rounded))


def _erfc_large(xp: Any, y: Any) -> Any:
    """erfc(y) for y > 0.46875 (values outside that range are computed but not meaningful)."""
    y = xp.minimum(xp.maximum(y, _THRESHOLD), _CLAMP)
    num = _C[8] * y
    den = y
    for i in range(7):
        num = (num + _C[i]) * y
        den = (den + _D[i]) * y
    middle = (num + _C[7]) / (den + _D[7])
    inv2 = 1.0 / (y * y)
    num = _P[5] * inv2
    den = inv2
    for i in range(4):
        num = (num + _P[i]) * inv2
        den = (den + _Q[i]) * inv2
    tail = (_INV_SQRT_PI - inv2 * (num + _P[4]) / (den + _Q[4])) / y
    return _exp_neg_square(xp, y) * xp.where(y <= 4.0, middle, tail)


def _as_float64(xp: Any, x: Any) -> Any:
    return xp.asarray(x, dtype=xp.float64)


def _result_dtype(xp: Any, x: Any) -> Any:
    dtype = xp.asarray(x).dtype
    return dtype if dtype.kind in "fV" else xp.float64


def erf(xp: Any, x: Any) -> Any:
    """The error function of ``x`` (any shape), elementwise."""
    work = _as_float64(xp, x)
    y = xp.abs(work)
    small = work * _erf_small(xp.minimum(y, _THRESHOLD) ** 2)
    large = xp.copysign(1.0 - _erfc_large(xp, y), work)
    out = xp.where(y <= _THRESHOLD, small, large)
    return out.astype(_result_dtype(xp, x), copy=False)


def erfc(xp: Any, x: Any) -> Any:
    """The complementary error function ``1 - erf(x)``, accurate in the tail."""
    work = _as_float64(xp, x)
    y = xp.abs(work)
    small = 1.0 - work * _erf_small(xp.minimum(y, _THRESHOLD) ** 2)
    tail = _erfc_large(xp, y)
    large = xp.where(work < 0, 2.0 - tail, tail)
    out = xp.where(y <= _THRESHOLD, small, large)
    return out.astype(_result_dtype(xp, x), copy=False)


_GILES_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_GILES_TAIL = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)
_TWO_OVER_SQRT_PI = 1.1283791670955126


def _horner(coefficients: tuple[float, ...], w: Any) -> Any:
    p = coefficients[0]
    for c in coefficients[1:]:
        p = c + p * w
    return p


def erfinv(xp: Any, x: Any) -> Any:
    """The inverse error function on ``[-1, 1]`` (±inf at ±1, NaN outside).

    M. Giles' single-precision approximation ("Approximating the erfinv function", 2010) as the
    start, then Newton steps on ``erf`` (or on ``erfc`` for ``|x| > 0.5``, where ``1 - |x|`` is
    exact and ``erf`` has no digits left to compare) in float64.
    """
    work = _as_float64(xp, x)
    y = xp.abs(work)
    inside = y < 1.0
    safe = xp.where(inside, y, 0.0)
    distance = 1.0 - safe  # exact for safe >= 0.5 (Sterbenz), so the tail keeps its digits
    w = -xp.log(distance * (1.0 + safe))
    guess = (
        xp.where(w < 5.0, _horner(_GILES_CENTRAL, w - 2.5), _horner(_GILES_TAIL, xp.sqrt(xp.maximum(w, 5.0)) - 3.0))
        * safe
    )
    use_erfc = safe > 0.5
    log_distance = xp.log(xp.where(use_erfc, distance, 1.0))
    for _ in range(4):
        slope = _TWO_OVER_SQRT_PI * xp.exp(-guess * guess)
        central_step = (erf(xp, guess) - safe) / slope
        # In the tail, Newton on log(erfc) is nearly linear in x, so it converges from Giles'
        # guess even where 1 - |x| is far below float32's range.
        tail = xp.maximum(erfc(xp, guess), 1e-300)
        tail_step = (log_distance - xp.log(tail)) * tail / slope
        guess = guess - xp.where(use_erfc, tail_step, central_step)
    out = xp.where(inside, guess, xp.where(y == 1.0, xp.inf, xp.nan))
    out = xp.copysign(out, work)
    return out.astype(_result_dtype(xp, x), copy=False)

"""The scale searches of ggml's K-quant reference quantizers (``make_qx_quants``,
``make_q3_quants``, ``make_qkx2_quants`` in ggml-quants.c), vectorised across sub-blocks.

A sub-block of ``k`` values is a column of ``x`` float32 ``[k, s]`` (s sub-blocks side by side), so
row ``i`` is value ``i`` of every sub-block. ggml sums in float32 from left to right and without fused
multiply-add; :func:`ordered_sum` keeps that order (NumPy's own sums are pairwise), and every product
keeps the C operand order, so the searches pick the same integers as the C code.
"""

from __future__ import annotations

import numpy as np

from ._common import F32, nearest_int

GROUP_MAX_EPS = F32(1e-15)


def ordered_sum(terms: np.ndarray) -> np.ndarray:
    """``float s = 0; for (i...) s += terms[i];`` over the rows of ``terms`` ``[k, s]`` -> ``[s]``."""
    total = np.zeros(terms.shape[1:], dtype=F32)
    for row in terms:
        total += row
    return total


def scan_max(values: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """``best = 0; for (i...) if (values[i] > best) { best = values[i]; other = others[i]; }`` over the
    rows of ``values`` ``[k, s]``: the first strict maximum above 0 (NaN never wins, as in C), and the
    matching entries of ``others`` (0 where nothing beat 0)."""
    best = np.zeros(values.shape[1:], dtype=F32)
    picked = [np.zeros(values.shape[1:], dtype=o.dtype) for o in others]
    for i in range(values.shape[0]):
        take = values[i] > best
        best = np.where(take, values[i], best)
        picked = [np.where(take, o[i], p) for o, p in zip(others, picked)]
    return (best, *picked)


def _signed_max(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(amax, max): the largest |x| per column and the signed value that has it (first one)."""
    return scan_max(np.abs(x), x)


def make_qx_quants(x: np.ndarray, nmax: int) -> tuple[np.ndarray, np.ndarray]:
    """``make_qx_quants(n, nmax, x, L, rmse_type=1, qw=NULL)``: symmetric levels ``-nmax..nmax-1``,
    weights ``x*x``, the best of 19 trial scales. ``x`` float32 ``[k, s]`` -> (scale float32 ``[s]``,
    L int32 ``[k, s]`` in ``0..2 nmax - 1``)."""
    amax, peak = _signed_max(x)
    weight = x * x
    weighted_x = weight * x
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):

        def fit(iscale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            level = nearest_int(iscale * x)
            np.clip(level, -nmax, nmax - 1, out=level)
            lf = level.astype(F32)
            wl = weight * lf
            wl *= lf
            return level, ordered_sum(weighted_x * lf), ordered_sum(wl)

        level, sumlx, suml2 = fit(F32(-nmax) / peak)
        out = level + nmax
        scale = np.where(suml2 != 0, sumlx / suml2, F32(0))
        best = scale * sumlx
        for step in (*range(-9, 0), *range(1, 10)):
            level, sumlx, suml2 = fit(-(F32(nmax) + F32(0.1) * F32(step)) / peak)
            better = (suml2 > 0) & (sumlx * sumlx > best * suml2)
            out = np.where(better, level + nmax, out)
            scale = np.where(better, sumlx / suml2, scale)
            best = np.where(better, scale * sumlx, best)
    empty = amax < GROUP_MAX_EPS
    return np.where(empty, F32(0), scale), np.where(empty, 0, out)


def make_q3_quants(x: np.ndarray, nmax: int) -> tuple[np.ndarray, np.ndarray]:
    """``make_q3_quants(n, nmax, x, L, do_rmse=true)``: levels ``-nmax..nmax-1`` weighted by ``x*x``,
    then up to 5 passes that move one level at a time while the weighted fit improves. ``x`` float32
    ``[k, s]`` -> (scale ``[s]``, L int32 ``[k, s]`` in ``0..2 nmax - 1``)."""
    amax, peak = _signed_max(x)
    weight = x * x
    weighted_x = weight * x
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        level = np.clip(nearest_int((F32(-nmax) / peak) * x), -nmax, nmax - 1)
        lf = level.astype(F32)
        sumlx = ordered_sum(weighted_x * lf)
        suml2 = ordered_sum(weight * lf * lf)
        # A column whose pass changed nothing would change nothing in the next pass either, so
        # running the passes on every column equals ggml's per-sub-block early exit; they stop
        # once no column changed.
        for _ in range(5):
            changed = False
            for i in range(x.shape[0]):
                w, xi, li = weight[i], x[i], level[i].astype(F32)
                slx = sumlx - weighted_x[i] * li
                sl2 = suml2 - w * li * li
                new = np.clip(nearest_int(xi * sl2 / slx), -nmax, nmax - 1)
                nf = new.astype(F32)
                slx_new = slx + weighted_x[i] * nf
                sl2_new = sl2 + w * nf * nf
                accept = (
                    (slx > 0)
                    & (new != level[i])
                    & (sl2_new > 0)
                    & (slx_new * slx_new * suml2 > sumlx * sumlx * sl2_new)
                )
                if accept.any():
                    changed = True
                    level[i] = np.where(accept, new, level[i])
                    sumlx = np.where(accept, slx_new, sumlx)
                    suml2 = np.where(accept, sl2_new, suml2)
            if not changed:
                break
        scale = np.where(suml2 > 0, sumlx / suml2, F32(0))
    empty = amax < GROUP_MAX_EPS
    return np.where(empty, F32(0), scale), np.where(empty, 0, level + nmax)


def make_qkx2_quants(
    x: np.ndarray, weight: np.ndarray, nmax: int, rmin: float, rdelta: float, nstep: int, use_mad: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``make_qkx2_quants``: asymmetric levels ``0..nmax`` with a minimum ``<= 0``, the initial fit
    then ``nstep + 1`` least-squares refits at scales ``(rmin + rdelta*is + nmax) / (max - min)``,
    keeping whichever has the smallest weighted error (absolute if ``use_mad``, else squared).

    ``x``, ``weight`` float32 ``[k, s]`` -> (scale ``[s]``, the_min ``[s]`` (= -min >= 0), L int32
    ``[k, s]`` in ``0..nmax``)."""
    low = np.min(x, axis=0)
    high = np.max(x, axis=0)
    sum_w = weight[0].copy()
    sum_x = sum_w * x[0]
    for i in range(1, x.shape[0]):
        sum_w += weight[i]
        sum_x += weight[i] * x[i]
    low = np.where(low > 0, F32(0), low)
    flat = high == low

    def error(scale: np.ndarray, minimum: np.ndarray, lf: np.ndarray) -> np.ndarray:
        diff = scale * lf  # scale * L[i] + min - x[i], then |.| or squared, times w, in place
        diff += minimum
        diff -= x
        if use_mad:
            np.abs(diff, out=diff)
        else:
            diff *= diff
        diff *= weight
        return ordered_sum(diff)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        iscale = F32(nmax) / (high - low)
        scale = F32(1) / iscale
        level = np.clip(nearest_int(iscale * (x - low)), 0, nmax)
        best_error = error(scale, low, level.astype(F32))
        for step in range(nstep + 1):
            iscale = (F32(rmin) + F32(rdelta) * F32(step) + F32(nmax)) / (high - low)
            scaled = x - low
            scaled *= iscale
            trial = nearest_int(scaled)
            np.clip(trial, 0, nmax, out=trial)
            lf = trial.astype(F32)
            wl = weight * lf
            sum_l, sum_l2, sum_xl = ordered_sum(wl), ordered_sum(wl * lf), ordered_sum(wl * x)
            det = sum_w * sum_l2 - sum_l * sum_l
            this_scale = (sum_w * sum_xl - sum_x * sum_l) / det
            this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det
            positive = this_min > 0
            this_min = np.where(positive, F32(0), this_min)
            this_scale = np.where(positive, sum_xl / sum_l2, this_scale)
            cur_error = error(this_scale, this_min, lf)
            take = (det > 0) & (cur_error < best_error)
            level = np.where(take, trial, level)
            best_error = np.where(take, cur_error, best_error)
            scale = np.where(take, this_scale, scale)
            low = np.where(take, this_min, low)
    return np.where(flat, F32(0), scale), -low, np.where(flat, 0, level)

"""2-D max and average pooling over ``[N, C, H, W]``, forward and backward (PyTorch's semantics).

Geometry arguments, in order: ``H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow`` (ints; the
output size, ceil_mode included, is computed on the host). ``planes = N * C``.

- ``max_pool2d_fwd_S(x, out, indices, planes, <geometry>)``: ``indices`` int64 ``h * W + w``;
  the first maximum wins; a NaN beats everything and a later NaN replaces an earlier one (the
  last NaN wins, as in PyTorch's kernels); a window with nothing inside the image gets -1.
- ``max_pool2d_bwd_S(grad, indices, dx, planes, H*W, oh*ow)``: float32 ``atomicAdd`` into ``dx``
  (float32, zeroed by the caller); an index outside the plane (-1) is skipped.
- ``avg_pool2d_fwd_S(x, out, divisor, planes, <geometry>)`` and ``avg_pool2d_bwd_S(grad, dx,
  divisor, planes, <geometry>)``: ``divisor`` is a float32 ``[oh, ow]`` array (PyTorch's rule
  for count_include_pad / divisor_override, from the host); the backward gathers per input pixel.
"""

from __future__ import annotations

from .common import PRELUDE
from .source import FLOAT_TYPES, KernelSource, instantiate

__all__ = ["POOLING"]

_BODY = r"""
extern "C" __global__ void max_pool2d_fwd_$S(const $T* __restrict__ x, $T* __restrict__ out,
                                             long long* __restrict__ indices,
                                             int planes, int height, int width, int kh, int kw, int sh, int sw,
                                             int ph, int pw, int dh, int dw, int oh, int ow) {
    long long total = (long long)planes * oh * ow;
    AXON_GRID_STRIDE(i, total) {
        int oj = (int)(i % ow);
        int oi = (int)((i / ow) % oh);
        long long plane = i / ((long long)oh * ow);
        const $T* src = x + plane * height * width;
        float best = -AXON_INF;
        long long best_at = -1;
        for (int ki = 0; ki < kh; ++ki) {
            int h = oi * sh - ph + ki * dh;
            if (h < 0 || h >= height) { continue; }
            for (int kj = 0; kj < kw; ++kj) {
                int w = oj * sw - pw + kj * dw;
                if (w < 0 || w >= width) { continue; }
                float v = to_f(src[h * width + w]);
                if (best_at < 0 || v > best || v != v) { best = v; best_at = (long long)h * width + w; }
            }
        }
        store_f(out + i, best);
        indices[i] = best_at;
    }
}

extern "C" __global__ void max_pool2d_bwd_$S(const $T* __restrict__ grad, const long long* __restrict__ indices,
                                             float* __restrict__ dx, int planes, int plane_size, int out_size) {
    long long total = (long long)planes * out_size;
    AXON_GRID_STRIDE(i, total) {
        long long plane = i / out_size;
        long long at = indices[i];
        if (at >= 0 && at < plane_size) { atomicAdd(dx + plane * plane_size + at, to_f(grad[i])); }
    }
}

extern "C" __global__ void avg_pool2d_fwd_$S(const $T* __restrict__ x, $T* __restrict__ out,
                                             const float* __restrict__ divisor,
                                             int planes, int height, int width, int kh, int kw, int sh, int sw,
                                             int ph, int pw, int dh, int dw, int oh, int ow) {
    long long total = (long long)planes * oh * ow;
    AXON_GRID_STRIDE(i, total) {
        int oj = (int)(i % ow);
        int oi = (int)((i / ow) % oh);
        long long plane = i / ((long long)oh * ow);
        const $T* src = x + plane * height * width;
        float acc = 0.0f;
        for (int ki = 0; ki < kh; ++ki) {
            int h = oi * sh - ph + ki * dh;
            if (h < 0 || h >= height) { continue; }
            for (int kj = 0; kj < kw; ++kj) {
                int w = oj * sw - pw + kj * dw;
                if (w >= 0 && w < width) { acc += to_f(src[h * width + w]); }
            }
        }
        store_f(out + i, acc / divisor[oi * ow + oj]);
    }
}

extern "C" __global__ void avg_pool2d_bwd_$S(const $T* __restrict__ grad, $T* __restrict__ dx,
                                             const float* __restrict__ divisor,
                                             int planes, int height, int width, int kh, int kw, int sh, int sw,
                                             int ph, int pw, int dh, int dw, int oh, int ow) {
    long long total = (long long)planes * height * width;
    AXON_GRID_STRIDE(i, total) {
        int w = (int)(i % width);
        int h = (int)((i / width) % height);
        long long plane = i / ((long long)height * width);
        const $T* g = grad + plane * oh * ow;
        float acc = 0.0f;
        for (int ki = 0; ki < kh; ++ki) {
            int hh = h + ph - ki * dh;
            if (hh < 0 || hh % sh != 0 || hh / sh >= oh) { continue; }
            for (int kj = 0; kj < kw; ++kj) {
                int ww = w + pw - kj * dw;
                if (ww < 0 || ww % sw != 0 || ww / sw >= ow) { continue; }
                int at = (hh / sh) * ow + ww / sw;
                acc += to_f(g[at]) / divisor[at];
            }
        }
        store_f(dx + i, acc);
    }
}
"""

POOLING = KernelSource(
    family="pooling",
    source=PRELUDE + instantiate(_BODY),
    kernels=tuple(
        f"{name}_{kind}_{suffix}"
        for name in ("max_pool2d", "avg_pool2d")
        for kind in ("fwd", "bwd")
        for suffix in FLOAT_TYPES
    ),
)

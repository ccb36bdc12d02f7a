"""im2col / col2im for 2-D convolution (``unfold`` / ``fold`` layouts), over ``[N, C, H, W]``.

Geometry arguments, in order: ``C, H, W, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow`` (ints).

- ``im2col_S(x, cols, N, <geometry>)``: one thread per element of ``cols [N, C*kh*kw, oh*ow]``;
  padding reads as 0.
- ``col2im_S(cols, x, N, <geometry>)``: one thread per pixel of ``x``, gathering every column
  entry that covers it (deterministic, no atomics).
"""

from __future__ import annotations

from .common import PRELUDE
from .source import FLOAT_TYPES, KernelSource, instantiate

__all__ = ["IM2COL"]

_BODY = r"""
extern "C" __global__ void im2col_$S(const $T* __restrict__ x, $T* __restrict__ cols, int batch, int channels,
                                     int height, int width,
                                     int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) {
    long long blocks = (long long)oh * ow;
    long long total = (long long)batch * channels * kh * kw * blocks;
    AXON_GRID_STRIDE(i, total) {
        int oj = (int)(i % ow);
        int oi = (int)((i / ow) % oh);
        long long row = i / blocks;
        int kj = (int)(row % kw);
        int ki = (int)((row / kw) % kh);
        long long plane = row / ((long long)kh * kw);
        int h = oi * sh - ph + ki * dh;
        int w = oj * sw - pw + kj * dw;
        float v = 0.0f;
        if (h >= 0 && h < height && w >= 0 && w < width) { v = to_f(x[(plane * height + h) * width + w]); }
        store_f(cols + i, v);
    }
}

extern "C" __global__ void col2im_$S(const $T* __restrict__ cols, $T* __restrict__ x, int batch, int channels,
                                     int height, int width,
                                     int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) {
    long long total = (long long)batch * channels * height * width;
    long long blocks = (long long)oh * ow;
    AXON_GRID_STRIDE(i, total) {
        int w = (int)(i % width);
        int h = (int)((i / width) % height);
        long long plane = i / ((long long)height * width);
        float acc = 0.0f;
        for (int ki = 0; ki < kh; ++ki) {
            int hh = h + ph - ki * dh;
            if (hh < 0 || hh % sh != 0 || hh / sh >= oh) { continue; }
            for (int kj = 0; kj < kw; ++kj) {
                int ww = w + pw - kj * dw;
                if (ww < 0 || ww % sw != 0 || ww / sw >= ow) { continue; }
                long long row = (plane * kh + ki) * kw + kj;
                acc += to_f(cols[row * blocks + (long long)(hh / sh) * ow + ww / sw]);
            }
        }
        store_f(x + i, acc);
    }
}
"""

IM2COL = KernelSource(
    family="im2col",
    source=PRELUDE + instantiate(_BODY),
    kernels=tuple(f"{name}_{suffix}" for name in ("im2col", "col2im") for suffix in FLOAT_TYPES),
)

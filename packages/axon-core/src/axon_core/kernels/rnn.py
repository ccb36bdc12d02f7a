"""LSTM and GRU cell gate fusion (the matmuls run in cuBLAS; these fuse everything after them).

One thread per ``(b, j)`` of the hidden state ``[B, H]``; gates are ``[B, 4H]`` (i, f, g, o)
or ``[B, 3H]`` (r, z, n), PyTorch's order.

- ``lstm_cell_fwd_S(gates, c_prev, h, c, B, H)``
- ``lstm_cell_bwd_S(grad_h, grad_c, gates, c_prev, c, d_gates, d_c_prev, B, H, has_grad_c)``
- ``gru_cell_fwd_S(input_gates, hidden_gates, h_prev, h, B, H)``
- ``gru_cell_bwd_S(grad_h, input_gates, hidden_gates, h_prev, d_input, d_hidden, d_h_prev, B, H)``
"""

from __future__ import annotations

from .common import PRELUDE
from .source import FLOAT_TYPES, KernelSource, instantiate

__all__ = ["RNN"]

_BODY = r"""
extern "C" __global__ void lstm_cell_fwd_$S(const $T* __restrict__ gates, const $T* __restrict__ c_prev,
                                            $T* __restrict__ h_out, $T* __restrict__ c_out, int batch, int hidden) {
    long long total = (long long)batch * hidden;
    AXON_GRID_STRIDE(idx, total) {
        long long b = idx / hidden, j = idx - b * hidden;
        const $T* row = gates + b * 4 * hidden;
        float i = sigmoid_f(to_f(row[j]));
        float f = sigmoid_f(to_f(row[hidden + j]));
        float g = tanhf(to_f(row[2 * hidden + j]));
        float o = sigmoid_f(to_f(row[3 * hidden + j]));
        float c = f * to_f(c_prev[idx]) + i * g;
        store_f(c_out + idx, c);
        store_f(h_out + idx, o * tanhf(c));
    }
}

extern "C" __global__ void lstm_cell_bwd_$S(const $T* __restrict__ grad_h, const $T* __restrict__ grad_c,
                                            const $T* __restrict__ gates, const $T* __restrict__ c_prev,
                                            const $T* __restrict__ c_in,
                                            $T* __restrict__ d_gates, $T* __restrict__ d_c_prev, int batch,
                                            int hidden, int has_grad_c) {
    long long total = (long long)batch * hidden;
    AXON_GRID_STRIDE(idx, total) {
        long long b = idx / hidden, j = idx - b * hidden;
        const $T* row = gates + b * 4 * hidden;
        $T* d_row = d_gates + b * 4 * hidden;
        float i = sigmoid_f(to_f(row[j]));
        float f = sigmoid_f(to_f(row[hidden + j]));
        float g = tanhf(to_f(row[2 * hidden + j]));
        float o = sigmoid_f(to_f(row[3 * hidden + j]));
        float gh = to_f(grad_h[idx]);
        float tanh_c = tanhf(to_f(c_in[idx]));
        float dc = gh * o * (1.0f - tanh_c * tanh_c) + (has_grad_c ? to_f(grad_c[idx]) : 0.0f);
        store_f(d_row + j, dc * g * i * (1.0f - i));
        store_f(d_row + hidden + j, dc * to_f(c_prev[idx]) * f * (1.0f - f));
        store_f(d_row + 2 * hidden + j, dc * i * (1.0f - g * g));
        store_f(d_row + 3 * hidden + j, gh * tanh_c * o * (1.0f - o));
        store_f(d_c_prev + idx, dc * f);
    }
}

extern "C" __global__ void gru_cell_fwd_$S(const $T* __restrict__ input_gates, const $T* __restrict__ hidden_gates,
                                           const $T* __restrict__ h_prev, $T* __restrict__ h_out, int batch,
                                           int hidden) {
    long long total = (long long)batch * hidden;
    AXON_GRID_STRIDE(idx, total) {
        long long b = idx / hidden, j = idx - b * hidden;
        const $T* gi = input_gates + b * 3 * hidden;
        const $T* gh = hidden_gates + b * 3 * hidden;
        float r = sigmoid_f(to_f(gi[j]) + to_f(gh[j]));
        float z = sigmoid_f(to_f(gi[hidden + j]) + to_f(gh[hidden + j]));
        float n = tanhf(to_f(gi[2 * hidden + j]) + r * to_f(gh[2 * hidden + j]));
        store_f(h_out + idx, (1.0f - z) * n + z * to_f(h_prev[idx]));
    }
}

extern "C" __global__ void gru_cell_bwd_$S(const $T* __restrict__ grad_h, const $T* __restrict__ input_gates,
                                           const $T* __restrict__ hidden_gates, const $T* __restrict__ h_prev,
                                           $T* __restrict__ d_input, $T* __restrict__ d_hidden,
                                           $T* __restrict__ d_h_prev,
                                           int batch, int hidden) {
    long long total = (long long)batch * hidden;
    AXON_GRID_STRIDE(idx, total) {
        long long b = idx / hidden, j = idx - b * hidden;
        const $T* gi = input_gates + b * 3 * hidden;
        const $T* gh = hidden_gates + b * 3 * hidden;
        float hn = to_f(gh[2 * hidden + j]);
        float r = sigmoid_f(to_f(gi[j]) + to_f(gh[j]));
        float z = sigmoid_f(to_f(gi[hidden + j]) + to_f(gh[hidden + j]));
        float n = tanhf(to_f(gi[2 * hidden + j]) + r * hn);
        float g = to_f(grad_h[idx]);
        float dn = g * (1.0f - z) * (1.0f - n * n);
        float dr = dn * hn * r * (1.0f - r);
        float dz = g * (to_f(h_prev[idx]) - n) * z * (1.0f - z);
        long long base = b * 3 * hidden;
        store_f(d_input + base + j, dr);
        store_f(d_input + base + hidden + j, dz);
        store_f(d_input + base + 2 * hidden + j, dn);
        store_f(d_hidden + base + j, dr);
        store_f(d_hidden + base + hidden + j, dz);
        store_f(d_hidden + base + 2 * hidden + j, dn * r);
        store_f(d_h_prev + idx, g * z);
    }
}
"""

RNN = KernelSource(
    family="rnn",
    source=PRELUDE + instantiate(_BODY),
    kernels=tuple(
        f"{name}_{kind}_{suffix}"
        for name in ("lstm_cell", "gru_cell")
        for kind in ("fwd", "bwd")
        for suffix in FLOAT_TYPES
    ),
)

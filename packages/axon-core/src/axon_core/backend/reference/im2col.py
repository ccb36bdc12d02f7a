"""im2col / col2im (``unfold`` / ``fold``): the sliding blocks a convolution multiplies.

The reference implementation, written against ``self.xp`` (NumPy or CuPy); the CUDA backend
overrides it in ``backend/cuda/im2col.py`` with the kernels of ``kernels/im2col.py``.
"""

from __future__ import annotations

from typing import Any

from ..geometry import col2im_geometry, conv_geometry, ntuple, unbatch_columns
from ..numerics import upcast

__all__ = ["Im2colReference"]

Array = Any
Pair = Any  # an int or an (h, w) pair of ints


class Im2colReference:
    """Reference im2col ops of :class:`~axon_core.backend.Backend` (a mixin; needs ``self.xp``)."""

    def im2col(
        self,
        x: Array,
        kernel_size: Pair,
        stride: Pair = 1,
        padding: Pair = 0,
        dilation: Pair = 1,
        *,
        batched_columns: bool = False,
    ) -> Array:
        """Sliding blocks of ``x [N, C, H, W]`` as columns ``[N, C*kh*kw, L]`` (``torch.nn.functional.unfold``).

        ``L = oh * ow`` with ``oh = (H + 2 ph - dh (kh - 1) - 1) // sh + 1``; rows run over
        ``(c, ki, kj)`` with ``kj`` fastest, columns over ``(oi, oj)`` with ``oj`` fastest.
        ``batched_columns=True`` gives one matrix ``[C*kh*kw, N*L]`` instead, columns over
        ``(n, oi, oj)``: a convolution of the whole batch is then a single GEMM.
        """
        if batched_columns:
            cols = self.im2col(x, kernel_size, stride, padding, dilation)
            return self.xp.ascontiguousarray(cols.transpose(1, 0, 2)).reshape(
                cols.shape[1], cols.shape[0] * cols.shape[2]
            )
        geometry = conv_geometry("im2col", x.shape, kernel_size, stride, padding, dilation)
        xp = self.xp
        n, c, (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = geometry
        padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        s0, s1, s2, s3 = padded.strides
        windows = xp.lib.stride_tricks.as_strided(
            padded, shape=(n, c, kh, kw, oh, ow), strides=(s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw)
        )
        return windows.reshape(n, c * kh * kw, oh * ow)

    def col2im(
        self,
        cols: Array,
        output_size: Pair,
        kernel_size: Pair,
        stride: Pair = 1,
        padding: Pair = 0,
        dilation: Pair = 1,
        *,
        batched_columns: bool = False,
    ) -> Array:
        """Sum columns ``[N, C*kh*kw, L]`` back into images ``[N, C, H, W]`` (``torch.nn.functional.fold``);
        ``output_size`` is ``(H, W)``. The adjoint of :meth:`im2col`; ``batched_columns`` as there
        (``cols [C*kh*kw, N*L]``).
        """
        if batched_columns:
            n, rows, blocks = unbatch_columns("col2im", cols.shape, output_size, kernel_size, stride, padding, dilation)
            per_image = self.xp.ascontiguousarray(cols.reshape(rows, n, blocks).transpose(1, 0, 2))
            return self.col2im(per_image, output_size, kernel_size, stride, padding, dilation)
        geometry = col2im_geometry("col2im", cols.shape, output_size, kernel_size, stride, padding, dilation)
        n, c, (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = geometry
        height, width = ntuple(output_size, 2, "col2im output_size")
        xp = self.xp
        blocks = upcast(xp, cols).reshape(n, c, kh, kw, oh, ow)
        padded = xp.zeros((n, c, height + 2 * ph, width + 2 * pw), dtype=blocks.dtype)
        for ki in range(kh):
            for kj in range(kw):
                padded[
                    :, :, ki * dh : ki * dh + sh * (oh - 1) + 1 : sh, kj * dw : kj * dw + sw * (ow - 1) + 1 : sw
                ] += blocks[:, :, ki, kj]
        return padded[:, :, ph : ph + height, pw : pw + width].astype(cols.dtype)

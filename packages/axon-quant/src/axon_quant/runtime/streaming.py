"""Layer-ahead weight streaming for the device runtime: two device weight buffers, the next
layer's quantized matrices copied into one on a copy stream while the layer before computes
from the other.

The matrices stay in host memory (views of the GGUF mmap). Counting every layer the model runs
since loading (execution ``e = pass * n_layers + layer``), execution ``e`` computes from buffer
``e % 2``; its bytes were copied while execution ``e - 1`` computed:

    host          wait copied[s]     (the copy that last read staging[s] is done), then
                  stage layer e+1 from the mmap into pinned staging[s]           (s = (e+1) % 2)
    copy stream   wait released[s]   (execution e-1, the last to read buffer[s], is done)
                  copy staging[s] -> buffer[s]; record copied[s]
    compute       wait copied[e % 2]; the layer's kernels; record released[e % 2]

So a layer never reads its buffer before its copy is done, a copy never overwrites a buffer a
layer still reads, and the host never refills a staging buffer a copy still reads; cuda-sim's
stream checker raises if any of those waits is left out. The last layer of a pass copies the
next pass's first layer, so consecutive decode steps stream with no gap at the pass boundary.
Nothing is allocated after construction: buffers, staging, events and every view are made here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tensor import QuantTensor
from .prefetch import LayerPrefetcher

__all__ = ["SLOTS", "WeightStreamer"]

#: Device weight buffers (double buffering).
SLOTS = 2
# Byte alignment of each matrix inside a layer's image (CUDA allocations are 256-byte aligned).
_ALIGN = 256


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


class WeightStreamer:
    """Streams ``layers[i]`` (each a sequence of host QuantTensors, the same count per layer) to
    the device ahead of use.

    ``backend``: the device's backend (streams, events, ``empty``, ``pinned_empty``,
    ``write_pinned``, ``copy_to_device_async``). ``compute``: the stream the layers run on.
    ``prefetcher``: read-ahead of the next layer's file pages before it is staged (one group per
    layer). ``timing``: time every copy with events (see :meth:`copy_ms`) and the host staging
    (:attr:`stage_seconds`, per layer, accumulated).

    Per layer: :meth:`acquire` (issues the next layer's copy, makes the compute stream wait for
    this layer's, returns this layer's device QuantTensors), the layer's kernels on ``compute``,
    then :meth:`release`. ``issued`` counts copies issued, ``executed`` layers released;
    ``buffers`` are the two device buffers, ``layer_bytes[i]`` the bytes copied for layer ``i``.
    """

    def __init__(
        self,
        backend: Any,
        layers: Sequence[Sequence[QuantTensor]],
        *,
        compute: Any,
        prefetcher: LayerPrefetcher | None = None,
        timing: bool = False,
    ):
        self.backend, self.compute, self.prefetcher = backend, compute, prefetcher
        self.n_layers = len(layers)
        offsets = []
        for matrices in layers:
            at, layout = 0, []
            for w in matrices:
                layout.append(at)
                at = _aligned(at + w.nbytes)
            offsets.append(layout)
        self.layer_bytes = [layout[-1] + layers[i][-1].nbytes for i, layout in enumerate(offsets)]
        size = max(self.layer_bytes)
        self.copy_stream = backend.stream("weights")
        self.buffers = tuple(backend.empty((size,), np.uint8) for _ in range(SLOTS))
        self._staging = tuple(backend.pinned_empty((size,), np.uint8) for _ in range(SLOTS))
        self._copied = tuple(backend.event() for _ in range(SLOTS))
        self._released = tuple(backend.event() for _ in range(SLOTS))
        # Per layer: the mmap bytes of each matrix; per slot and layer: where they go in staging,
        # the whole image in staging and on the device, and the device QuantTensors over it.
        self._sources = [tuple(w.raw.reshape(-1) for w in matrices) for matrices in layers]
        self._stage_views, self._images, self.views = [], [], []
        for slot in range(SLOTS):
            stage, images, views = [], [], []
            for i, matrices in enumerate(layers):
                spans = [(at, at + w.nbytes) for at, w in zip(offsets[i], matrices, strict=True)]
                stage.append(tuple(self._staging[slot][lo:hi] for lo, hi in spans))
                images.append((self._staging[slot][: self.layer_bytes[i]], self.buffers[slot][: self.layer_bytes[i]]))
                views.append(
                    tuple(
                        QuantTensor(self.buffers[slot][lo:hi].reshape(w.raw.shape), w.ggml_type, w.shape)
                        for (lo, hi), w in zip(spans, matrices, strict=True)
                    )
                )
            self._stage_views.append(stage)
            self._images.append(images)
            self.views.append(views)
        self.timing = timing
        rounds = SLOTS * self.n_layers  # a pass's copies never reuse the events of the pass before
        self._copy_marks = (
            [(backend.event(timing=True), backend.event(timing=True)) for _ in range(rounds)] if timing else []
        )
        self.stage_seconds = np.zeros(self.n_layers)
        self.issued = 0
        self.executed = 0

    @property
    def size(self) -> int:
        """Bytes of each device buffer (the largest layer's image)."""
        return int(self.buffers[0].nbytes)

    def _issue(self) -> None:
        """Stage and queue the copy of execution ``issued`` (layer ``issued % n_layers``)."""
        be, copy = self.backend, self.copy_stream
        execution = self.issued
        layer, slot = execution % self.n_layers, execution % SLOTS
        self._copied[slot].synchronize()  # the copy out of staging[slot], two executions ago, is done
        start = time.perf_counter()
        for target, source in zip(self._stage_views[slot][layer], self._sources[layer], strict=True):
            be.write_pinned(target, source)
        if self.timing:
            self.stage_seconds[layer] += time.perf_counter() - start
        if self.prefetcher is not None:
            self.prefetcher.prefetch((layer + 1) % self.n_layers)
        copy.wait_event(self._released[slot])  # the layer that last read buffer[slot] is done
        staged, target = self._images[slot][layer]
        if self.timing:
            self._copy_marks[execution % len(self._copy_marks)][0].record(copy)
        be.copy_to_device_async(target, staged, copy)
        if self.timing:
            self._copy_marks[execution % len(self._copy_marks)][1].record(copy)
        self._copied[slot].record(copy)
        self.issued += 1

    def acquire(self) -> tuple[QuantTensor, ...]:
        """The device QuantTensors of the next layer to run, once the compute stream is made to
        wait for their copy; the copy of the layer after it is issued first."""
        execution = self.executed
        while self.issued <= execution + 1:
            self._issue()
        slot = execution % SLOTS
        self.compute.wait_event(self._copied[slot])
        return self.views[slot][execution % self.n_layers]

    def release(self) -> None:
        """The layer from :meth:`acquire` has had all its kernels issued on the compute stream."""
        self._released[self.executed % SLOTS].record(self.compute)
        self.executed += 1

    def copy_ms(self, execution: int) -> float:
        """Device milliseconds of execution ``execution``'s copy (``timing``; its copy must be done
        and among the last ``2 * n_layers`` issued)."""
        start, end = self._copy_marks[execution % len(self._copy_marks)]
        return self.backend.elapsed_ms(start, end)

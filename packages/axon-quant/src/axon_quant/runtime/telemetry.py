"""Per-layer telemetry: wall time per layer and section, and the weight bytes each layer reads.

The model calls :meth:`Telemetry.lap` after each section of a layer; the time since the previous
lap is added to that (layer, section) cell. Bytes are static (the layer's weights in their
stored format, read once per forward pass), so bandwidth is ``bytes * passes / seconds``.

The device runtime keeps :class:`StreamTelemetry` instead: per layer, the device time of its
kernels, of the copy of its weights, the compute stream's wait before it, and the host time
spent staging its weights into pinned memory.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["SECTIONS", "STREAM_COLUMNS", "StreamTelemetry", "Telemetry"]

#: the sections of a layer, in the order a forward pass runs them.
SECTIONS = ("norm", "qkv_matmul", "rope_attention", "out_matmul", "ffn_matmul", "activation")


class Telemetry:
    """Accumulated time of each (row, section) and the bytes of weights each row reads.

    ``labels[i]`` names row ``i`` (``"blk.0"`` ... then ``"embed"`` and ``"output"``),
    ``weight_bytes[i]`` the bytes of weights it reads per forward pass. ``seconds`` [rows,
    len(SECTIONS)] float64, ``passes`` the forward passes and ``tokens`` the tokens timed.
    """

    def __init__(self, labels: Sequence[str], weight_bytes: Sequence[int]):
        self.labels = list(labels)
        self.weight_bytes = np.asarray(weight_bytes, dtype=np.int64)
        self.seconds = np.zeros((len(self.labels), len(SECTIONS)))
        self.passes = 0
        self.tokens = 0
        self._last = 0.0

    def reset(self) -> None:
        self.seconds[:] = 0.0
        self.passes = self.tokens = 0

    def begin(self, tokens: int) -> None:
        """Start timing a forward pass over ``tokens`` tokens."""
        self.passes += 1
        self.tokens += tokens
        self._last = time.perf_counter()

    def lap(self, row: int, section: int) -> None:
        now = time.perf_counter()
        self.seconds[row, section] += now - self._last
        self._last = now

    def report(self) -> dict[str, Any]:
        """``{"passes", "tokens", "total_s", "ms_per_pass_by_section", "rows": [...]}``; each row
        ``{"name", "ms_per_pass", "weight_mib", "gb_s", "<section>_ms" ...}``."""
        passes = max(self.passes, 1)
        rows = []
        for i, name in enumerate(self.labels):
            seconds = float(self.seconds[i].sum())
            row = {
                "name": name,
                "ms_per_pass": 1e3 * seconds / passes,
                "weight_mib": self.weight_bytes[i] / 2**20,
                "gb_s": float(self.weight_bytes[i]) * self.passes / seconds / 1e9 if seconds > 0 else 0.0,
            }
            row.update({f"{s}_ms": 1e3 * float(self.seconds[i, j]) / passes for j, s in enumerate(SECTIONS)})
            rows.append(row)
        by_section = {s: 1e3 * float(self.seconds[:, j].sum()) / passes for j, s in enumerate(SECTIONS)}
        return {
            "passes": self.passes,
            "tokens": self.tokens,
            "total_s": float(self.seconds.sum()),
            "ms_per_pass_by_section": by_section,
            "rows": rows,
        }

    def format_table(self) -> str:
        """The report as a text table: one line per layer, milliseconds per forward pass."""
        report = self.report()
        head = f"{'layer':<8} {'ms/pass':>8} {'MiB':>7} {'GB/s':>6} " + " ".join(f"{s:>14}" for s in SECTIONS)
        lines = [f"telemetry: {report['passes']} forward passes, {report['tokens']} tokens", head]
        for row in report["rows"]:
            lines.append(
                f"{row['name']:<8} {row['ms_per_pass']:8.3f} {row['weight_mib']:7.2f} {row['gb_s']:6.2f} "
                + " ".join(f"{row[s + '_ms']:14.3f}" for s in SECTIONS)
            )
        total_ms = 1e3 * report["total_s"] / max(report["passes"], 1)
        mib = float(self.weight_bytes.sum()) / 2**20
        lines.append(
            f"{'total':<8} {total_ms:8.3f} {mib:7.2f} "
            + f"{mib * 2**20 * report['passes'] / max(report['total_s'], 1e-12) / 1e9:6.2f} "
            + " ".join(f"{report['ms_per_pass_by_section'][s]:14.3f}" for s in SECTIONS)
        )
        return "\n".join(lines)


#: what :class:`StreamTelemetry` times per layer, in milliseconds per forward pass.
STREAM_COLUMNS = ("compute", "wait", "copy", "stage")


class StreamTelemetry:
    """Per-layer times of the device runtime, from events on its streams (device time on a GPU;
    under cuda-sim, which runs each operation when issued, host time of the same work).

    ``labels`` as :class:`Telemetry`'s, ``copy_bytes[i]`` the weight bytes row ``i`` streams per
    pass. ``seconds`` [rows, len(STREAM_COLUMNS)]: ``compute``, the row's kernels on the compute
    stream; ``wait``, the compute stream's time between the previous row's end and this row's
    start (waiting for this layer's copy, or for the host to issue it); ``copy``, the host-to-device
    copy of the row's weights on the copy stream (it overlaps the previous layer's compute);
    ``stage``, host time copying them from the mmap into pinned staging memory.
    """

    def __init__(self, labels: Sequence[str], copy_bytes: Sequence[int]):
        self.labels = list(labels)
        self.copy_bytes = np.asarray(copy_bytes, dtype=np.int64)
        self.seconds = np.zeros((len(self.labels), len(STREAM_COLUMNS)))
        self.passes = 0
        self.tokens = 0

    def reset(self) -> None:
        self.seconds[:] = 0.0
        self.passes = self.tokens = 0

    def begin(self, tokens: int) -> None:
        """Count a forward pass over ``tokens`` tokens."""
        self.passes += 1
        self.tokens += tokens

    def add(self, row: int, column: int, seconds: float) -> None:
        self.seconds[row, column] += seconds

    def report(self) -> dict[str, Any]:
        """``{"passes", "tokens", "ms_per_pass": {column: ms}, "rows": [...]}``; each row
        ``{"name", "copy_mib", "copy_gb_s", "<column>_ms" ...}`` (``copy_gb_s``: bytes over copy time)."""
        passes = max(self.passes, 1)
        rows = []
        for i, name in enumerate(self.labels):
            copy_s = float(self.seconds[i, STREAM_COLUMNS.index("copy")])
            row: dict[str, Any] = {
                "name": name,
                "copy_mib": self.copy_bytes[i] / 2**20,
                "copy_gb_s": float(self.copy_bytes[i]) * self.passes / copy_s / 1e9 if copy_s > 0 else 0.0,
            }
            row.update({f"{c}_ms": 1e3 * float(self.seconds[i, j]) / passes for j, c in enumerate(STREAM_COLUMNS)})
            rows.append(row)
        return {
            "passes": self.passes,
            "tokens": self.tokens,
            "ms_per_pass": {c: 1e3 * float(self.seconds[:, j].sum()) / passes for j, c in enumerate(STREAM_COLUMNS)},
            "rows": rows,
        }

    def format_table(self) -> str:
        """The report as a text table: one line per layer, milliseconds per forward pass."""
        report = self.report()
        head = f"{'layer':<8} {'MiB':>7} {'copy GB/s':>9} " + " ".join(f"{c + ' ms':>10}" for c in STREAM_COLUMNS)
        lines = [f"telemetry (device streams): {report['passes']} forward passes, {report['tokens']} tokens", head]
        for row in report["rows"]:
            lines.append(
                f"{row['name']:<8} {row['copy_mib']:7.2f} {row['copy_gb_s']:9.2f} "
                + " ".join(f"{row[c + '_ms']:10.3f}" for c in STREAM_COLUMNS)
            )
        lines.append(
            f"{'total':<8} {float(self.copy_bytes.sum()) / 2**20:7.2f} {'':>9} "
            + " ".join(f"{report['ms_per_pass'][c]:10.3f}" for c in STREAM_COLUMNS)
        )
        return "\n".join(lines)

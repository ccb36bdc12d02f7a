"""Per-layer telemetry: wall time per layer and section, and the weight bytes each layer reads.

The model calls :meth:`Telemetry.lap` after each section of a layer; the time since the previous
lap is added to that (layer, section) cell. Bytes are static (the layer's weights in their
stored format, read once per forward pass), so bandwidth is ``bytes * passes / seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["SECTIONS", "Telemetry"]

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

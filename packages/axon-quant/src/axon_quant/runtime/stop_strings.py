"""Stop-string matching over a streamed text: the cut ``generate`` makes, usable by servers that
run their own decode loop."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopStrings"]


class StopStrings:
    """Cuts a text stream at the first of ``stops`` (empty strings are ignored).

    Feed the text as it is decoded; :meth:`feed` returns what may be emitted now and whether a
    stop string was reached. Text that could be the start of a stop string is held back until
    the next piece shows it is not, so the emitted text never contains a stop string and the
    cut is where ``str.find`` on the whole text would put it.
    """

    def __init__(self, stops: Sequence[str]):
        self.stops = [s for s in stops if s]
        self.held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """What may be emitted of ``held + text``, and whether a stop string was reached."""
        buf = self.held + text
        found = [i for i in (buf.find(s) for s in self.stops) if i >= 0]
        if found:
            self.held = ""
            return buf[: min(found)], True
        keep = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(buf)), keep, -1):
                if buf.endswith(s[:k]):
                    keep = k
                    break
        self.held = buf[len(buf) - keep :]
        return buf[: len(buf) - keep], False

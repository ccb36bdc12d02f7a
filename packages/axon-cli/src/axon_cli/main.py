"""The ``axon`` entry point (its subcommands are being built; see README.md)."""

from __future__ import annotations

import sys


def main() -> None:
    print("axon: no subcommands yet (axon-cli is under construction)", file=sys.stderr)
    sys.exit(2)

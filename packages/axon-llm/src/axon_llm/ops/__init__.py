"""Ops of axon-llm's models that axon-nn does not have: Mamba's :func:`selective_scan`."""

from __future__ import annotations

from .selective_scan import selective_scan

__all__ = ["selective_scan"]

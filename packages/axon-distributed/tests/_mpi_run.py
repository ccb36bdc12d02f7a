"""Helpers for tests that run real MPI ranks through ``python -m axon_distributed.launch`` (loaded by path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def launch(n: int, script: str | Path, *args: str, timeout: float = 120, env: dict | None = None, launcher=()):
    """Run ``script`` as ``n`` ranks; return the CompletedProcess (stdout and stderr as text)."""
    cmd = [sys.executable, "-m", "axon_distributed.launch", *launcher, "-n", str(n), str(script), *map(str, args)]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)


def rank_reports(folder: Path, n: int) -> list[dict]:
    """The ``rank{r}.json`` each rank wrote (an AssertionError listing the missing ones)."""
    missing = [r for r in range(n) if not (folder / f"rank{r}.json").exists()]
    assert not missing, f"ranks {missing} wrote no report"
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in range(n)]

"""Shared fixtures of the axon-core tests."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def kernel_errors():
    """Worst error per kernel name seen by the cuda-sim kernel tests.

    With ``AXON_SIM_ERRORS_JSON=path`` the values are merged (maximum per kernel, under a file
    lock, so pytest-xdist workers can share the file) into that JSON file for the kernel report.
    """
    errors: dict[str, float] = {}
    yield errors
    target = os.environ.get("AXON_SIM_ERRORS_JSON")
    if not target or not errors:
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = json.loads(path.read_text()) if path.exists() else {}
        for kernel, error in errors.items():
            merged[kernel] = max(merged.get(kernel, 0.0), error)
        path.write_text(json.dumps(merged, indent=1, sort_keys=True))

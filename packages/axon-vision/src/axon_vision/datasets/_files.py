"""Finding and reading dataset files; every failure names the file."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Sequence

from ..errors import DatasetFormatError


def find_file(candidates: Sequence[Path], what: str) -> Path:
    """The first existing path among ``candidates``; a DatasetFormatError listing them all otherwise."""
    for path in candidates:
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in candidates)
    raise DatasetFormatError(f"{what}: file not found (looked for {tried}); no download is attempted")


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when its name ends in ``.gz``."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError) as error:
        raise DatasetFormatError(f"{path}: cannot be read ({error})") from error

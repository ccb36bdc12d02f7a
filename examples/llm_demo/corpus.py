"""The training text: a folder of files (by default the Python standard library's own sources) or
one text file, split into train and validation documents.

The default corpus is the ``.py`` files of the running interpreter's standard library, written
by the CPython developers and released under the Python Software Foundation License (the
``LICENSE.txt`` beside them). Test suites, codec tables and generated data files are left out.
The split is by file, decided by a CRC-32 of each file's relative path, so it is the same on
every machine with the same Python and no file is in both halves.
"""

from __future__ import annotations

import sysconfig
import zlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Corpus", "STDLIB_SKIPPED_DIRS", "load_corpus", "stdlib_root"]

# Folders of the standard library that are not ordinary source: test suites, codec tables,
# generated documentation, bundled wheels, installed third-party packages.
STDLIB_SKIPPED_DIRS = frozenset(
    {"site-packages", "test", "tests", "idle_test", "__pycache__", "encodings", "pydoc_data", "ensurepip"}
)


@dataclass(frozen=True)
class Corpus:
    """``train`` and ``validation`` documents (text), where they came from, and their file names."""

    source: str
    licence: str
    train: tuple[str, ...]
    validation: tuple[str, ...]
    train_names: tuple[str, ...]
    validation_names: tuple[str, ...]

    @property
    def train_chars(self) -> int:
        return sum(len(doc) for doc in self.train)

    @property
    def validation_chars(self) -> int:
        return sum(len(doc) for doc in self.validation)

    def describe(self) -> str:
        return (
            f"{self.source} ({self.licence}): {len(self.train)} train documents "
            f"({self.train_chars / 1e6:.2f} M chars), "
            f"{len(self.validation)} validation documents ({self.validation_chars / 1e6:.2f} M chars)"
        )


def stdlib_root() -> Path:
    """The folder of the running interpreter's pure-Python standard library."""
    return Path(sysconfig.get_paths()["stdlib"])


def _is_validation(name: str, val_percent: float) -> bool:
    return zlib.crc32(name.encode("utf-8")) % 10_000 < val_percent * 100


def _folder_documents(root: Path, pattern: str, skipped: frozenset[str]) -> list[tuple[str, str]]:
    documents = []
    for path in sorted(root.rglob(pattern)):
        relative = path.relative_to(root)
        if not path.is_file() or skipped.intersection(relative.parts[:-1]):
            continue
        documents.append((relative.as_posix(), path.read_text(encoding="utf-8", errors="replace")))
    return documents


def _first_chars(documents: list[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """The first documents whose text adds up to ``limit`` characters (at least one document)."""
    kept, total = [], 0
    for name, text in documents:
        if kept and total >= limit:
            break
        kept.append((name, text))
        total += len(text)
    return kept


def load_corpus(
    path: str | Path | None = None,
    pattern: str = "*.py",
    val_percent: float = 5.0,
    max_chars: int | None = None,
) -> Corpus:
    """Read the corpus and split it.

    ``path`` None: the standard library (:func:`stdlib_root`). A folder: every file matching
    ``pattern`` under it, split by file (about ``val_percent`` % of the files go to validation).
    One file: its last ``val_percent`` % of lines are the validation document. ``max_chars`` keeps
    the first documents (in path order) up to that many characters of training text, and
    validation documents in proportion, for quick runs.
    """
    if not 0.0 < val_percent < 100.0:
        raise ValueError(f"load_corpus: val_percent must be in (0, 100), got {val_percent}")
    if path is None:
        root = stdlib_root()
        source = f"the Python {sysconfig.get_python_version()} standard library sources at {root}"
        licence = "Python Software Foundation License, see LICENSE.txt there"
        documents = _folder_documents(root, pattern, STDLIB_SKIPPED_DIRS)
    else:
        root = Path(path)
        if not root.exists():
            raise FileNotFoundError(f"load_corpus: no file or folder at {root}")
        source, licence = str(root), "as given by its owner"
        if root.is_file():
            lines = root.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
            cut = max(1, int(len(lines) * (1 - val_percent / 100)))
            if cut >= len(lines):
                raise ValueError(f"load_corpus: {root} has {len(lines)} lines, too few to split")
            return Corpus(source, licence, ("".join(lines[:cut]),), ("".join(lines[cut:]),), (root.name,), (root.name,))
        documents = _folder_documents(root, pattern, frozenset({"__pycache__"}))
    train, validation = [], []
    for name, text in documents:
        (validation if _is_validation(name, val_percent) else train).append((name, text))
    if max_chars is not None:
        train = _first_chars(train, max_chars)
        validation = _first_chars(validation, int(max_chars * val_percent / (100.0 - val_percent)))
    if not train or not validation:
        raise ValueError(
            f"load_corpus: {source} gave {len(train)} train and {len(validation)} validation documents "
            f"(pattern {pattern!r}); both must be non-empty"
        )
    return Corpus(
        source,
        licence,
        tuple(t for _, t in train),
        tuple(t for _, t in validation),
        tuple(n for n, _ in train),
        tuple(n for n, _ in validation),
    )

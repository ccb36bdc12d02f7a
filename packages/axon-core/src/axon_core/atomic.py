"""Atomic file writes: a crash mid-save leaves the previous file untouched, and the temporary file
it leaves behind is removed by the next save to the same folder.

A save writes ``.<name>.<16 hex digits>.axon-tmp`` next to the target and holds an exclusive
``flock`` on it from creation until after the rename. The kernel drops the lock when the writer
dies, however it dies (SIGKILL included), so an unlocked temporary file is debris: every save first
removes the unlocked ones in its folder. A live writer's file is never touched.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

__all__ = ["atomic_writer", "reclaim_stale_temporaries", "TEMP_SUFFIX"]

TEMP_SUFFIX = ".axon-tmp"
_TEMP_NAME = re.compile(r"\..+\.[0-9a-f]{16}" + re.escape(TEMP_SUFFIX))
_NAME_PART = 200  # keeps the temporary name under the usual 255-byte limit


@contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path`` for writing; on success fsync it, rename it over
    ``path`` and fsync the directory. On any exception the temporary file is removed and ``path``
    keeps its old content.

    A symlink at ``path`` is followed: the file it points to is replaced and the link stays (a
    loop raises ``OSError(ELOOP)``). An existing file keeps its permission bits; a new one gets
    ``0o666`` less the umask, as ``open()`` would give it. Stale temporary files of writers that
    died are removed from the folder first (see the module docstring)."""
    target = _resolve(Path(path))
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    mode = _kept_mode(target)
    reclaim_stale_temporaries(folder)
    fd, temp = _create_locked(folder, target.name)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb", closefd=False) as handle:
            yield handle
            handle.flush()
            os.fsync(fd)
        # Renamed while still locked, so no reclaimer can take the file between fsync and rename.
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    finally:
        os.close(fd)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def reclaim_stale_temporaries(folder: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files of dead writers in ``folder``; returns the names removed.

    Only regular files named like this module's temporaries and not locked by a live writer are
    removed. Where the filesystem has no ``flock`` nothing is removed."""
    removed = []
    try:
        entries = [entry.name for entry in os.scandir(folder) if _TEMP_NAME.fullmatch(entry.name)]
    except OSError:
        return removed
    for name in entries:
        candidate = os.path.join(folder, name)
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # a live writer holds it, or this filesystem has no locks
            # Unlinked while locked and only if the name still is the locked file: a writer that
            # renamed it into place meanwhile, or created a new one, is left alone.
            if _names(fd, candidate):
                os.unlink(candidate)
                removed.append(name)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _resolve(target: Path) -> Path:
    if not os.path.islink(target):
        return target
    resolved = Path(os.path.realpath(target))
    if os.path.islink(resolved):
        raise OSError(errno.ELOOP, "symlink loop", str(target))
    return resolved


def _kept_mode(target: Path) -> int | None:
    try:
        status = os.stat(target)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return stat.S_IMODE(status.st_mode) & ~(stat.S_ISUID | stat.S_ISGID)


def _create_locked(folder: Path, name: str) -> tuple[int, str]:
    for _ in range(64):
        temp = os.path.join(folder, f".{name[:_NAME_PART]}.{secrets.token_hex(8)}{TEMP_SUFFIX}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                os.close(fd)
                raise
            return fd, temp  # no locks here: reclaimers cannot lock it either, so they skip it
        if _names(fd, temp):
            return fd, temp
        os.close(fd)  # a reclaimer removed it between our create and our lock: take a new name
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def _names(fd: int, path: str) -> bool:
    """Whether ``path`` (not followed) still names the file open as ``fd``."""
    try:
        named = os.lstat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)

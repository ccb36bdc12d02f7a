"""Reading untrusted files: regular files only, every read bounded by the file's size.

No loader maps a file into memory: a file truncated by another process while mapped would kill
the reader with SIGBUS. Plain reads see the truncation as a short read, reported as an error.
"""

from __future__ import annotations

import io
import os
import stat

from .errors import SerializationError

__all__ = ["open_regular", "read_exact", "read_into", "read_whole"]

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _refuse_irregular(mode: int, where: str) -> None:
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise SerializationError(f"{where}: is {kind}; only regular files are read")


def open_regular(path: str | os.PathLike[str], where: str) -> tuple[io.FileIO, int]:
    """An unbuffered binary handle on the regular file at ``path`` and its size in bytes.

    FIFOs, devices (``/dev/zero``), sockets and directories are refused before they are read: a
    FIFO would block the loader, a device would feed it without end."""
    try:
        _refuse_irregular(os.stat(path).st_mode, where)  # no open() at all of a device or FIFO
        # O_NONBLOCK: should a FIFO be swapped in after the stat, opening it must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SerializationError(f"{where}: cannot read ({exc.strerror or exc})") from exc
    try:
        status = os.fstat(fd)
        _refuse_irregular(status.st_mode, where)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return io.FileIO(fd, "rb", closefd=True), status.st_size


def read_into(handle: io.FileIO, buffer: memoryview, where: str, offset: int) -> None:
    """Fill ``buffer`` from the handle's position (``offset``, for the message)."""
    done = 0
    while done < len(buffer):
        try:
            count = handle.readinto(buffer[done:])
        except OSError as exc:
            raise SerializationError(f"{where}: offset {offset + done}: read failed ({exc.strerror or exc})") from exc
        if not count:
            raise SerializationError(
                f"{where}: offset {offset + done}: the file ends {len(buffer) - done} bytes early "
                "(truncated while being read?)"
            )
        done += count


def read_exact(handle: io.FileIO, count: int, where: str, offset: int) -> bytes:
    """``count`` bytes from the handle's position; ``count`` must already be bounded by the file size."""
    chunks, done = [], 0
    while done < count:
        try:
            chunk = handle.read(count - done)  # one read() is all of it, but for > 2 GiB or a truncation
        except MemoryError as exc:
            raise SerializationError(f"{where}: offset {offset}: {count} bytes do not fit in memory") from exc
        except OSError as exc:
            raise SerializationError(f"{where}: offset {offset + done}: read failed ({exc.strerror or exc})") from exc
        if not chunk:
            raise SerializationError(
                f"{where}: offset {offset + done}: the file ends {count - done} bytes early "
                "(truncated while being read?)"
            )
        chunks.append(chunk)
        done += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)  # b"" when count is 0


def read_whole(path: str | os.PathLike[str], where: str | None = None) -> bytes:
    """The content of the regular file at ``path``: exactly as many bytes as its size when opened."""
    where = str(path) if where is None else where
    handle, size = open_regular(path, where)
    with handle:
        content = read_exact(handle, size, where, 0)
        if handle.read(1):
            raise SerializationError(f"{where}: the file grew past {size} bytes while being read")
    return content

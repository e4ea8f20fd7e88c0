"""Writes one file whole with system calls (no file objects, no pathlib): the lab store delivers
every message this way and fetch() archives every message this way, so it runs once per message. A
file that cannot be written whole is removed again. And makes many written files durable at once:
`sync_filesystem`, syncfs(2) where there is one (Linux), which both use for a batch."""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable


def write_file(path: str, data: bytes, *, exclusive: bool = False, sync: bool = False) -> None:
    """Write ``data`` to ``path``. ``exclusive`` refuses an existing file (FileExistsError,
    and the file is left alone); ``sync`` fsyncs it before returning. On any error after the
    file was created, it is removed and the error raised."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o666)
    try:
        with memoryview(data) as view:
            written = 0
            while written < len(data):
                written += os.write(fd, view[written:])
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def _syncfs_call() -> Callable[[int], int] | None:
    """libc's syncfs(2) (Linux: write out one file system, data and metadata), or None."""
    try:
        call: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError, TypeError):
        return None
    return call


SYNCFS = _syncfs_call()
"""syncfs(2), or None where the C library has none."""


def sync_filesystem(path: str) -> None:
    """syncfs(2) on the file system holding ``path``: every file written there is durable once it
    returns, and a write-back error is raised (Linux 5.8 and later). Needs ``SYNCFS``."""
    assert SYNCFS is not None
    fd = os.open(path, os.O_RDONLY)
    try:
        if SYNCFS(fd) != 0:
            number = ctypes.get_errno()
            raise OSError(number, os.strerror(number), path)
    finally:
        os.close(fd)

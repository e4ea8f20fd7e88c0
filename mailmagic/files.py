"""Writes one file whole with system calls (no file objects, no pathlib): the lab store delivers
every message this way and fetch() archives every message this way, so it runs once per message. A
file that cannot be written whole is removed again."""

from __future__ import annotations

import contextlib
import os


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

# What this module does: tests of mailmagic/files.py: a file is written whole (also when the
# system writes it in pieces), an exclusive write leaves an existing file alone, and a file that
# cannot be written whole is removed; syncfs succeeds, and its errors keep their errno.
from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

import pytest

from mailmagic import files
from mailmagic.files import write_file


def test_writes_the_whole_file_and_replaces_an_old_one(tmp_path: Path) -> None:
    target = tmp_path / "message"
    target.write_bytes(b"an older and longer file")
    write_file(str(target), b"new", sync=True)
    assert target.read_bytes() == b"new"


def test_an_exclusive_write_leaves_an_existing_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "message"
    target.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        write_file(str(target), b"new", exclusive=True)
    assert target.read_bytes() == b"keep me"


def test_short_writes_are_continued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    target = tmp_path / "message"
    write_file(str(target), b"0123456789")
    assert target.read_bytes() == b"0123456789"


def test_a_failed_write_removes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    target = tmp_path / "message"
    with pytest.raises(OSError, match="No space left"):
        write_file(str(target), b"data", exclusive=True)
    assert not target.exists()


@pytest.mark.skipif(files.SYNCFS is None, reason="syncfs(2) is Linux's")
def test_syncfs_succeeds_and_its_errors_keep_their_errno(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files.sync_filesystem(str(tmp_path))  # the real call

    def failing(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(files, "SYNCFS", failing)
    with pytest.raises(OSError) as raised:
        files.sync_filesystem(str(tmp_path))
    assert raised.value.errno == errno.EIO and raised.value.filename == str(tmp_path)

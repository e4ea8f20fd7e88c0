# What this module does: tests of mailmagic/session/archive.py without a server: a Maildir shows
# only flushed messages, a UID is refused twice before anything is written; an mbox's commit record
# cuts off what an unfinished run wrote past its last checkpoint (also for a record from before
# "size"), refuses an mbox shorter than recorded or a record that is not JSON, and keeps what was
# in the mbox before; its locks: a dot-lock of a process that is gone, of this process no longer
# holding it, or with no owner and over 1024 s old is removed with a note, while one of a running
# process, a young one with no owner, or a lockf lock held elsewhere is refused, naming who holds
# it.
from __future__ import annotations

import json
import mailbox
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailmagic.session.archive import (
    LOCK_TIMEOUT,
    Archive,
    ArchiveError,
    MaildirArchive,
    MboxArchive,
    open_archive,
)

HOST = socket.gethostname()


def message(n: int) -> bytes:
    return f"Subject: message {n}\r\n\r\nbody {n}\r\n".encode()


def subjects(path: Path) -> list[str]:
    return [str(m["Subject"]) for m in mailbox.mbox(path)]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A running process other than this one."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield child
    child.kill()
    child.wait()


# --- Maildir -------------------------------------------------------------------------------------


def test_a_crash_before_the_flush_leaves_nothing_half_done(tmp_path: Path) -> None:
    archive = MaildirArchive(tmp_path / "a").__enter__()
    archive.add("uid-1", message(1))  # staged in tmp/, not yet flushed
    with MaildirArchive(tmp_path / "a") as fresh:
        assert "uid-1" not in fresh  # a fresh look: not archived
    archive.__exit__(None, None, None)
    with MaildirArchive(tmp_path / "a") as fresh:
        assert "uid-1" in fresh
    assert (tmp_path / "a" / "cur" / "uid-1:2,S").read_bytes() == b"Subject: message 1\n\nbody 1\n"


@pytest.mark.parametrize("fmt", ["maildir", "mbox"])
def test_a_uid_is_refused_twice_before_anything_is_written(tmp_path: Path, fmt: str) -> None:
    with open_archive(tmp_path / "a", fmt) as archive:  # type: ignore[arg-type]
        archive.add("uid-1", message(1))
        with pytest.raises(ValueError, match=r"'uid-1' is in .* already"):
            archive.add("uid-1", message(2))
    if fmt == "maildir":
        assert list((tmp_path / "a" / "tmp").iterdir()) == []
        assert len(list((tmp_path / "a" / "cur").iterdir())) == 1
    else:
        assert subjects(tmp_path / "a") == ["message 1"]


# --- mbox and its commit record -------------------------------------------------------------------


def filled(path: Path, count: int, flush_every: int = Archive.FLUSH_EVERY) -> MboxArchive:
    """An mbox archive left open as a killed run leaves it: ``count`` added, not closed."""
    archive = MboxArchive(path)
    archive.FLUSH_EVERY = flush_every
    archive.__enter__()
    for n in range(1, count + 1):
        archive.add(f"uid-{n}", message(n))
    return archive


def forget(archive: MboxArchive) -> None:
    """What a kill leaves: the lock file stays, naming a process that is gone."""
    archive._lock.release()  # only to free this process's lockf lock and descriptor
    Path(f"{archive.path}.lock").write_text(f"{2**22 + 1} {HOST}\n")  # over Linux's pid_max


def test_what_a_killed_run_wrote_past_its_checkpoint_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "a.mbox"
    forget(filled(path, 7, flush_every=3))  # checkpoints at 3 and 6; message 7 past them
    with MboxArchive(path) as archive:
        assert [uid in archive for uid in ("uid-6", "uid-7")] == [True, False]
        assert subjects(path) == [f"message {n}" for n in range(1, 7)]
        archive.add("uid-7", message(7))
    assert subjects(path) == [f"message {n}" for n in range(1, 8)]
    assert "is not running" in archive.notes[0] and archive.notes[1].startswith("cut the last")


def test_a_message_cut_in_the_middle_is_cut_off_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.mbox"
    forget(filled(path, 3, flush_every=3))
    with path.open("ab") as mbox:
        mbox.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nSubject: half")
    with MboxArchive(path) as archive:
        archive.add("uid-4", message(4))
    assert subjects(path) == [f"message {n}" for n in range(1, 5)]


def test_what_was_in_the_mbox_before_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.mbox"
    path.write_bytes(b"From someone Thu Jan  1 00:00:00 1970\nSubject: mine\n\nhello\n\n")
    with MboxArchive(path) as archive:
        archive.add("uid-1", message(1))
    assert subjects(path) == ["mine", "message 1"]
    with MboxArchive(path) as archive:
        assert archive.located("uid-1") == (path, "1")


def test_a_record_from_before_size_is_trusted_up_to_its_last_message(tmp_path: Path) -> None:
    path = tmp_path / "a.mbox"
    forget(filled(path, 5))
    record = path.with_name("a.mbox.uidl.json")
    record.write_text(json.dumps({"uid-1": "0", "uid-2": "1", "uid-3": "2"}))  # the old form
    with MboxArchive(path) as archive:
        assert "uid-3" in archive and "uid-4" not in archive
    assert subjects(path) == ["message 1", "message 2", "message 3"]


def test_an_empty_record_from_before_size_keeps_what_is_in_the_mbox(tmp_path: Path) -> None:
    path = tmp_path / "a.mbox"
    path.write_bytes(b"From someone Thu Jan  1 00:00:00 1970\nSubject: mine\n\nhello\n\n")
    path.with_name("a.mbox.uidl.json").write_text("{}")
    with MboxArchive(path) as archive:
        archive.add("uid-1", message(1))
    assert subjects(path) == ["mine", "message 1"]


@pytest.mark.parametrize("saved", ["[1, 2]", '{"uid-1": "zero"}', '{"uids": 1, "size": 2}'])
def test_a_record_of_another_program_is_refused(tmp_path: Path, saved: str) -> None:
    path = tmp_path / "a.mbox"
    path.with_name("a.mbox.uidl.json").write_text(saved)
    with pytest.raises(ArchiveError, match="not a UID record of mailmagic's: move it away"):
        MboxArchive(path).__enter__()


def test_an_mbox_shorter_than_its_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.mbox"
    filled(path, 3).__exit__(None, None, None)
    os.truncate(path, 10)
    with pytest.raises(ArchiveError, match=r"shorter than .*changed it.*move a.mbox.uidl.json"):
        MboxArchive(path).__enter__()
    assert not Path(f"{path}.lock").exists()  # refused, and left unlocked


def test_a_record_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.mbox"
    path.with_name("a.mbox.uidl.json").write_text('{"uids": {"uid-1": "0"')
    with pytest.raises(ArchiveError, match="not readable JSON"):
        MboxArchive(path).__enter__()


# --- mbox locks -----------------------------------------------------------------------------------


def test_a_lock_of_a_running_process_is_refused_naming_it(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "a.mbox"
    Path(f"{path}.lock").write_text(f"{sleeper.pid} {HOST}\n")
    with pytest.raises(
        ArchiveError, match=rf"locked by process {sleeper.pid}, which is still running"
    ):
        MboxArchive(path).__enter__()
    assert Path(f"{path}.lock").read_text() == f"{sleeper.pid} {HOST}\n"  # left alone


def test_a_lock_of_a_process_that_is_gone_is_removed_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "a.mbox"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    Path(f"{path}.lock").write_text(f"{gone} {HOST}\n")
    with MboxArchive(path) as archive:
        assert Path(f"{path}.lock").read_text() == f"{os.getpid()} {HOST}\n"
    assert archive.notes == [f"removed the stale lock {path}.lock: process {gone}, which made it, "
                             "is not running"]  # fmt: skip
    assert not Path(f"{path}.lock").exists()


def test_a_lock_this_process_made_but_no_longer_holds_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "a.mbox"
    Path(f"{path}.lock").write_text(f"{os.getpid()} {HOST}\n")
    with MboxArchive(path) as archive, pytest.raises(ArchiveError, match=r"this process \(another"):
        MboxArchive(path).__enter__()  # while the first one holds it: refused
    assert "this process made it" in archive.notes[0]


def test_a_lock_with_no_owner_is_refused_while_young_and_removed_when_old(tmp_path: Path) -> None:
    path = tmp_path / "a.mbox"
    lock = Path(f"{path}.lock")
    lock.write_bytes(b"")  # as Python's mailbox and many mail programs make it
    with pytest.raises(ArchiveError, match=r"another program \(the lock names no owner"):
        MboxArchive(path).__enter__()
    old = time.time() - LOCK_TIMEOUT - 60
    os.utime(lock, (old, old))
    with MboxArchive(path) as archive:
        pass
    assert "names no owner and is" in archive.notes[0]


def test_a_lockf_lock_held_elsewhere_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("fcntl")
    path = tmp_path / "a.mbox"
    path.touch()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR);"
         " fcntl.lockf(fd, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        with pytest.raises(ArchiveError, match=r"locked \(lockf\) by another running process"):
            MboxArchive(path).__enter__()
    finally:
        holder.kill()
        holder.wait()
    assert not Path(f"{path}.lock").exists()

"""The archives that fetch() (session/fetch.py) writes into, a Maildir or an mbox, each keyed by the
messages' POP3 UIDs, and how they survive a crash or a kill at any moment, so that a resumed fetch
ends with every message exactly once.

- Maildir: cur/ is the index (a file per message, named by its quoted UID). A message is written
  to tmp/; every FLUSH_EVERY messages the batch is synced to disk in one go and renamed into
  cur/. cur/ only ever holds complete messages, and a message not yet there is fetched again
  (its leftover in tmp/ overwritten). Maildir needs no lock.
- mbox: "<mbox>.uidl.json" holds {"uids": {uid: key}, "size": octets} and is the commit record:
  every FLUSH_EVERY messages the mbox is synced, then the record is replaced whole (written,
  synced, renamed), naming the messages added and the mbox's size after the last of them. A
  record exists before the first message is added. On opening, octets past the recorded size
  were written after the last commit by a fetch that did not finish (the last message maybe
  cut): they are cut off with a note, and the resumed fetch gets those messages again. So the
  mbox never holds a message twice or one its record does not name. An mbox shorter than its
  record was changed by something else, and is refused with advice. (A record from before the
  "size" key: its size is taken as the start of the first message it does not name.)
- mbox locking, as mail tools do: lockf on the mbox (the kernel drops it when a process dies),
  then the dot-lock "<mbox>.lock" (mailbox.mbox's name for it), made whole in one step (a hard
  link) and naming its owner: "<pid> <host>". A dot-lock whose process on this host is gone (or
  is this process, which no longer holds it), or one that names no owner and is older than
  procmail's LOCKTIMEOUT (1024 s), is stale: removed, with a note. Any other is refused, saying
  who holds it and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import mailbox
import os
import re
import socket
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Literal
from weakref import WeakValueDictionary

from mailmagic import files
from mailmagic.files import write_file
from mailmagic.session.base import SessionError

try:
    import fcntl
except ImportError:  # Windows: no lockf; the dot-lock alone
    fcntl = None  # type: ignore[assignment]

Format = Literal["maildir", "mbox"]
LOCK_TIMEOUT = 1024
"""Seconds after which a dot-lock that names no owner is stale (procmail's LOCKTIMEOUT)."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")


class ArchiveError(SessionError):
    """The archive cannot be used as it is (locked, or changed by another program)."""


class Archive(ABC):
    """Where fetched messages go; use as a context manager (see the module docstring).

    ``add`` stores a message under its UID; ``flush`` makes what was added durable (also every
    FLUSH_EVERY messages and on leaving the ``with`` block). ``notes`` says what was repaired.
    """

    FLUSH_EVERY = 200
    format: Format

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.notes: list[str] = []
        self._unflushed = 0

    def __enter__(self) -> Archive:
        self._open()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            self.flush()
        except OSError:
            if kind is None:  # else the error in flight says more; what is unflushed is redone
                raise
        finally:
            self._close()

    def add(self, uid: str, crlf_message: bytes) -> None:
        """Store one message under its UID (LF line ends on disk, as both formats expect)."""
        if uid in self:
            raise ValueError(f"UID {uid!r} is in {self.path} already: add each message once")
        self._add(uid, crlf_message.replace(b"\r\n", b"\n"))
        self._unflushed += 1
        if self._unflushed >= self.FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Make every message added so far durable."""
        self._flush()
        self._unflushed = 0

    @abstractmethod
    def __contains__(self, uid: object) -> bool: ...

    @abstractmethod
    def located(self, uid: str) -> tuple[Path, str]:
        """(path, key) of an archived message."""

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def _add(self, uid: str, data: bytes) -> None: ...

    @abstractmethod
    def _flush(self) -> None: ...


def open_archive(path: str | os.PathLike[str], fmt: Format) -> Archive:
    """The archive at ``path`` in format ``fmt`` (not opened yet: use it in a ``with``)."""
    if fmt == "maildir":
        return MaildirArchive(Path(path))
    return MboxArchive(Path(path))


class MaildirArchive(Archive):
    """A Maildir: one file per UID in cur/, batches staged in tmp/ (see the module docstring)."""

    format: Format = "maildir"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._index: dict[str, str] = {}
        self._staged: list[str] = []  # names in tmp/ waiting for the next flush

    def __contains__(self, uid: object) -> bool:
        return uid in self._index

    def located(self, uid: str) -> tuple[Path, str]:
        key = self._index[uid]
        return Path(f"{self.path}/cur/{key}"), key  # one parse, not two joins: runs per message

    def _open(self) -> None:
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        self._index = {_unquote(p.name): p.name for p in (self.path / "cur").iterdir()}

    def _close(self) -> None:
        return None

    def _add(self, uid: str, data: bytes) -> None:
        name = f"{_UNSAFE.sub(lambda m: f'%{ord(m.group()):02X}', uid)}:2,S"
        write_file(f"{self.path}/tmp/{name}", data)  # synced with its batch in _flush
        self._staged.append(name)
        self._index[uid] = name

    def _flush(self) -> None:
        """A batch is synced to disk in one go, then renamed into cur/: one sync per batch
        costs far less than an fsync per message. syncfs(2) where there is one: only the
        archive's file system, and a write-back error is raised (os.sync reports none)."""
        if not self._staged:
            return
        if files.SYNCFS is not None:
            files.sync_filesystem(str(self.path))
        else:
            os.sync()
        tmp, cur = f"{self.path}/tmp/", f"{self.path}/cur/"
        while self._staged:
            os.replace(tmp + self._staged[0], cur + self._staged[0])
            del self._staged[0]


def _unquote(name: str) -> str:
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), name.split(":")[0])


class MboxArchive(Archive):
    """An mbox and its commit record "<mbox>.uidl.json" (see the module docstring)."""

    format: Format = "mbox"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.record = self.path.with_name(self.path.name + ".uidl.json")
        self._lock = MboxLock(self.path)
        self._box: mailbox.mbox | None = None
        self._committed: dict[str, str] = {}
        self._size = 0  # the mbox's octets that the record covers
        self._batch: list[tuple[str, str, int]] = []  # (uid, key, size after it), uncommitted

    def __contains__(self, uid: object) -> bool:
        return uid in self._committed or any(uid == added for added, _, _ in self._batch)

    def located(self, uid: str) -> tuple[Path, str]:
        key = next((key for added, key, _ in self._batch if added == uid), None)
        return self.path, self._committed[uid] if key is None else key

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = self._lock.acquire()
        try:
            self.notes += self._lock.notes
            self._committed, self._size = self._recover(fd)
            self._box = mailbox.mbox(self.path)
            if not self.record.exists():
                self._commit()  # a record before the first message: see the module docstring
        except BaseException:
            self._lock.release()
            raise

    def _close(self) -> None:
        try:
            if self._box is not None:
                self._box.close()
                self._box = None
        finally:
            self._lock.release()

    def _add(self, uid: str, data: bytes) -> None:
        assert self._box is not None, "use the archive in a with block"
        key = self._box.add(data)  # written and flushed to the file (on a failure, cut off again)
        # One append records the message: whatever stops us before it, the octets stay beyond
        # the committed size and are cut off on the next opening.
        self._batch.append((uid, str(key), os.fstat(self._lock.fd).st_size))

    def _flush(self) -> None:
        if self._batch:
            self._commit()

    def _commit(self) -> None:
        assert self._box is not None
        self._box.flush()  # synced: the messages are on disk before the record naming them
        uids = {**self._committed, **{uid: key for uid, key, _ in self._batch}}
        size = self._batch[-1][2] if self._batch else self._size
        data = json.dumps({"uids": uids, "size": size}).encode()
        write_file(f"{self.record}.tmp", data, sync=True)
        os.replace(f"{self.record}.tmp", self.record)
        self._committed, self._size, self._batch = uids, size, []

    def _recover(self, fd: int) -> tuple[dict[str, str], int]:
        """The committed UIDs and size; octets written after the last commit are cut off."""
        uids, size = self._read_record(fd)
        actual = os.fstat(fd).st_size
        if actual < size:
            raise ArchiveError(
                f"{self.path} is {actual} octets, shorter than the {size} its UID record "
                f"{self.record} names: something else changed it, so which messages it holds is "
                f"unknown. Restore it, or move {self.record.name} away to fetch every message "
                "into it again (messages already in it would then be there twice)"
            )
        if actual > size:
            os.ftruncate(fd, size)
            self.notes.append(
                f"cut the last {actual - size} octets off {self.path}: a fetch that did not "
                "finish wrote them after its last checkpoint; their messages are fetched again"
            )
        return uids, size

    def _read_record(self, fd: int) -> tuple[dict[str, str], int]:
        if not self.record.exists():
            return {}, os.fstat(fd).st_size  # what is there already is not ours: kept
        try:
            saved = json.loads(self.record.read_text())
        except ValueError as error:
            raise ArchiveError(
                f"the UID record {self.record} is not readable JSON ({error}); it is replaced "
                f"whole, so something else wrote it: move it away to fetch into {self.path} "
                "again (messages already in it would then be there twice)"
            ) from None
        if not isinstance(saved, dict):
            raise self._not_a_record()
        if isinstance(saved.get("uids"), dict) and isinstance(saved.get("size"), int):
            return saved["uids"], saved["size"]
        return saved, self._size_before_size(fd, saved)

    def _size_before_size(self, fd: int, uids: dict[str, object]) -> int:
        """The size a record from before "size" ({uid: key} only) stands for: up to the first
        message it does not name (or all of the mbox, if it names none)."""
        keys = list(uids.values())
        if not all(isinstance(key, str) and key.isdigit() for key in keys):
            raise self._not_a_record()
        if not keys:
            return os.fstat(fd).st_size
        return _start_of_message(fd, 1 + max(int(str(key)) for key in keys))

    def _not_a_record(self) -> ArchiveError:
        return ArchiveError(
            f"{self.record} is not a UID record of mailmagic's: move it away, or fetch into "
            f"another file than {self.path}"
        )


def _start_of_message(fd: int, key: int) -> int:
    """Where message ``key`` (0 for the first) of the mbox starts: the offset of its "From "
    line; the end of the file when there are fewer messages."""
    offset, seen = 0, 0
    with open(fd, "rb", closefd=False) as mbox:  # the locked descriptor: closing another
        mbox.seek(0)  # descriptor of the file would drop this process's lockf lock
        for line in mbox:
            if line.startswith(b"From ") and (seen := seen + 1) > key:
                return offset
            offset += len(line)
    return offset


class MboxLock:
    """lockf on the mbox, then its dot-lock naming the owner (see the module docstring)."""

    held_here: ClassVar[WeakValueDictionary[str, MboxLock]] = WeakValueDictionary()
    """The dot-locks this process holds now, while their MboxLock lives: one naming this process
    but not here was left by a fetch that could not unlock (Ctrl-C while closing), and is stale."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dotlock = os.path.abspath(f"{path}.lock")
        self.fd = -1
        self.notes: list[str] = []
        self._owner = f"{os.getpid()} {socket.gethostname()}\n"

    def acquire(self) -> int:
        """Lock the mbox (created if missing); its descriptor, open for reading and writing."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            self._lockf(fd)
            self._dot_lock()
        except BaseException:
            os.close(fd)  # drops the lockf lock
            raise
        self.fd = fd
        self.held_here[self.dotlock] = self
        return fd

    def release(self) -> None:
        """Remove the dot-lock (if it is still ours) and drop the lockf lock."""
        fd, self.fd = self.fd, -1
        if fd < 0:
            return
        try:
            if _read_text(self.dotlock) == self._owner:
                os.unlink(self.dotlock)
        finally:
            self.held_here.pop(self.dotlock, None)
            os.close(fd)

    def __del__(self) -> None:
        if getattr(self, "fd", -1) >= 0:  # never released (interrupted): its lockf goes with it
            os.close(self.fd)

    def _lockf(self, fd: int) -> None:
        if fcntl is None:
            return
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise ArchiveError(
                f"{self.path} is locked (lockf) by another running process, such as a fetch "
                "into it that has not finished: wait for it, or stop it, then fetch again"
            ) from None

    def _dot_lock(self) -> None:
        if self._make():
            return
        owner = _read_text(self.dotlock)
        stale = self._stale(owner)
        if stale is None:
            raise ArchiveError(self._held())
        if stale:  # else it went away by itself
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.dotlock)
            if owner and owner.split()[0].isdigit():  # what it left if it died right after
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._temporary(owner))
            self.notes.append(f"removed the stale lock {self.dotlock}: {stale}")
        if not self._make():
            raise ArchiveError(self._held())

    def _temporary(self, owner: str | None = None) -> str:
        """Where ``owner`` (this process by default) writes the dot-lock before linking it."""
        pid, _, host = (owner or self._owner).strip().partition(" ")
        return f"{self.dotlock}.{host}.{pid}"

    def _make(self) -> bool:
        """Create the dot-lock whole, owner inside, in one step; False if it exists already."""
        temporary = self._temporary()
        write_file(temporary, self._owner.encode())
        try:
            os.link(temporary, self.dotlock)
            return True
        except FileExistsError:
            return False
        except OSError:  # no hard links on this file system: create it exclusively instead
            try:
                write_file(self.dotlock, self._owner.encode(), exclusive=True)
                return True
            except FileExistsError:
                return False
        finally:
            os.unlink(temporary)

    def _stale(self, owner: str | None) -> str | None:
        """Why the dot-lock (its text ``owner``) is stale; "" if gone; None if it may be in use."""
        if owner is None:
            return ""
        pid, _, host = owner.strip().partition(" ")
        if not pid.isdigit():
            age = _age(self.dotlock)
            if age > LOCK_TIMEOUT:
                return f"it names no owner and is {age:.0f} s old (over {LOCK_TIMEOUT} s)"
            return None
        if host != socket.gethostname():
            return None
        if int(pid) == os.getpid():
            gc.collect()  # an interrupted fetch's lock goes with its objects (held weakly)
            held = self.held_here.get(self.dotlock) is not None
            return (
                None if held else "this process made it, for a fetch that ended without unlocking"
            )
        return None if _alive(int(pid)) else f"process {pid}, which made it, is not running"

    def _held(self) -> str:
        owner = (_read_text(self.dotlock) or "").strip()
        pid, _, host = owner.partition(" ")
        if not pid.isdigit():
            who = f"another program (the lock names no owner; made {_age(self.dotlock):.0f} s ago)"
        elif host != socket.gethostname():
            who = f"process {pid} on {host or 'an unnamed host'}, another machine"
        elif int(pid) == os.getpid():
            who = "this process (another fetch into it is running now)"
        else:
            who = f"process {pid}, which is still running"
        return (
            f"{self.path} is locked by {who}: {self.dotlock}. Wait for it to finish; if nothing "
            f"is using the mbox, remove {self.dotlock} and fetch again"
        )


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (when that cannot be told: yes)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Linux: whether ``pid`` ended and only waits for its parent to collect it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[:1]
    except OSError:
        return False
    return state == [b"Z"]


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read(200)
    except FileNotFoundError:
        return None


def _age(path: str) -> float:
    try:
        return time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return 0.0

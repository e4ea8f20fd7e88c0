r"""The lab server's one mail store, a Maildir per user under a root folder, shared by SMTP delivery
and POP3 retrieval.

Delivery is atomic (Maildir spec, cr.yp.to/proto/maildir.html): each copy is written to tmp/ and
made durable, then renamed into new/, and new/ itself is fsync'ed before the caller may send 250. A
crash at any point leaves new/ with complete messages only. Concurrent deliveries share those
syncs: one thread commits them in batches (group commit, commit.py), and a sync that fails fails
every delivery it was to cover, so no delivery returns (and no 250 is sent) before its message is
durable. Files are stored with LF line ends, as Maildir readers (Dovecot, mutt, stdlib `mailbox`)
expect; POP3 serves them with CRLF (RFC 1939 section 3). Only CRLF becomes LF on the way in and
only LF becomes CRLF on the way out: any other CR is content, even one right before a line end, so
`line\r\r\n` sent over SMTP is stored as `line\r\n` and served as it came, and a message's POP3
size (LIST, STAT, RETR's +OK) is always the octets RETR sends. File names carry the Maildir++ `,S=`
(on disk) and `,W=` (CRLF) sizes so a listing never reads message bodies. A message's UID (RFC 1939
UIDL) is the part of its file name before the first comma: stable across sessions and restarts. A
mailbox name is one folder name under the root (`safe_mailbox`), never a path.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailmagic.lab.commit import COMMITTER, Delivery

OUTBOX = "_outbox"
"""Maildir that keeps mail an authenticated client sent to other domains: nothing leaves the lab."""

_SIZE_W = re.compile(r",W=(\d+)")
_MAILBOX_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_STALE_TMP_SECONDS = 36 * 3600  # the Maildir spec's rule for abandoned tmp/ files
_counter = itertools.count(1)


def safe_mailbox(name: str) -> str:
    """``name`` if it is one plain folder name (no separator, no dot first), else ValueError."""
    if not _MAILBOX_NAME.fullmatch(name):
        raise ValueError(
            f"mailbox name {name!r} is not a plain folder name (letters, digits, '_', '.', '+' "
            "and '-', not starting with '.'): the store keeps every mailbox under its root"
        )
    return name


class MailboxInUse(Exception):
    """A POP3 session already holds this mailbox (RFC 2449 response code IN-USE)."""


@dataclass(frozen=True)
class StoredMessage:
    """One message of a maildrop: its UID, its file and its size in octets as POP3 sends it."""

    uid: str
    path: Path
    size: int


def _unique_name(hostname: str) -> str:
    now = time.time()
    seconds, micros = int(now), int((now % 1) * 1_000_000)
    return f"{seconds}.M{micros:06d}P{os.getpid()}Q{next(_counter)}.{hostname}"


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # cancelled: the client went away while its message was committed
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def to_lf(data: bytes) -> bytes:
    """CRLF line ends to LF, as Maildir files keep them."""
    return data.replace(b"\r\n", b"\n")


class MailStore:
    """A Maildir per mailbox under ``root``; thread-safe (guarantees: the module docstring)."""

    def __init__(self, root: Path, mailboxes: Iterable[str]) -> None:
        self.root = Path(root)
        self._locked: set[str] = set()
        self._lock = threading.Lock()
        host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:20] or "lab"
        self._hostname = host
        for name in (*mailboxes, OUTBOX):
            self._remove_stale_tmp(self._ensure(name) / "tmp")

    def maildir(self, mailbox: str) -> Path:
        """The folder of a mailbox (its tmp/, new/ and cur/ live under it); see `safe_mailbox`."""
        return self.root / safe_mailbox(mailbox)

    def create(self, mailbox: str) -> Path:
        """Make a mailbox's Maildir (tmp/, new/, cur/) if it is not there; return its folder."""
        return self._ensure(mailbox)

    def _ensure(self, mailbox: str) -> Path:
        base = self.maildir(mailbox)
        for sub in ("tmp", "new", "cur"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        return base

    @staticmethod
    def _remove_stale_tmp(tmp: Path) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        for leftover in tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    def deliver(self, mailboxes: Sequence[str], message: bytes) -> list[str]:
        """Store ``message`` (CRLF or LF line ends) in each mailbox; return the new UIDs.

        Either every copy is durable in new/ when this returns, or an exception is raised and no
        copy that was not renamed is left behind in tmp/.
        """
        done = threading.Event()
        outcome: list[BaseException | None] = []

        def report(error: BaseException | None) -> None:
            outcome.append(error)
            done.set()

        uids = self._submit(mailboxes, message, report)
        done.wait()
        if outcome and outcome[0] is not None:
            raise outcome[0]
        return uids

    async def deliver_async(self, mailboxes: Sequence[str], message: bytes) -> list[str]:
        """`deliver` for an event loop: the loop goes on while the message is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def report(error: BaseException | None) -> None:
            loop.call_soon_threadsafe(_settle, future, error)

        uids = self._submit(mailboxes, message, report)
        await future
        return uids

    def _submit(
        self,
        mailboxes: Sequence[str],
        message: bytes,
        done: Callable[[BaseException | None], None],
    ) -> list[str]:
        """Hand the copies of ``message`` to the committer; return their UIDs."""
        for mailbox in mailboxes:
            safe_mailbox(mailbox)
        if not mailboxes:
            done(None)
            return []
        data = to_lf(message)
        crlf_size = pop3_size(data)
        copies = []  # (mailbox, in tmp/, in new/): plain strings, this runs a lot
        for mailbox in mailboxes:
            base = f"{self.root}/{mailbox}"
            name = f"{_unique_name(self._hostname)},S={len(data)},W={crlf_size}"
            copies.append((mailbox, f"{base}/tmp/{name}", f"{base}/new/{name}"))
        COMMITTER.submit(Delivery(copies, data, str(self.root), self._ensure, done))
        return [os.path.basename(new).split(",", 1)[0] for _, _, new in copies]

    def messages(self, mailbox: str) -> list[StoredMessage]:
        """The messages of a mailbox (new/ and cur/), oldest first."""
        base = self.maildir(mailbox)
        found: list[StoredMessage] = []
        for sub in ("new", "cur"):
            folder = base / sub
            if folder.is_dir():
                found.extend(_stored(path) for path in folder.iterdir() if path.is_file())
        return sorted(found, key=lambda m: m.path.name)

    def acquire(self, mailbox: str) -> list[StoredMessage]:
        """Lock a mailbox for one POP3 session and return its messages (RFC 1939 section 8)."""
        with self._lock:
            if mailbox in self._locked:
                raise MailboxInUse(mailbox)
            self._locked.add(mailbox)
        try:
            return self.messages(mailbox)
        except BaseException:
            self.release(mailbox)
            raise

    def release(self, mailbox: str) -> None:
        """Unlock a mailbox taken with :meth:`acquire`."""
        with self._lock:
            self._locked.discard(mailbox)

    @staticmethod
    def remove(messages: Iterable[StoredMessage]) -> None:
        """Delete messages for good (the POP3 UPDATE state); already gone is not an error."""
        for message in messages:
            message.path.unlink(missing_ok=True)


def _stored(path: Path) -> StoredMessage:
    name = path.name.split(":", 1)[0]
    match = _SIZE_W.search(name)
    size = int(match.group(1)) if match else _crlf_size(path)
    return StoredMessage(uid=name.split(",", 1)[0], path=path, size=size)


def _crlf_size(path: Path) -> int:
    return pop3_size(path.read_bytes())


def pop3_size(data: bytes) -> int:
    """Octets of stored ``data`` as POP3 sends it: each LF as CRLF, a final CRLF if missing."""
    missing_end = 2 if data and not data.endswith(b"\n") else 0
    return len(data) + data.count(b"\n") + missing_end


def crlf_lines(message: StoredMessage) -> Iterator[bytes]:
    """The message's lines, each ending in CRLF, read lazily so memory stays bounded."""
    with open(message.path, "rb") as handle:
        for line in handle:
            yield line.removesuffix(b"\n") + b"\r\n"


def crlf_blocks(message: StoredMessage, size: int = 64 * 1024) -> Iterator[bytes]:
    """The message in blocks of about ``size`` octets, each ending at a line end, CRLF line ends
    and a final CRLF: what RETR sends, read a block at a time (fast, and memory stays bounded)."""
    fd = os.open(message.path, os.O_RDONLY)  # whole blocks: no file object needed
    try:
        pieces: list[bytes] = []  # the start of a line the block size cut
        while block := os.read(fd, size):
            cut = block.rfind(b"\n") + 1
            if cut == 0:  # a line longer than a block: keep collecting
                pieces.append(block)
                continue
            yield _crlf(b"".join((*pieces, block[:cut])))
            pieces = [block[cut:]]
        if rest := b"".join(pieces):
            yield _crlf(rest + b"\n")
    finally:
        os.close(fd)


def _crlf(lines: bytes) -> bytes:
    """LF line ends as CRLF; every CR on disk is content and stays (see the module docstring)."""
    return lines.replace(b"\n", b"\r\n")

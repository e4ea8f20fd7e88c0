# What this module does: fetches a whole maildrop, or a range of it by number or UID, from a
# logged-in POP3 session into an archive on disk (a Maildir or an mbox), fast and with bounded
# memory. RETR commands are pipelined when the server advertises PIPELINING (RFC 2449 section 6.6:
# several commands in flight, replies matched in order); each message is written to disk as soon as
# it arrives, so memory holds about one message at a time; a message whose UID is already in the
# archive is skipped, so an interrupted fetch resumes where it stopped.
from __future__ import annotations

import email
import email.policy
import json
import mailbox
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, overload

from mailmagic.files import write_file
from mailmagic.protocol.listing import parse_scan, parse_uidl
from mailmagic.protocol.pop3 import Pop3Reply, Pop3State
from mailmagic.session.base import SessionError
from mailmagic.session.pop3 import Pop3Session

Format = Literal["maildir", "mbox"]
Progress = Callable[[int, int], None]
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")


@dataclass(frozen=True)
class FetchedMessage:
    """One message in the archive: where it came from and where it is now."""

    number: int
    uid: str
    size: int
    path: Path
    key: str
    format: Format = "maildir"

    def raw(self) -> bytes:
        """The message as stored (LF line ends)."""
        if self.format == "maildir":
            return self.path.read_bytes()
        box = mailbox.mbox(self.path, create=False)
        try:
            return box.get_bytes(int(self.key))  # type: ignore[arg-type]  # mbox keys are ints
        finally:
            box.close()

    @property
    def message(self) -> EmailMessage:
        """The parsed message (read from disk each time: memory stays bounded)."""
        parsed = email.message_from_bytes(self.raw(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Archive:
    """Where fetched messages go: a Maildir (one file per UID) or an mbox with a UID index.

    Use as a context manager: an mbox is locked while open; both formats are flushed every
    FLUSH_EVERY messages and at the end (see ``_flush``).
    """

    FLUSH_EVERY = 200

    def __init__(self, path: Path, fmt: Format) -> None:
        self.path, self.format = Path(path), fmt
        self._box: mailbox.mbox | None = None
        self._unflushed = 0
        self._staged: list[str] = []  # Maildir files in tmp/ waiting for the next flush
        if fmt == "maildir":
            for sub in ("tmp", "new", "cur"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            self._index = {_unquote(p.name): p.name for p in (self.path / "cur").iterdir()}
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._index_file = self.path.with_name(self.path.name + ".uidl.json")
            known = self._index_file.read_text() if self._index_file.exists() else "{}"
            self._index = json.loads(known)

    def __enter__(self) -> Archive:
        if self.format == "mbox":
            self._box = mailbox.mbox(self.path)
            self._box.lock()
        return self

    def __exit__(self, *exc: object) -> None:
        self._flush()
        if self._box is not None:
            self._box.unlock()
            self._box.close()
            self._box = None

    def __contains__(self, uid: str) -> bool:
        return uid in self._index

    def add(self, uid: str, crlf_message: bytes) -> None:
        """Store one message under its UID (LF line ends on disk, as both formats expect)."""
        data = crlf_message.replace(b"\r\n", b"\n")
        if self._box is None:
            self._add_maildir(uid, data)
        else:
            self._index[uid] = str(self._box.add(data))
        self._unflushed += 1
        if self._unflushed >= self.FLUSH_EVERY:
            self._flush()

    def _flush(self) -> None:
        """Make what was added durable. A Maildir batch is written to tmp/, synced to disk in one
        go, then renamed into cur/: cur/ only ever holds complete messages, and one sync per
        batch costs far less than an fsync per message."""
        if self._box is not None:
            self._box.flush()
            self._index_file.write_text(json.dumps(self._index))
        elif self._staged:
            os.sync()
            tmp, cur = f"{self.path}/tmp/", f"{self.path}/cur/"
            for name in self._staged:
                os.replace(tmp + name, cur + name)
            self._staged.clear()
        self._unflushed = 0

    def _add_maildir(self, uid: str, data: bytes) -> None:
        name = f"{_UNSAFE.sub(lambda m: f'%{ord(m.group()):02X}', uid)}:2,S"
        write_file(f"{self.path}/tmp/{name}", data)  # synced with its batch in _flush
        self._staged.append(name)
        self._index[uid] = name

    def located(self, uid: str) -> tuple[Path, str]:
        """(path, key) of an archived message."""
        key = self._index[uid]
        if self.format == "mbox":
            return self.path, key
        return Path(f"{self.path}/cur/{key}"), key  # one parse, not two joins: runs per message


def _unquote(name: str) -> str:
    return re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), name.split(":")[0])


@dataclass
class FetchResult(Sequence[FetchedMessage]):
    """The messages fetched (or already archived) in maildrop order, and how it went."""

    messages: list[FetchedMessage] = field(default_factory=list)
    skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    pipelined: bool = False
    seconds: float = 0.0
    octets: int = 0

    @overload
    def __getitem__(self, index: int) -> FetchedMessage: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[FetchedMessage]: ...
    def __getitem__(self, index: int | slice) -> FetchedMessage | Sequence[FetchedMessage]:
        return self.messages[index]

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[FetchedMessage]:
        return iter(self.messages)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per message (needs the `analysis` extra)."""
        from mailmagic.analysis import to_dataframe

        return to_dataframe(self.messages)


def _maildrop(session: Pop3Session) -> tuple[dict[int, str], dict[int, int]]:
    uidl = session.command("UIDL")
    listing = session.command("LIST")
    if not isinstance(listing, Pop3Reply) or not listing.ok:
        raise SessionError(f"LIST failed: {getattr(listing, 'text', listing)}")
    sizes = {e.number: e.octets for e in parse_scan(listing)}
    uids = {e.number: e.uid for e in parse_uidl(uidl)} if isinstance(uidl, Pop3Reply) else {}
    return {n: uids.get(n, f"number-{n}") for n in sizes}, sizes


def _wanted(
    uids: dict[int, str], numbers: Iterable[int] | None, only: Iterable[str] | None
) -> list[int]:
    chosen = sorted(uids)
    if numbers is not None:
        keep = set(numbers)
        chosen = [n for n in chosen if n in keep]
    if only is not None:
        keep_uids = set(only)
        chosen = [n for n in chosen if uids[n] in keep_uids]
    return chosen


def fetch(
    session: Pop3Session,
    target: str | os.PathLike[str],
    *,
    fmt: Format = "maildir",
    numbers: Iterable[int] | None = None,
    uids: Iterable[str] | None = None,
    window: int = 32,
    progress: Progress | None = None,
) -> FetchResult:
    """Fetch messages into ``target`` (see the module comment); the session must be logged in."""
    if session.conn.state is not Pop3State.TRANSACTION:
        raise SessionError("fetch needs a logged-in POP3 session: log in first (USER/PASS)")
    started = time.monotonic()
    if not session.conn.capabilities:
        session.command("CAPA")
    pipelined = "PIPELINING" in session.conn.capabilities
    by_number, sizes = _maildrop(session)
    archive = Archive(Path(target), fmt)
    chosen = _wanted(by_number, numbers, uids)
    todo = [n for n in chosen if by_number[n] not in archive]
    result = FetchResult(pipelined=pipelined, skipped=len(chosen) - len(todo))
    with archive:
        _retrieve(session, archive, todo, by_number, window if pipelined else 1, result, progress)
    for n in chosen:
        if by_number[n] in archive:
            path, key = archive.located(by_number[n])
            result.messages.append(FetchedMessage(n, by_number[n], sizes.get(n, 0), path, key, fmt))
    result.seconds = time.monotonic() - started
    return result


def _retrieve(
    session: Pop3Session,
    archive: Archive,
    todo: list[int],
    uids: dict[int, str],
    window: int,
    result: FetchResult,
    progress: Progress | None,
) -> None:
    lean, session.conn.lean = session.conn.lean, True
    try:
        lines = (f"RETR {n}" for n in todo)
        for done, (line, reply) in enumerate(session.pipeline(lines, window, keep=False), 1):
            number = int(line.split()[1])
            if isinstance(reply, Pop3Reply) and reply.ok:
                archive.add(uids[number], reply.body)
                result.octets += len(reply.body)
            else:
                result.failed.append((number, getattr(reply, "text", str(reply))))
            if progress is not None:
                progress(done, len(todo))
    finally:
        session.conn.lean = lean

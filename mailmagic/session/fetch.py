"""Fetches a whole maildrop, or a range of it by number or UID, from a logged-in POP3 session into
an archive on disk (a Maildir or an mbox: session/archive.py), fast and with bounded memory. RETR
commands are pipelined when the server advertises PIPELINING (RFC 2449 section 6.6: several commands
in flight, replies matched in order); each message is written to disk as soon as it arrives, so
memory holds about one message at a time; a message whose UID is already in the archive is skipped,
so an interrupted fetch resumes where it stopped (the archive makes sure that a crash or a kill at
any moment leaves nothing twice).

- A message whose UID an earlier message of the maildrop has too (RFC 1939 section 7 forbids
  it) is not fetched, and is listed in `failed` saying why: the archive keeps messages by UID.
- When writing to disk fails (a full disk, no permission, a UID too long for a file name) the
  fetch stops with a FetchError that says where, why and what to do, after the replies still
  due have been read and dropped (Session.pipelined), so the session stays in step: the next
  command gets its own reply. Ctrl-C leaves the session broken instead, without waiting.
"""

from __future__ import annotations

import email
import email.policy
import errno
import mailbox
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, overload

from mailmagic.protocol.listing import parse_scan, parse_uidl
from mailmagic.protocol.pop3 import Continuation, Pop3Reply, Pop3State
from mailmagic.session.archive import Archive, ArchiveError, Format, open_archive
from mailmagic.session.base import SessionError
from mailmagic.session.pop3 import Pop3Session

__all__ = ["Archive", "ArchiveError", "FetchError", "FetchResult", "FetchedMessage", "fetch"]

Progress = Callable[[int, int], None]


class FetchError(SessionError):
    """fetch stopped because the archive could not be written; the message says what to do."""


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


@dataclass
class FetchResult(Sequence[FetchedMessage]):
    """The messages fetched (or already archived) in maildrop order, and how it went."""

    messages: list[FetchedMessage] = field(default_factory=list)
    skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)
    pipelined: bool = False
    seconds: float = 0.0
    octets: int = 0
    notes: list[str] = field(default_factory=list)  # what the archive repaired on opening

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

    def to_parquet(self, out: str | os.PathLike[str] = "mailbox.parquet") -> Path:
        """Index the archive these messages were fetched into (all of its messages) into the
        Parquet file ``out`` with bounded memory, for DuckDB, Polars or Spark (see
        mailmagic.index; needs the `analysis` extra)."""
        from mailmagic.index import index

        if not self.messages:
            raise ValueError(
                "nothing was fetched, so there is no archive to index: call "
                "mailmagic.analysis.index(PATH, out) with the folder or mbox you fetched into"
            )
        first = self.messages[0]
        return index(first.path.parent.parent if first.format == "maildir" else first.path, out)


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


def _doubles(uids: dict[int, str], chosen: list[int]) -> list[tuple[int, str]]:
    """The chosen messages whose UID an earlier message has too, each with why it is left."""
    first: dict[str, int] = {}
    for number in sorted(uids):
        first.setdefault(uids[number], number)
    return [
        (
            n,
            f"not fetched: its UID {uids[n]!r} is message {first[uids[n]]}'s too. A server must "
            "give every message its own UID (RFC 1939 section 7) and the archive keeps messages "
            f"by UID, so only message {first[uids[n]]} is kept under it; RETR {n} shows this one",
        )
        for n in chosen
        if first[uids[n]] != n
    ]


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
    """Fetch messages into ``target`` (see the module docstring); the session must be logged in."""
    if session.conn.state is not Pop3State.TRANSACTION:
        raise SessionError("fetch needs a logged-in POP3 session: log in first (USER/PASS)")
    started = time.monotonic()
    if not session.conn.capabilities:
        session.command("CAPA")
    pipelined = "PIPELINING" in session.conn.capabilities
    by_number, sizes = _maildrop(session)
    chosen = _wanted(by_number, numbers, uids)
    result = FetchResult(pipelined=pipelined, failed=_doubles(by_number, chosen))
    left = {n for n, _ in result.failed}
    chosen = [n for n in chosen if n not in left]
    run = _Run(session, by_number, result, progress)
    try:
        with open_archive(target, fmt) as archive:
            run.retrieve(archive, chosen, window if pipelined else 1)
    except OSError as error:
        raise FetchError(run.stopped(target, error)) from error
    result.notes = archive.notes
    for n in chosen:
        if by_number[n] in archive:
            path, key = archive.located(by_number[n])
            result.messages.append(FetchedMessage(n, by_number[n], sizes.get(n, 0), path, key, fmt))
    result.failed.sort()
    result.seconds = time.monotonic() - started
    return result


_ADVICE = {
    errno.ENAMETOOLONG: "The server's UID is too long for a file name here (RFC 1939 section 7 "
    "allows 70 characters): fetch into an mbox instead (--format mbox).",
    errno.ENOSPC: "Free some disk space, then fetch again.",
    getattr(errno, "EDQUOT", -1): "Free some of your disk quota, then fetch again.",
    errno.EACCES: "Make the archive's folder writable (or choose another), then fetch again.",
    errno.EPERM: "Make the archive's folder writable (or choose another), then fetch again.",
    errno.EROFS: "The disk is read-only: choose an archive elsewhere, then fetch again.",
}


@dataclass
class _Run:
    """One fetch under way: where it is, for the message if it stops."""

    session: Pop3Session
    uids: dict[int, str]
    result: FetchResult
    progress: Progress | None
    number: int = 0  # the message being stored, 0 outside the RETR loop

    def retrieve(self, archive: Archive, chosen: list[int], window: int) -> None:
        """RETR every chosen message not archived yet, pipelined, each stored as it arrives."""
        todo = [n for n in chosen if self.uids[n] not in archive]
        self.result.skipped = len(chosen) - len(todo)
        conn = self.session.conn
        lean = conn.lean
        try:  # lean from inside the try: Ctrl-C anywhere here still restores it
            conn.lean = True
            lines = (f"RETR {n}" for n in todo)
            with self.session.pipelined(lines, window, keep=False) as replies:
                for done, (line, reply) in enumerate(replies, 1):
                    self.number = int(line.split()[1])
                    self._store(archive, reply)
                    if self.progress is not None:
                        self.progress(done, len(todo))
            self.number = 0
        finally:
            conn.lean = lean

    def _store(self, archive: Archive, reply: Pop3Reply | Continuation) -> None:
        if isinstance(reply, Pop3Reply) and reply.ok:
            archive.add(self.uids[self.number], reply.body)
            self.result.octets += len(reply.body)
        else:
            self.result.failed.append((self.number, getattr(reply, "text", str(reply))))

    def stopped(self, target: str | os.PathLike[str], error: OSError) -> str:
        """Why the fetch stopped, where, what to do, and how the session is."""
        where = f" at message {self.number} (UID {self.uids[self.number]!r})" if self.number else ""
        what = f"{error.strerror or error}" + (
            f": {_short(error.filename)}" if error.filename else ""
        )
        advice = _ADVICE.get(error.errno or 0, "Put that right, then fetch again.")
        s = self.session
        state = (
            "The POP3 session goes on (any replies still due were read and dropped)."
            if s.is_open
            else f"The POP3 session is {s.status} ({s.reason}): reconnect and log in to go on."
        )
        return (
            f"fetch into {os.fspath(target)} stopped{where}: {what}. {advice} Messages already "
            f"archived stay there, and the next fetch skips them. {state}"
        )


def _short(name: object) -> str:
    """A file name for a message: a long one (too long for the file system, say) cut short."""
    text = os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)
    return text if len(text) <= 100 else f"{text[:60]}...{text[-30:]}"

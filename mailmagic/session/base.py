"""What SMTP and POP3 sessions share. A session joins a Transport (the socket) to a sans-I/O
connection from protocol/: it sends one raw line at a time exactly as typed, reads until that line's
reply is complete, records both in the Transcript (secrets masked), and keeps the connection open
from cell to cell. A server that closes (421, EOF, reset) leaves the session closed with a clear
reason; a timeout, garbage or an interrupted wait leaves it broken. Either way `reconnect()` opens
it again with the same settings.

Never open and out of step: from the moment a line is handed to the protocol (which then awaits
its reply) until the reply is read, the work runs under a guard (`_guard`), so Ctrl-C or an
unexpected error anywhere in between, not only in the socket wait, leaves the session broken.
A LocalProtocolError passes through: the protocol refused the line and nothing was sent. A
pipeline whose caller stops early (an error of its own, such as a full disk) first reads and
drops the replies still due, so the next command gets its own reply; after Ctrl-C it does not
wait for them but leaves the session broken at once.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Literal, NoReturn, Protocol, TypeVar

from mailmagic.protocol.errors import LocalProtocolError, RemoteProtocolError
from mailmagic.protocol.events import NEED_DATA, ConnectionClosed
from mailmagic.session.transcript import Transcript
from mailmagic.session.transport import (
    ReadTimeout,
    TlsInfo,
    Transport,
    TransportError,
    WriteTimeout,
    tls_context,
)

TlsMode = Literal["plain", "implicit", "starttls"]
Status = Literal["new", "open", "closed", "broken"]


@dataclass(frozen=True)
class Settings:
    """How to reach a server. ``cafile`` adds a trusted CA; ``insecure`` turns checks off."""

    host: str
    port: int
    tls: TlsMode = "plain"
    timeout: float = 30.0
    cafile: str | None = None
    insecure: bool = False
    local_name: str = "localhost"
    lab: bool = False  # the target is the embedded lab server (its CA trusted, its users known)
    replay: str = ""  # the target replays this cassette (lab/replay.py), not a real server
    address: str | None = None  # connect here, not to ``host`` (which names it for TLS): an MX's
    connect_timeout: float | None = None  # seconds to wait for the connection (else ``timeout``)


class SessionError(Exception):
    """A session cannot do what was asked; the message says why and what to do."""


class SessionClosed(SessionError):
    """The session is closed (by the server or by the user)."""


class SessionBroken(SessionError):
    """The connection is in an unknown state (timeout, garbage, interrupted); reconnect."""


class Connection(Protocol):
    """What a session needs of a sans-I/O connection (protocol/smtp.py, protocol/pop3.py)."""

    @property
    def pending(self) -> tuple[str, ...]: ...

    @property
    def waiting(self) -> int: ...

    @property
    def mode(self) -> str: ...

    def mask(self, line: str) -> str: ...

    def send(self, line: str) -> bytes: ...

    def receive_data(self, data: bytes) -> None: ...

    def next_event(self) -> object: ...

    def warning(self, line: str) -> str | None: ...

    def expected(self) -> tuple[str, ...]: ...


C = TypeVar("C", bound=Connection)
R = TypeVar("R")
T = TypeVar("T")


class Session(ABC, Generic[C, R]):
    """One live protocol session; see the module docstring."""

    protocol: str = ""
    tls_verbs: frozenset[str] = frozenset()

    def __init__(self, name: str, settings: Settings) -> None:
        self.name = name
        self.settings = settings
        self.transcript = Transcript()
        self.status: Status = "new"
        self.reason = ""
        self.tls: TlsInfo | None = None
        self._transport: Transport | None = None
        self._connecting = False
        self.conn: C = self._new_connection()

    @abstractmethod
    def _new_connection(self) -> C: ...

    @abstractmethod
    def _is_positive(self, reply: R) -> bool: ...

    @abstractmethod
    def _starttls_commands(self) -> list[str]: ...

    @property
    def is_open(self) -> bool:
        """True while the connection is usable."""
        return self.status == "open"

    def connect(self) -> R:
        """Open the connection (TLS as configured) and return the server's greeting."""
        self._connecting = True
        try:
            return self._connect()
        finally:
            self._connecting = False

    def _connect(self) -> R:
        self.conn = self._new_connection()
        self.tls = None
        self.status, self.reason = "open", ""
        with self._guard("connecting"):
            return self._open_and_greet()

    def _open_and_greet(self) -> R:
        s = self.settings
        where = s.address or s.host
        self._transport = self._guarded(Transport, where, s.port, s.timeout, s.connect_timeout)
        seen = f" ({s.address})" if s.address and s.address != s.host else ""
        self.transcript.note(f"connected to {s.host}:{s.port}{seen}", tls=False)
        if s.tls == "implicit":
            self._upgrade()
        greeting = self._read_reply(time.monotonic(), s.timeout)
        if s.tls == "starttls":
            for line in self._starttls_commands():
                self.command(line)
            if self.tls is None:
                verbs = "/".join(sorted(self.tls_verbs))
                self._fail("closed", f"the server refused {verbs}: no TLS")
        return greeting

    def reconnect(self) -> R:
        """Close whatever is left and connect again with the same settings."""
        self.close(note="closed to reconnect")
        return self.connect()

    def close(self, note: str = "closed by the user") -> None:
        """Drop the connection without QUIT (as telnet's close): a POP3 DELE is not committed."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
            self.transcript.note(note, tls=self.tls is not None)
        if self.status in ("open", "new"):
            self.status, self.reason = "closed", note

    def command(self, line: str, timeout: float | None = None) -> R | None:
        """Send one raw line; return its reply, or None when none is due (message text)."""
        self.refresh()
        transport, conn = self._require_open(), self.conn
        mode, shown, before = conn.mode, conn.mask(line), conn.waiting
        with self._guard("sending"):
            data = conn.send(line)  # LocalProtocolError here: nothing was sent or changed
            if mode in ("text", "chunk"):
                self.transcript.sent_text(data, self.tls is not None)
            else:
                self.transcript.sent(shown, self.tls is not None)
            started = time.monotonic()
            self._send(transport, data)
            # A reply is due for a new command, a SASL line, or the line that completes a BDAT
            # chunk (RFC 3030: the server answers once all the announced octets are in).
            due = conn.waiting > before or mode in ("sasl", "chunk")
            if not due or conn.mode == "chunk":
                return None
            reply = self._read_reply(started, timeout or self.settings.timeout)
            if line.split(" ", 1)[0].upper() in self.tls_verbs and self._is_positive(reply):
                self._upgrade()
            return reply

    def refresh(self) -> None:
        """Notice what the server did while nobody asked: a hang-up, or a 421 before it."""
        if self.status != "open" or self._transport is None:
            return
        with self._guard("reading what the server sent unasked"):
            self._take_unasked(self._transport)

    def _take_unasked(self, transport: Transport) -> None:
        data = transport.poll()
        if data is None:
            return
        self.conn.receive_data(data)
        try:
            event = self.conn.next_event()
            while event is not NEED_DATA and not isinstance(event, ConnectionClosed):
                self._record(event, time.monotonic())
                event = self.conn.next_event()
        except RemoteProtocolError as error:
            self._fail_quietly("broken", f"the server broke the protocol: {error}")
            return
        if isinstance(event, ConnectionClosed):
            self._fail_quietly("closed", event.reason)

    def pipeline(
        self, lines: Iterable[str], window: int = 32, keep: bool = True
    ) -> Generator[tuple[str, R], None, None]:
        """Send commands with up to ``window`` awaiting replies (PIPELINING: RFC 2920 for SMTP,
        RFC 2449 for POP3), topped up in one write whenever half of them have been answered, and
        yield (line, reply) in order. Only for commands that get one
        reply each. ``keep=False`` records replies in the transcript by their first line only,
        so a bulk fetch does not keep every message twice.

        Stopped early (closed, or an error raised inside or thrown in), it reads and drops the
        replies still due, so the session stays in step; stopped by Ctrl-C, it leaves the
        session broken at once instead. A caller with work of its own between replies should
        use ``pipelined``, which hands its errors in."""
        transport, conn = self._require_open(), self.conn
        todo, waiting = iter(lines), deque[tuple[str, float]]()

        def fill() -> None:
            batch: list[bytes] = []
            with self._guard("sending"):
                try:
                    for line in itertools.islice(todo, max(0, window - len(waiting))):
                        shown, data = conn.mask(line), conn.send(line)
                        self.transcript.sent(shown, self.tls is not None)
                        batch.append(data)
                        waiting.append((line, time.monotonic()))
                except LocalProtocolError:  # a refused line: what the protocol took still goes
                    self._send(transport, b"".join(batch))
                    raise
                self._send(transport, b"".join(batch))

        try:
            fill()
            while waiting:
                line, started = waiting.popleft()
                yield line, self._read_reply(started, self.settings.timeout, keep)
                if len(waiting) <= window // 2:
                    fill()
        except KeyboardInterrupt as error:
            self._break(error, f"pipelining, with {conn.waiting} replies still due")
            raise
        except BaseException:
            self._catch_up(conn)
            raise

    @contextlib.contextmanager
    def pipelined(
        self, lines: Iterable[str], window: int = 32, keep: bool = True
    ) -> Iterator[Iterator[tuple[str, R]]]:
        """``pipeline`` for a caller with work of its own between replies (writing them to disk):
        an error in that work is handed into the pipeline, which catches up (or, for Ctrl-C,
        breaks the session) before the error goes on; see ``pipeline``."""
        replies = self.pipeline(lines, window, keep)
        try:
            yield replies
        except BaseException as error:
            _throw_into(replies, error)
            raise
        finally:
            replies.close()

    def _catch_up(self, conn: C) -> None:
        """Read and drop the replies still due, so the next command gets its own. If that
        fails, the session is left closed or broken (with its reason) and the caller's error
        goes on."""
        due = conn.waiting
        if not due or not self.is_open or self.conn is not conn:
            return
        self.transcript.note(
            f"reading and dropping {due} replies still due: the pipeline was stopped",
            tls=self.tls is not None,
        )
        with contextlib.suppress(SessionError):
            while conn.waiting and self.is_open:
                self._read_reply(time.monotonic(), self.settings.timeout, keep=False)

    def _require_open(self) -> Transport:
        if self.status != "open" or self._transport is None:
            what = {"new": "is not connected yet", "closed": "is closed", "broken": "is broken"}
            reason = f" ({self.reason})" if self.reason else ""
            raise SessionClosed(
                f"{self.protocol} session {self.name!r} {what.get(self.status, 'is closed')}"
                f"{reason}; reconnect it or open a new one"
            )
        return self._transport

    def _upgrade(self) -> None:
        transport = self._require_open()
        s = self.settings
        context = tls_context(s.cafile, s.insecure)
        self.tls = self._guarded(transport.start_tls, context, s.host)
        detail = f"TLS started: {self.tls.version} {self.tls.cipher}"
        if not self.tls.verified:
            detail += " (certificate NOT verified: insecure mode)"
        self.transcript.note(detail, tls=True)

    def _send(self, transport: Transport, data: bytes) -> None:
        """Send it all; a server that takes nothing for the timeout leaves the session broken
        (how much went out is unknown), a lost connection closed. Callers hold a `_guard`."""
        try:
            transport.send(data)
        except WriteTimeout as error:
            self._fail("broken", str(error))
        except TransportError as error:
            self._fail("closed", str(error))

    def _read_reply(self, started: float, timeout: float, keep: bool = True) -> R:
        with self._guard("waiting for a reply"):
            return self._read_reply_unguarded(started, timeout, keep)

    def _read_reply_unguarded(self, started: float, timeout: float, keep: bool) -> R:
        transport, conn = self._require_open(), self.conn
        while True:
            try:
                event = conn.next_event()
            except RemoteProtocolError as error:
                self._fail("broken", f"the server broke the protocol: {error}")
            if event is NEED_DATA:
                # The timeout counts from the last octet received: a long reply that keeps
                # coming (a big RETR on a slow link) is not cut.
                conn.receive_data(self._receive(transport, timeout))
                continue
            if isinstance(event, ConnectionClosed):
                self._fail("closed", event.reason)
            return self._record(event, started, keep)

    def _receive(self, transport: Transport, timeout: float) -> bytes:
        try:
            return transport.recv(time.monotonic() + timeout)
        except ReadTimeout:
            self._fail(
                "broken",
                f"no complete reply: nothing arrived for {timeout:g} s; the server may be slow "
                "or not speaking this protocol (raise the timeout, then reconnect)",
            )
        except TransportError as error:
            self._fail("closed", str(error))

    def _record(self, event: object, started: float, keep: bool = True) -> R:
        raw = getattr(event, "raw", b"")
        shown = raw if keep else _abridged(event, raw)
        self.transcript.received(shown, self.tls is not None, time.monotonic() - started)
        if self._closes(event):
            self._fail_quietly("closed", f"the server closed the session: {_first_line(raw)}")
        return event  # type: ignore[return-value]

    def _closes(self, event: object) -> bool:
        return False

    def _guard(self, doing: str) -> _Guard:
        """A ``with`` block for work that the protocol and the server must both see whole; see
        the module docstring."""
        return _Guard(self, doing)

    def _break(self, error: BaseException, doing: str) -> None:
        """Leave the session broken after ``error`` cut ``doing`` short (the first cut counts)."""
        if self.status != "open":
            return
        what = "interrupted" if isinstance(error, KeyboardInterrupt) else repr(error)
        self._fail_quietly("broken", f"{what} while {doing}")

    def _guarded(self, call: Callable[..., T], *args: object) -> T:
        try:
            return call(*args)
        except OSError as error:
            self._fail("closed", str(error))

    def _fail(self, status: Status, reason: str) -> NoReturn:
        self._fail_quietly(status, reason)
        error = SessionBroken if status == "broken" else SessionClosed
        after = (
            "check the host, port and TLS settings, then open it again"
            if self._connecting
            else "reconnect to go on"
        )
        raise error(
            f"{self.protocol} session {self.name!r}: {reason}. The session is {status}; {after}."
        )

    def _fail_quietly(self, status: Status, reason: str) -> None:
        self.status, self.reason = status, reason  # first: whatever cuts this short, it is said
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        self.transcript.note(f"{status}: {reason}", tls=self.tls is not None)


class _Guard:
    """See Session._guard: an exception other than SessionError (status already set) or
    LocalProtocolError (nothing sent) leaving the block breaks the session. A class, not a
    generator context manager, as it wraps every reply of a bulk fetch."""

    __slots__ = ("doing", "session")

    def __init__(self, session: Session[Any, Any], doing: str) -> None:
        self.session, self.doing = session, doing

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: TracebackType | None
    ) -> None:
        if error is not None and not isinstance(error, (SessionError, LocalProtocolError)):
            self.session._break(error, self.doing)


def _throw_into(replies: Generator[object, None, None], error: BaseException) -> None:
    """Raise ``error`` inside a paused pipeline so it can clean up; it raises it again."""
    try:
        replies.throw(error)
    except BaseException as raised:
        if raised is not error:
            raise


def _abridged(event: object, raw: bytes) -> bytes:
    """The status line, and how much more there was (for bulk transfers)."""
    head, _, _ = raw.partition(b"\r\n")
    size = len(getattr(event, "body", b"")) or len(raw) - len(head) - 2
    return head + (
        f"\r\n[{size} octets not kept in the transcript]\r\n".encode() if size > 0 else b"\r\n"
    )


def _first_line(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").split("\r\n", 1)[0].strip()

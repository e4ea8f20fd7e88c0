"""The lab server's own record of what clients did, `lab.log`: one `LoggedSession` per SMTP or POP3
connection (listener, peer, TLS, the authenticated user) with every command the client sent and
the first line of the reply to it, so an exercise can check "used VRFY", "retried after the 451"
or "sent QUIT before the deletion" against what the server saw, not what a client says it sent.

Secrets are masked when they are recorded (DESIGN.md rule 7), exactly as the client transcript
masks them (protocol/smtp.py and protocol/pop3.py `mask`): the words after ``AUTH mechanism``,
``PASS``'s argument, ``APOP``'s digest, and every SASL continuation line ("*", a cancel, stays).
Mail data is not kept: the log says how many octets it had.

The log is bounded: it keeps the last ``LabConfig.log_sessions`` sessions and, of a session with
more than ``MAX_EXCHANGES`` exchanges, the first and the last ``MAX_EXCHANGES // 2`` (those left
out in between are counted in ``dropped``), so the greeting, the login and the QUIT stay. The
servers record from their event-loop thread and the kernel reads from its own: every change and
every read holds one lock, and readers get frozen snapshots.
"""

from __future__ import annotations

import html
import re
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Literal, overload

Protocol = Literal["smtp", "pop3"]
MAX_EXCHANGES = 1000
"""Exchanges kept per session: the first and the last half; ``LoggedSession.dropped`` counts
the rest."""
MASK = "***"
_SECRET_AFTER = {"smtp": {"AUTH": 2}, "pop3": {"PASS": 1, "APOP": 2, "AUTH": 2}}
_CODE = re.compile(r"^(\d{3}|\+OK|-ERR|\+)")


def mask_command(protocol: Protocol, line: str) -> str:
    """``line`` with its secrets replaced by ``***``, as the client transcript records it."""
    words = line.split()
    keep = _SECRET_AFTER[protocol].get(words[0].upper() if words else "")
    if keep is None or len(words) <= keep:
        return line
    return " ".join([*words[:keep], MASK])


def mask_continuation(line: str) -> str:
    """A SASL continuation line (RFC 4954 section 4, RFC 5034 section 4): ``*`` or ``***``."""
    return "*" if line.strip() == "*" else MASK


@dataclass(frozen=True)
class LoggedExchange:
    """One command and the first line of the server's reply. ``command`` is masked; it is ""
    for what the server said unasked (the greeting, a fault's reply to nothing)."""

    command: str
    code: str  # "250", "354", "+OK", "-ERR", "+" (a SASL challenge); "" if none came
    reply: str

    @property
    def verb(self) -> str:
        """The command's first word, upper case ("" for the greeting)."""
        return self.command.split(" ", 1)[0].upper() if self.command else ""


@dataclass(frozen=True)
class LoggedSession:
    """One connection as the server saw it (``tls`` and ``user`` as they were at its end, or now
    while it is open: ``ended`` is None then)."""

    protocol: Protocol
    listener: str  # "smtp", "submission", "smtps", "pop3", "pop3s"
    peer: str
    tls: bool
    user: str | None
    started: datetime
    ended: datetime | None
    exchanges: tuple[LoggedExchange, ...]
    dropped: int = 0

    def commands(self) -> list[str]:
        """The masked command lines, in order (the greeting left out)."""
        return [e.command for e in self.exchanges if e.command]

    def used(self, verb: str) -> bool:
        """True if the client sent ``verb`` (case-insensitive) in this session."""
        return any(e.verb == verb.upper() for e in self.exchanges)


@dataclass
class SessionRecorder:
    """What one server session writes into the log; see LabLog.open()."""

    log: LabLog
    session: LoggedSession
    exchanges: list[LoggedExchange] = field(default_factory=list)  # the first MAX_EXCHANGES/2
    tail: deque[LoggedExchange] = field(default_factory=lambda: deque(maxlen=MAX_EXCHANGES // 2))
    pending: str | None = None  # the command waiting for its reply
    continued: bool = False  # the last reply line was not its last ("250-")
    number: int = 0  # the order in which the log opened it
    dropped: int = 0  # exchanges left out between the first and the last (see MAX_EXCHANGES)

    def command(self, line: str) -> None:
        """Note a command line (already masked), answered by the next reply."""
        self.pending, self.continued = line, False

    def reply(self, line: str) -> None:
        """Note one line the server sent; only a reply's first line is kept."""
        if self.continued and self.pending is None:
            self.continued = line[3:4] == "-"
            return
        match = _CODE.match(line)
        code = match.group(1) if match else ""
        self.continued = bool(match) and line[3:4] == "-"
        self.add(LoggedExchange(self.pending or "", code, line.rstrip("\r\n")))
        self.pending = None

    def add(self, exchange: LoggedExchange) -> None:
        with self.log.lock:
            if len(self.exchanges) < MAX_EXCHANGES // 2:
                self.exchanges.append(exchange)
                return
            if len(self.tail) == self.tail.maxlen:
                self.dropped += 1
            self.tail.append(exchange)

    def update(self, *, tls: bool | None = None, user: str | None = None) -> None:
        """Note that TLS started or a user logged in."""
        with self.log.lock:
            now = self.session
            self.session = replace(now, tls=now.tls if tls is None else tls, user=user or now.user)

    def end(self, *, tls: bool) -> None:
        """The connection closed; a command with no reply is kept with an empty code."""
        if self.pending is not None:
            self.add(LoggedExchange(self.pending, "", ""))
            self.pending = None
        with self.log.lock:
            self.session = replace(self.session, tls=tls, ended=_now())

    def snapshot(self) -> LoggedSession:
        """The session as it is now (call with the log's lock held)."""
        exchanges = (*self.exchanges, *self.tail)
        return replace(self.session, exchanges=exchanges, dropped=self.dropped)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class LabLog(Sequence[LoggedSession]):
    """The last ``limit`` sessions of one lab server, oldest first (see the module docstring)."""

    def __init__(self, limit: int = 500) -> None:
        self.lock = threading.Lock()
        self.limit = limit
        self._sessions: deque[SessionRecorder] = deque(maxlen=max(limit, 1))
        self.opened = 0  # sessions opened so far, kept or not: a mark for forget_from()

    def open(self, protocol: Protocol, listener: str, peer: object, tls: bool) -> SessionRecorder:
        """Start recording one connection (the servers call this when a client connects)."""
        host = peer[0] if isinstance(peer, tuple) and peer else peer
        port = f":{peer[1]}" if isinstance(peer, tuple) and len(peer) > 1 else ""
        session = LoggedSession(protocol, listener, f"{host}{port}", tls, None, _now(), None, ())
        recorder = SessionRecorder(self, session)
        with self.lock:
            recorder.number, self.opened = self.opened, self.opened + 1
            if self.limit > 0:
                self._sessions.append(recorder)
        return recorder

    def forget_from(self, mark: int) -> None:
        """Forget the sessions opened since ``opened`` was ``mark`` (the server's own start-up
        probes, which are no client's doing)."""
        with self.lock:
            kept = [r for r in self._sessions if r.number < mark]
            self._sessions.clear()
            self._sessions.extend(kept)

    def sessions(self, protocol: Protocol | None = None) -> list[LoggedSession]:
        """Snapshots of the kept sessions, oldest first, of one protocol or both."""
        with self.lock:
            return [r.snapshot() for r in self._sessions if protocol in (None, r.session.protocol)]

    def __len__(self) -> int:
        with self.lock:
            return len(self._sessions)

    @overload
    def __getitem__(self, index: int) -> LoggedSession: ...
    @overload
    def __getitem__(self, index: slice) -> list[LoggedSession]: ...
    def __getitem__(self, index: int | slice) -> LoggedSession | list[LoggedSession]:
        return self.sessions()[index]

    def __iter__(self) -> Iterator[LoggedSession]:
        return iter(self.sessions())

    def commands(self, protocol: Protocol | None = None) -> list[str]:
        """Every masked command line of the kept sessions, in order."""
        return [c for s in self.sessions(protocol) for c in s.commands()]

    def used(self, verb: str, protocol: Protocol | None = None) -> bool:
        """True if any kept session sent ``verb`` (case-insensitive)."""
        return any(s.used(verb) for s in self.sessions(protocol))

    def clear(self) -> None:
        """Forget every session kept so far (open ones go on recording, unseen)."""
        with self.lock:
            self._sessions.clear()

    def rows(self) -> list[tuple[str, ...]]:
        """(session, time, command, code, reply) rows, for the text and HTML forms."""
        rows: list[tuple[str, ...]] = []
        for n, s in enumerate(self.sessions(), 1):
            login = f", user {s.user}" if s.user else ""
            head = f"#{n} {s.protocol} {s.listener} {s.peer}{', TLS' if s.tls else ''}{login}"
            state = "" if s.ended else " (open)"
            rows.append((head + state, s.started.strftime("%H:%M:%S"), "", "", ""))
            rows += [("", "", e.command or "(connect)", e.code, e.reply) for e in s.exchanges]
        return rows

    def as_text(self) -> str:
        """One line per session, then one per exchange."""
        if not len(self):
            return "lab log: no sessions yet"
        lines = []
        for head, when, command, _code, reply in self.rows():
            lines.append(f"{head}  {when}" if head else f"    C: {command}\n    S: {reply}")
        return "\n".join(lines)

    def as_html(self) -> str:
        """A plain table (no widgets): session, command, code, reply."""
        if not len(self):
            return "<p>lab log: no sessions yet</p>"
        cells = []
        for head, when, command, code, reply in self.rows():
            if head:
                cells.append(
                    f'<tr><th colspan="3" style="text-align:left">{_e(head)} {when}</th></tr>'
                )
            else:
                cells.append(
                    f"<tr><td><code>{_e(command)}</code></td><td>{_e(code)}</td>"
                    f"<td><code>{_e(reply)}</code></td></tr>"
                )
        head = "<tr><th>command</th><th>code</th><th>reply</th></tr>"
        return f'<table class="mailmagic-lab-log">{head}{"".join(cells)}</table>'

    def _repr_html_(self) -> str:
        return self.as_html()

    def __repr__(self) -> str:
        return self.as_text()


def _e(text: str) -> str:
    return html.escape(text, quote=True)

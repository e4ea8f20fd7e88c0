"""Views of sessions: one session's status (where it is connected, its protocol state, the commands
that make sense next, TLS version, cipher and certificate) with the last TAIL entries of its
transcript, and the list of named sessions with the current one marked. A session that does not
check certificates (--insecure) is flagged in both (display/trust.py). Every view is a snapshot
taken when it is built (DESIGN.md): its widget is one HTML widget of exactly its text/html, and
later cells never change it. Only a panel built with ``live=True`` (`%smtp status --live`) follows
the session: it says so (a "live" badge and a line), and it subscribes weakly to the transcript
(display/live.py), so closing it stops its updates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import ipywidgets as widgets

from mailmagic.display import html as h
from mailmagic.display.base import View
from mailmagic.display.live import cascade, hold, html_widget
from mailmagic.display.transcript import TAIL, TranscriptView
from mailmagic.display.trust import INSECURE, unverified
from mailmagic.session.base import Session
from mailmagic.session.transcript import Entry


def _where(session: Session[Any, Any]) -> str:
    s = session.settings
    replay = f" (a replay of the cassette {s.replay}, not a live server)" if s.replay else ""
    return (
        f"{s.host}:{s.port}"
        + {"plain": "", "implicit": " (TLS)", "starttls": " (STARTTLS)"}[s.tls]
        + replay
    )


def _tls(session: Session[Any, Any]) -> str:
    tls = session.tls
    if tls is None:
        return "no TLS: everything, passwords included, crosses the network in clear text"
    checked = "verified" if tls.verified else "NOT verified (insecure mode)"
    expires = tls.not_after.date().isoformat() if tls.not_after else "?"
    return (
        f"{tls.version}, {tls.cipher}; certificate {checked}: {tls.subject}, "
        f"issued by {tls.issuer}, valid until {expires}"
    )


def _tls_cell(session: Session[Any, Any]) -> str:
    version = session.tls.version if session.tls else "-"
    return f"{version} (certificate checks are OFF: --insecure)" if unverified(session) else version


def _state(session: Session[Any, Any]) -> str:
    if session.status != "open":
        return f"{session.status}" + (f": {session.reason}" if session.reason else "")
    return str(getattr(session.conn.state, "name", session.conn.state))


LIVE_LINE = "this panel follows the session: it changes as later cells run"


@dataclass(frozen=True, repr=False)
class SessionView(View):
    """One session: status, state, what to send next, TLS, the end of its transcript; a snapshot
    of the moment it was built unless ``live``."""

    session: Session[Any, Any]
    note: str = ""
    live: bool = False
    tail: int | None = TAIL
    snapshot: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)
    transcript: TranscriptView = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        s = self.session
        view = TranscriptView(s.name, s.transcript, unverified(s), self.tail, s.protocol)
        object.__setattr__(self, "transcript", view)
        object.__setattr__(self, "snapshot", tuple(self._rows_now()))

    def rows(self) -> list[tuple[str, str]]:
        """(field, value) pairs shown by both forms, as they were when the view was built."""
        return list(self.snapshot)

    def _rows_now(self) -> list[tuple[str, str]]:
        s = self.session
        done = s.tls_verbs if s.tls is not None else frozenset()  # TLS is up: no STARTTLS/STLS
        offered = [v for v in s.conn.expected() if v not in done]
        next_ = " ".join(offered) if s.status == "open" else "reconnect"
        rows = [("session", f"{s.protocol} {s.name}"), ("server", _where(s))]
        rows += [("state", _state(s)), ("next", next_), ("TLS", _tls(s))]
        rows += [("insecure", INSECURE)] if unverified(s) else []
        return rows + ([("note", self.note)] if self.note else [])

    def _live_text(self) -> list[str]:
        return [f"    live: {LIVE_LINE}"] if self.live else []

    def as_text(self) -> str:
        """Aligned field: value lines, then the end of the transcript."""
        rows = [f"{k:>8}: {v}" for k, v in self.rows()]
        return "\n".join([*self._live_text(), *rows, self.transcript.as_text()])

    def _status_html(self, rows: list[tuple[str, str]]) -> str:
        head = h.line(h.badge("live"), " ", h.muted(LIVE_LINE)) if self.live else ""
        return h.box(head, h.table(("", ""), rows))

    def as_html(self) -> str:
        """A two-column table, then the end of the transcript."""
        return self._status_html(self.rows()) + self.transcript.as_html()

    def widget(self) -> widgets.Widget:
        """The snapshot as one HTML widget; the live panel when ``live``."""
        return self._live_widget() if self.live else html_widget(self.as_html())

    def _live_widget(self) -> widgets.VBox:
        """Status table and whole transcript, both updated as later cells run, until closed."""
        s = self.session
        status = html_widget(self._status_html(self._rows_now()))

        def update(entry: Entry) -> None:
            status.value = self._status_html(self._rows_now())

        transcript = replace(self.transcript, tail=None).live_widget()
        panel = cascade(widgets.VBox([status, transcript]))
        return hold(panel, s.transcript.listeners.subscribe(update))


@dataclass(frozen=True, repr=False)
class SessionsView(View):
    """Every named session of one protocol, the current one marked with *."""

    protocol: str
    sessions: Sequence[Session[Any, Any]]
    current: str | None
    snapshot: tuple[tuple[str, str, str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "snapshot", tuple(self._rows_now()))

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(name, server, state, TLS) per session, as they were when the view was built."""
        return list(self.snapshot)

    def _rows_now(self) -> list[tuple[str, str, str, str]]:
        return [
            (
                ("* " if s.name == self.current else "  ") + s.name,
                _where(s),
                _state(s),
                _tls_cell(s),
            )
            for s in self.sessions
        ]

    def as_text(self) -> str:
        """One line per session."""
        if not self.sessions:
            return f"no {self.protocol} sessions"
        rows = self.rows()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
        )

    def as_html(self) -> str:
        """A table of sessions."""
        if not self.sessions:
            return h.box(h.muted(f"no {self.protocol} sessions"))
        return h.box(h.table(("name", "server", "state", "TLS"), self.rows()))

    def widget(self) -> widgets.HTML:
        """The table as a widget (a snapshot: list again to refresh)."""
        return html_widget(self.as_html())

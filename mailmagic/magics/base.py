"""What %smtp and %pop3 share (ProtocolMagics; the magics themselves are in smtp.py and pop3.py). A
line or cell is a control word (declared once: the session words in COMMON here, the helpers in each
magic's own registry, see registry.py) or raw protocol lines, sent exactly as typed (unknown verbs
too: the server's 500 is the lesson), the session kept open from cell to cell; `--` before a line
forces it raw. The session words: open, close, reconnect, sessions, use, status, transcript,
diagram (the protocol's state diagram, drawn from its transition table, the session's state lit),
timeline (the transcript as a sequence diagram). A session opened on the lab remembers which
listener it uses (smtp, submission, pop3s...), and
`reconnect` (and the Reconnect button of a mailbox table, handed the same path) goes to that
listener of the lab running now and trusts its CA, so sessions follow a restarted lab server to its
new ports; the lab's implicit-TLS listeners (smtps, pop3s) are opened with TLS even without --tls.
`open` under the name of a live session drops it without QUIT and warns so (POP3: naming the DELEs
that are lost). Graded notebooks (grading.py): a cell holding nbgrader's stub fails before anything
is sent, and with fail_on_error every 4xx/5xx or -ERR fails its cell.
Settings are traitlets (`%config SMTPMagic.timeout = 10`)."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, ClassVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics
from traitlets import Bool, Float, List, Unicode

from mailmagic.display.cell import CellView
from mailmagic.display.diagram import DiagramView
from mailmagic.display.exchange import is_failure
from mailmagic.display.reply import ReplyView
from mailmagic.display.session import SessionsView, SessionView
from mailmagic.display.timeline import TimelineView
from mailmagic.display.transcript import TranscriptView
from mailmagic.display.trust import unverified
from mailmagic.magics import cassettes
from mailmagic.magics.context import LAB_LISTENERS, MailContext
from mailmagic.magics.grading import NBGRADER_STUB, check_answered, check_replies, without_markers
from mailmagic.magics.options import (
    LINE_RULES,
    check,
    check_cell,
    check_result,
    expected,
    password,
    port,
    split_options,
    strip_comment,
    timeout_of,
)
from mailmagic.magics.registry import Commands, Help
from mailmagic.protocol.diagram import diagram
from mailmagic.protocol.errors import LocalProtocolError
from mailmagic.session.base import Session, SessionBroken, SessionError, Settings, TlsMode
from mailmagic.session.registry import Registry
from mailmagic.session.secrets import NoPassword

DEFAULT_NAME = "default"
HELP_WORDS = frozenset({"--help", "-h"})
_IMPLICIT_TLS_LISTENERS = frozenset({"smtps", "pop3s"})
_IMPLICIT_TLS_PORTS = {465: "SMTP", 995: "POP3"}  # RFC 8314 3.3: submissions, pop3s

COMMON = Commands("")
"""The session-control words of both magics; smtp.py and pop3.py add their own."""


def init_magics(magics: Magics, shell: Any) -> None:
    """``Magics.__init__`` (typed in IPython 9, untyped in 8; it adds ``magics`` to the shell's
    configurables, so `%config SMTPMagic.timeout = 10` finds it)."""
    init: Callable[..., None] = Magics.__init__
    init(magics, shell=shell)


def _open_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "host", nargs="?", default="lab", metavar="HOST|lab",
        help="the server's name or address; lab (the default) is the lab server",
    )  # fmt: skip
    p.add_argument(
        "port", nargs="?", metavar="PORT|listener",
        help="a port, or a lab listener: smtp, submission, smtps, pop3, pop3s",
    )  # fmt: skip
    p.add_argument("--name", default=DEFAULT_NAME, metavar="N", help="the session's name")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--tls", action="store_const", const="implicit", dest="mode",
        help="TLS from the first octet (ports 465, 995)",
    )  # fmt: skip
    mode.add_argument(
        "--starttls", "--stls", action="store_const", const="starttls", dest="mode",
        help="upgrade to TLS with STARTTLS (SMTP) or STLS (POP3) after the greeting",
    )  # fmt: skip
    p.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for the server")
    p.add_argument("--cafile", metavar="F", help="trust the CA certificates in this PEM file")
    p.add_argument(
        "--insecure", action="store_true",
        help="skip certificate checks (throwaway test servers only; said on every display)",
    )  # fmt: skip
    cassettes.add_options(p)


def _name_argument(what: str) -> Callable[[argparse.ArgumentParser], None]:
    def arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", nargs="?", metavar="NAME", help=f"the session {what}")

    return arguments


def _close_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME", help="the session (the current one)")
    p.add_argument("--all", action="store_true", help="close every session")


def _use_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="the session to make current")


def _timeline_arguments(p: argparse.ArgumentParser) -> None:
    _name_argument("whose transcript to draw (the current one)")(p)
    p.add_argument("--last", type=int, metavar="N", help="draw only the last N entries")


def _status_arguments(p: argparse.ArgumentParser) -> None:
    _name_argument("to show (the current one)")(p)
    p.add_argument("--live", action="store_true", help="a panel that follows the session")


class ProtocolMagics(Magics):
    """What %smtp and %pop3 share; subclasses name the protocol, its registry and helpers."""

    timeout = Float(
        30.0, help="Seconds to wait for a connection, or for more of a reply (from its last octet)."
    ).tag(config=True)
    local_name = Unicode("localhost", help="Name the client gives in EHLO for --starttls.").tag(
        config=True
    )
    continue_on_error = Bool(False, help="Cells go on after a 4xx/5xx or -ERR.").tag(config=True)
    fail_on_error = Bool(
        False, help="Any 4xx/5xx or -ERR without --expect fails the cell (graded notebooks)."
    ).tag(config=True)
    stub_lines = List(
        Unicode(), list(NBGRADER_STUB), help="Lines that mean an exercise is not answered yet."
    ).tag(config=True)

    protocol: ClassVar[str] = ""
    words: ClassVar[Commands] = COMMON
    ports: ClassVar[dict[str, int]] = {}
    lab_listeners: ClassVar[dict[str, str]] = {}

    def __init__(self, shell: Any, context: MailContext) -> None:
        init_magics(self, shell)
        self.context = context

    # -- to be provided by subclasses ------------------------------------------------------
    @property
    def registry(self) -> Registry[Any]:
        raise NotImplementedError

    def _new_session(self, name: str, settings: Settings) -> Session[Any, Any]:
        raise NotImplementedError

    @classmethod
    def usage(cls) -> str:
        """``%smtp --help``: every control word (from the registry), then the line rules."""
        magic = cls.protocol.lower()
        title = f"%{magic} control words (%{magic} WORD --help lists a word's options):"
        return f"{cls.words.listing(title)}\n\n{LINE_RULES.replace('{p}', magic)}"

    # -- entry point ---------------------------------------------------------------------
    def run(self, line: str, cell: str | None) -> Any:
        """Dispatch one magic call: control word, raw line, or raw cell."""
        try:
            if cell is not None:
                cell = without_markers(cell)
                check_answered(cell, self.protocol.lower(), self.stub_lines)
            result = self._run(line, cell)
            if self.fail_on_error:
                check_replies(result, line)
            return result
        except Help:
            return None
        except (SessionError, LocalProtocolError, NoPassword) as error:
            raise UsageError(str(error)) from None

    def _run(self, line: str, cell: str | None) -> Any:
        if strip_comment(line).strip() in HELP_WORDS:
            print(self.usage())
            return None
        options, rest = split_options(line)
        raw = "raw" in options
        word, _, args = rest.strip().partition(" ")
        if word.lower() in self.words and not raw:
            result = self._control(word.lower(), strip_comment(args, "\"'"), cell)
            return check_result(result, options)
        if cell is not None:
            return self._cell(cell, options, rest if raw else strip_comment(rest))
        session = self._session(options.get("session"))
        if not raw and not in_text(session):
            rest = strip_comment(rest)  # message text is sent as typed, # included
        if not rest.strip() and not raw:  # `%smtp --` sends an empty line
            return SessionView(self._refreshed(session))
        return self._raw(session, rest, options)

    def _control(self, word: str, args: str, cell: str | None) -> Any:
        """Parse ``args`` with the word's parser and call its handler."""
        try:
            argv = shlex.split(args)
        except ValueError as error:
            raise UsageError(f"%{self.protocol.lower()} {word}: {error}") from None
        return self.words[word].handler(self, self.words.parse(word, argv), cell)

    def _session(self, name: str | None = None) -> Any:
        """The named session or the current one; if none, the registry's NoSession (a
        SessionError, shown by ``run`` as a UsageError) says to open one."""
        return self.registry.get(name)

    # -- raw lines -------------------------------------------------------------------------
    def _raw(self, session: Session[Any, Any], line: str, options: dict[str, str]) -> ReplyView:
        pattern = expected(options)
        view = self._send(session, line, timeout_of(options))
        if pattern is not None:
            check(view, pattern)
        return view

    def _send(self, session: Session[Any, Any], line: str, timeout: float | None) -> ReplyView:
        line = self._complete_secret(session, line)
        warning = session.conn.warning(line) if session.is_open else None
        warning = self._text_note(session, line) or warning
        shown = session.conn.mask(line)
        reply = session.command(line, timeout=timeout or self.timeout)
        return self._view(reply, shown, session, warning)

    def _view(
        self, reply: Any, command: str, session: Session[Any, Any], warning: str | None = None
    ) -> ReplyView:
        return ReplyView(reply, command, session.name, self.protocol, warning, live=session)

    def _complete_secret(self, session: Session[Any, Any], line: str) -> str:
        return line

    def _text_note(self, session: Session[Any, Any], line: str) -> str | None:
        """A note for a line of message text that looks like a command (SMTP only)."""
        return None

    # -- cells -----------------------------------------------------------------------------
    def _cell(self, cell: str, options: dict[str, str], first_line: str) -> CellView:
        if first_line.strip():
            raise UsageError(
                f"%%{self.protocol.lower()} takes options on its first line and protocol "
                "lines in the cell; put the line in the cell"
            )
        pattern = expected(options)
        session = self._session(options.get("session"))
        go_on = "continue" in options or self.continue_on_error
        views: list[ReplyView] = []
        stopped = None
        for line in cell_lines(cell, lambda: in_text(session)):
            views.append(self._send(session, line, timeout_of(options)))
            if is_failure(views[-1].reply) and not go_on:
                stopped = "at the first failure (use --continue to go on)"
                break
        result = CellView(tuple(views), stopped)
        if pattern is not None and result.last is not None:
            check_cell(result, pattern)
        return result

    # -- control words ---------------------------------------------------------------------
    @COMMON.word(
        "open",
        "connect (no host: the lab server; its smtps/pop3s listeners use TLS by themselves)",
        "%{magic} open lab --tls --name secure",
        _open_arguments,
    )
    def _open(self, ns: argparse.Namespace, cell: str | None) -> ReplyView:
        replay = cassettes.start_replay(self.protocol, ns) if ns.replay else None
        settings = (
            self._settings(ns) if replay is None else cassettes.settings(replay, ns, self.timeout)
        )
        self._warn_if_replacing(ns.name)
        try:
            session = self._new_session(ns.name, settings)
        except BaseException:
            if replay is not None:  # no session will own it
                replay.stop()
            raise
        if replay is not None:
            cassettes.keep_replay(self.context.replays, session, replay)
        listener = ns.port or self.lab_listeners[_kind(settings.tls)]
        target = f"lab {listener}" if settings.lab else f"{ns.host} {settings.port}"
        target = f"--replay {settings.replay}" if replay is not None else target
        if ns.record:
            where = f"{target} ({settings.host}:{settings.port})"
            cassettes.start_recording(self.context.recorders, session, ns.record, where)
        if any(old.name == ns.name for old in self.registry):
            self.context.release(self.registry.get(ns.name))  # its replay server, its recording
        session = self.registry.add(session)
        if settings.lab:
            self.context.lab_listener[session] = self._listener_name(str(listener))
        try:
            greeting = session.connect()
        except SessionBroken as error:
            raise UsageError(f"{error}{tls_hint(settings)}") from None
        return replace(self._view(greeting, f"open {target}", session), panel=True)

    @COMMON.word(
        "close",
        "drop a session without QUIT (the current one by default)",
        "%{magic} close --all",
        _close_arguments,
    )
    def _close(self, ns: argparse.Namespace, cell: str | None) -> SessionsView:
        """Close one session (or all), say which, and list those still open."""
        sessions = list(self.registry) if ns.all else [self._session(ns.name)]
        for session in sessions:
            self.registry.close(session.name)
            self.context.release(session)
        closed = [session.name for session in sessions]
        if closed:
            print(f"closed {self.protocol} session {', '.join(map(repr, closed))}")
        return SessionsView(self.protocol, list(self.registry), self.registry.current_name)

    @COMMON.word(
        "reconnect",
        "connect again with the same settings (a lab session: to the lab running now)",
        "%{magic} reconnect",
        _name_argument("to connect again (the current one)"),
    )
    def _reconnect(self, ns: argparse.Namespace, cell: str | None) -> ReplyView:
        session = self._session(ns.name)
        return replace(self._view(self._reconnected(session), "reconnect", session), panel=True)

    @COMMON.word(
        "sessions", "list the named sessions; * marks the current one", "%{magic} sessions"
    )
    def _sessions(self, ns: argparse.Namespace, cell: str | None) -> SessionsView:
        for session in self.registry:
            session.refresh()
        return SessionsView(self.protocol, list(self.registry), self.registry.current_name)

    @COMMON.word("use", "make NAME the current session", "%{magic} use secure", _use_arguments)
    def _use(self, ns: argparse.Namespace, cell: str | None) -> SessionView:
        return SessionView(self.registry.use(ns.name))

    @COMMON.word(
        "status",
        "state, next commands, TLS, the last lines (--live: a panel that follows the session)",
        "%{magic} status --live",
        _status_arguments,
    )
    def _status(self, ns: argparse.Namespace, cell: str | None) -> SessionView:
        return SessionView(self._refreshed(self._session(ns.name)), live=ns.live)

    @COMMON.word(
        "transcript",
        "every line sent and received, secrets masked",
        "%{magic} transcript",
        _name_argument("whose lines to show (the current one)"),
    )
    def _transcript(self, ns: argparse.Namespace, cell: str | None) -> TranscriptView:
        session = self._session(ns.name)
        return TranscriptView(session.name, session.transcript, unverified(session))

    @COMMON.word(
        "diagram",
        "the state diagram, from the protocol's table: the state now lit, next commands marked",
        "%{magic} diagram",
        _name_argument("whose state to light (the current one; none open: the plain diagram)"),
    )
    def _diagram(self, ns: argparse.Namespace, cell: str | None) -> DiagramView:
        if ns.name is None and self.registry.current_name is None:
            return DiagramView(diagram(self.protocol))
        s = self._refreshed(self._session(ns.name))
        done = s.tls_verbs if s.tls is not None else frozenset()  # TLS is up: no STARTTLS/STLS
        offered = [v for v in s.conn.expected() if v not in done] if s.status == "open" else []
        return DiagramView(diagram(self.protocol, s.conn.state, tuple(offered)))

    @COMMON.word(
        "timeline",
        "the transcript as a sequence diagram, time to scale (pipelined commands fan out)",
        "%{magic} timeline --last 20",
        _timeline_arguments,
    )
    def _timeline(self, ns: argparse.Namespace, cell: str | None) -> TimelineView:
        if ns.last is not None and ns.last < 1:
            raise UsageError(f"%{self.protocol.lower()} timeline: --last wants 1 or more entries")
        session = self._session(ns.name)
        return TimelineView(session.name, session.transcript, self.protocol, ns.last)

    def _warn_if_replacing(self, name: str) -> None:
        """Say so on stderr when `open` is about to drop a live session of the same name."""
        old = next((s for s in self.registry if s.name == name), None)
        if old is not None and self._refreshed(old).is_open:
            print(f"warning: {self._replacing(old)}", file=sys.stderr)

    def _replacing(self, old: Session[Any, Any]) -> str:
        """What is lost when ``old`` (open) is replaced: POP3 adds its pending deletions."""
        state = getattr(old.conn.state, "name", old.conn.state)
        return (
            f"the open {self.protocol} session {old.name!r} (state {state}) is dropped without "
            f"QUIT and replaced; send QUIT first to end it cleanly, or give the new one another "
            "--name"
        )

    @staticmethod
    def _refreshed(session: Session[Any, Any]) -> Session[Any, Any]:
        session.refresh()  # notice a server that hung up in the meantime
        return session

    # -- where a session connects ----------------------------------------------------------
    def _settings(self, ns: argparse.Namespace) -> Settings:
        if ns.host != "lab":
            mode: TlsMode = ns.mode or "plain"
            number = port(ns.port) if ns.port else self.ports[_kind(mode)]
            return self._made(ns, mode, ns.host, number, ns.cafile)
        listener = str(ns.port or self.lab_listeners[_kind(ns.mode or "plain")])
        host, number, ca = self._lab_endpoint(listener, "open it (or give a host)")
        implicit = self._listener_name(listener) in _IMPLICIT_TLS_LISTENERS
        return self._made(ns, ns.mode or ("implicit" if implicit else "plain"), host, number, ca)

    def _made(
        self, ns: argparse.Namespace, mode: TlsMode, host: str, port: int, cafile: str | None
    ) -> Settings:
        timeout, lab = ns.timeout or self.timeout, ns.host == "lab"
        return Settings(
            host, port, tls=mode, timeout=timeout, insecure=ns.insecure, cafile=cafile,
            local_name=self.local_name, lab=lab,
        )  # fmt: skip

    def _lab_endpoint(self, listener: str, then: str) -> tuple[str, int, str]:
        """Host, port and CA file of ``listener`` (a name or a port) of the lab running now."""
        endpoints = self.context.running_lab(then).endpoints
        found = int(listener) if listener.isdigit() else getattr(endpoints, listener, None)
        if not isinstance(found, int):
            raise UsageError(f"the lab server has no {listener!r} listener")
        return endpoints.host, found, str(endpoints.ca_file)

    def _listener_name(self, listener: str) -> str:
        """The lab listener's name ("smtp", "pop3s"...) when given by port, so that it can be
        found again on a restarted lab; a port that is no lab listener's stays as given."""
        endpoints = self.context.running_lab("open it").endpoints
        number = int(listener) if listener.isdigit() else None
        return next((n for n in LAB_LISTENERS if getattr(endpoints, n) == number), listener)

    def _reconnected(self, session: Session[Any, Any]) -> Any:
        """Connect ``session`` again and return the greeting; a lab session first follows the
        lab running now (its listener's new port and CA)."""
        if session.settings.lab:
            self._follow_lab(session)
        return session.reconnect()

    def _reconnector(self, session: Session[Any, Any]) -> Callable[[], Any]:
        """What a view's Reconnect button calls: the path of ``reconnect``, with a lab server
        that is not running reported as the SessionError a view shows."""

        def reconnect() -> Any:
            try:
                return self._reconnected(session)
            except UsageError as error:
                raise SessionError(str(error)) from None

        return reconnect

    def _follow_lab(self, session: Session[Any, Any]) -> None:
        """Point a lab session at its listener on the lab running now (new ports and CA after
        ``%maillab stop`` / ``start``)."""
        default = self.lab_listeners[_kind(session.settings.tls)]
        listener = self.context.lab_listener.get(session, default)
        host, number, ca = self._lab_endpoint(listener, f"%{self.protocol.lower()} reconnect")
        session.settings = replace(session.settings, host=host, port=number, cafile=ca)

    def _password(self, session: Session[Any, Any], user: str, env_var: str | None) -> str:
        return password(user, env_var, self.context.lab_users(session))


def _kind(mode: TlsMode) -> str:
    """Which default port or lab listener a TLS mode takes: "implicit" or "plain"."""
    return "implicit" if mode == "implicit" else "plain"


def tls_hint(settings: Settings) -> str:
    """What is probably wrong when a plain connection gets no greeting: the port speaks implicit
    TLS, as 465 (submissions) and 995 (pop3s) do (RFC 8314 3.3)."""
    if settings.tls != "plain":
        return ""
    usual = _IMPLICIT_TLS_PORTS.get(settings.port)
    if usual is not None:
        return f". Port {settings.port} is usually {usual} over implicit TLS: try --tls"
    return f". If port {settings.port} expects TLS from the first octet (465, 995 do), try --tls"


def in_text(session: Session[Any, Any]) -> bool:
    """True while the next line is message text (after DATA's 354, or BDAT data)."""
    return session.conn.mode in ("text", "chunk")


def cell_lines(cell: str, text_now: Callable[[], bool]) -> Iterable[str]:
    """The lines of a cell to send: outside message text, comments are cut off and blank lines
    skipped; message text is sent as typed."""
    for raw in cell.splitlines():
        if text_now():
            yield raw
        elif strip_comment(raw).strip():
            yield strip_comment(raw)

# What this module does: the IPython magics, thin as DESIGN.md asks: parse the line or cell, call
# a session, hand the result to a display view. `%smtp` / `%%smtp` and `%pop3` / `%%pop3` send raw
# protocol lines exactly as typed (unknown verbs too: the server's 500 is the lesson) and keep the
# session open from cell to cell; a few lower-case words that are no protocol's verb (open, close,
# reconnect, sessions, use, status, transcript, login, sendmail, bulk, mailbox, fetch) control
# sessions, and `--` before a line forces it raw. Inside DATA, a line that looks like an SMTP
# command is still sent as message text, with a note that says so. `%maillab` starts, stops and
# shows the embedded lab server, the default target of `open`; `start` says when it reuses a
# running one, and `start --fresh` replaces it with one on an empty store. A session opened on
# the lab remembers which listener it uses (smtp, submission, pop3s...), and `reconnect` (and the
# Reconnect button of a mailbox table, handed the same path) goes to that listener of the lab
# running now and trusts its CA, so sessions follow a restarted lab server to its new ports; the
# lab's implicit-TLS listeners (smtps, pop3s) are opened with TLS even without --tls. `%pop3
# fetch` and `%smtp bulk` show a progress bar that says when they finished (or stopped). Settings
# are traitlets (`%config SMTPMagic.timeout = 10`); misuse raises UsageError with one line saying
# what to do. Loading the extension hooks display/live.py's CELLS to IPython's pre_run_cell, so a
# cell that runs again closes the widgets it showed before.
#
# Comments: outside message text, an unquoted `#` that stands alone as a word (at the start of a
# line or after a space, and before a space or the end) starts a comment that runs to the end of
# the line and is never sent (so `%pop3 PASS  # note` sends no note as the password, while
# `--subject "Issue #5"` and `Issue #5` keep their `#5`). Message text after DATA is sent
# exactly as typed, `#` included, and so is a raw line after `--`. `--help` (or `-h`) alone
# prints the control words, generated from `_WORDS`, which also gives the `%smtp?` / `%pop3?`
# docstrings.
from __future__ import annotations

import argparse
import atexit
import getpass
import inspect
import mimetypes
import shlex
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar, NoReturn, TypeVar, cast

from IPython.core import magic as _magic
from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import Magics, magics_class
from IPython.display import display as _display
from traitlets import Bool, Float, Int, Unicode

from mailmagic.display.cell import CellView
from mailmagic.display.fetch import FetchView, ProgressBar
from mailmagic.display.lab import LabView
from mailmagic.display.live import CELLS
from mailmagic.display.mailbox import MailboxView
from mailmagic.display.reply import ReplyView, is_failure, status_of
from mailmagic.display.session import SessionsView, SessionView
from mailmagic.display.transcript import TranscriptView
from mailmagic.display.trust import unverified
from mailmagic.lab import LabConfig, LabServer
from mailmagic.protocol.errors import LocalProtocolError
from mailmagic.protocol.expect import check_pattern, matches
from mailmagic.session.base import Session, SessionBroken, SessionError, Settings, TlsMode
from mailmagic.session.fetch import fetch
from mailmagic.session.pop3 import Pop3Session
from mailmagic.session.registry import Registry
from mailmagic.session.secrets import NoPassword, find_password
from mailmagic.session.smtp import SmtpSession, build_message, generated

_F = TypeVar("_F", bound=Callable[..., Any])
# IPython's decorators and display() are not typed; give them their real shapes once, here.
line_cell_magic = cast(Callable[[_F], _F], _magic.line_cell_magic)
line_magic = cast(Callable[[_F], _F], _magic.line_magic)
display = cast(Callable[..., None], _display)

CONTROL_WORDS = frozenset(
    {
        "open",
        "close",
        "reconnect",
        "sessions",
        "use",
        "status",
        "transcript",
        "login",
        "sendmail",
        "mailbox",
        "fetch",
        "bulk",
    }
)
_VALUE_OPTIONS = {"expect", "session", "timeout"}
_FLAG_OPTIONS = {"continue"}
DEFAULT_NAME = "default"
_HELP_WORDS = frozenset({"--help", "-h"})
_IMPLICIT_TLS_LISTENERS = frozenset({"smtps", "pop3s"})
_IMPLICIT_TLS_PORTS = {465: "SMTP", 995: "POP3"}  # RFC 8314 3.3: submissions, pop3s
# SMTP verbs that, typed inside message text, probably meant to be commands (see _text_note).
_SMTP_VERBS_ALONE = frozenset({"QUIT", "RSET", "NOOP", "DATA", "STARTTLS"})
_SMTP_VERBS_WITH_ARG = frozenset({"HELO", "EHLO", "VRFY", "EXPN", "AUTH", "HELP"})
_SMTP_PREFIXES = ("MAIL FROM:", "RCPT TO:")
TEXT_NOTE = (
    "this is message text, sent as typed; end the message with a line holding '.' "
    "(then send {verb} as a command)"
)

# Each control word once: (usage, summary), per protocol. `--help` and the magics' docstrings
# are generated from this table.
_COMMON_WORDS: dict[str, tuple[str, str]] = {
    "open": (
        "open [HOST|lab] [PORT|listener] [--name N] [--tls|--starttls] [--timeout S] "
        "[--cafile F] [--insecure]",
        "connect (no host: the lab server; its smtps/pop3s listeners use TLS by themselves)",
    ),
    "close": ("close [NAME | --all]", "drop a session without QUIT (the current one by default)"),
    "reconnect": ("reconnect [NAME]", "connect again with the same settings"),
    "sessions": ("sessions", "list the named sessions; * marks the current one"),
    "use": ("use NAME", "make NAME the current session"),
    "status": (
        "status [NAME] [--live]",
        "state, next commands, TLS, the last lines (--live: a panel that follows the session)",
    ),
    "transcript": ("transcript [NAME]", "every line sent and received, secrets masked"),
}
_WORDS: dict[str, dict[str, tuple[str, str]]] = {
    "smtp": {
        **_COMMON_WORDS,
        "login": ("login USER [--mechanism PLAIN|LOGIN] [--password-env VAR]", "AUTH"),
        "sendmail": (
            "%%smtp sendmail --from A --to B [--to C] [--cc D] [--subject S] [--attach FILE]...",
            "MAIL, RCPT, DATA and a well-formed message; the cell is its body",
        ),
        "bulk": (
            "bulk --count N --from A --to B [--size OCTETS]",
            "send N generated messages (pipelined when the server allows)",
        ),
    },
    "pop3": {
        **_COMMON_WORDS,
        "login": ("login USER [--apop | --sasl] [--password-env VAR]", "USER/PASS, APOP or AUTH"),
        "mailbox": ("mailbox [NAME]", "LIST and UIDL, then the mailbox table"),
        "fetch": (
            "fetch --to PATH [--format maildir|mbox] [--numbers 1-100] [--uid U]",
            "fetch the maildrop to disk, pipelined and resumable",
        ),
    },
}
_LINE_RULES = """\
Any other line is sent to the server exactly as typed (unknown verbs too), e.g. %{p} NOOP;
a %%{p} cell sends each line in turn and stops at the first failure unless --continue.
Before a line: --expect PATTERN, --session NAME, --timeout S; -- LINE forces a raw line.
Comments: outside message text, an unquoted # standing alone as a word (a space or the line's
start before it, a space or the line's end after it) starts a comment to the end of the line,
which is not sent. Message text after DATA is sent as typed,
and so is a raw line after --."""


def usage(protocol: str) -> str:
    """The help of ``%smtp`` / ``%pop3``: every control word, then the rules for raw lines."""
    words = _WORDS[protocol]
    width = max(len(word) for word in words)
    lines = [f"%{protocol} control words:"]
    for word, (use, summary) in words.items():
        call = use if use.startswith("%") else f"%{protocol} {use}"
        lines += [f"  {word:<{width}}  {summary}", f"  {'':<{width}}  {call}"]
    return "\n".join([*lines, "", _LINE_RULES.replace("{p}", protocol)])


def strip_comment(line: str, quotes: str = '"') -> str:
    """``line`` without its comment: from an unquoted ``#`` that stands alone as a word to the
    end (see the module comment). ``quotes`` are the characters that quote."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in quotes:
            quote = char
        elif char == "#" and line[i - 1 : i].strip() == line[i + 1 : i + 2].strip() == "":
            return line[:i].rstrip()
    return line


class ExpectFailed(AssertionError):
    """A reply did not match ``--expect``: the lab exercise is not solved yet."""

    def _render_traceback_(self) -> list[str]:
        return [f"ExpectFailed: {self}"]


class _Help(Exception):
    """argparse printed --help; nothing more to do."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _Help()


@dataclass
class MailContext:
    """What the magics of one IPython shell share: the sessions and the lab server, and which
    lab listener (by name: "smtp", "pop3s"...) each session opened on the lab talks to."""

    smtp: Registry[SmtpSession] = field(default_factory=lambda: Registry("SMTP"))
    pop3: Registry[Pop3Session] = field(default_factory=lambda: Registry("POP3"))
    lab: LabServer | None = None
    lab_listener: weakref.WeakKeyDictionary[Session[Any, Any], str] = field(
        default_factory=weakref.WeakKeyDictionary
    )

    def running_lab(self, then: str) -> LabServer:
        """The running lab server; a UsageError that says to start it (then ``then``) if none."""
        if self.lab is None or not self.lab.running:
            raise UsageError(f"the lab server is not running: %maillab start, then {then}")
        return self.lab

    def close_all(self) -> None:
        """Close every session and stop the lab server (kernel shutdown)."""
        self.smtp.close_all()
        self.pop3.close_all()
        if self.lab is not None:
            self.lab.stop()


def _init_magics(magics: Magics, shell: Any) -> None:
    """``Magics.__init__``, typed in IPython 9 and untyped in 8: called by a typed name for both."""
    init: Callable[..., None] = Magics.__init__
    init(magics, shell=shell)


def split_options(line: str) -> tuple[dict[str, str], str]:
    """Leading ``--option`` words of a raw line, and the rest exactly as typed.

    ``--`` ends the options and marks the rest as a raw line even if it starts with a control
    word (``options["raw"]``).
    """
    options: dict[str, str] = {}
    rest = line.lstrip()
    while rest.startswith("--"):
        token, _, after = rest.partition(" ")
        if token == "--":
            options["raw"] = "yes"
            return options, after
        name = token[2:]
        if name in _FLAG_OPTIONS:
            options[name] = "yes"
        elif name in _VALUE_OPTIONS:
            value, _, after = after.lstrip().partition(" ")
            if not value:
                raise UsageError(f"--{name} needs a value")
            options[name] = value
        else:
            known = ", ".join(f"--{o}" for o in sorted(_VALUE_OPTIONS | _FLAG_OPTIONS))
            raise UsageError(f"unknown option {token} (known before a raw line: {known}, --)")
        rest = after.lstrip()
    return options, rest


def _timeout(options: dict[str, str]) -> float | None:
    if "timeout" not in options:
        return None
    try:
        value = float(options["timeout"])
    except ValueError:
        raise UsageError(f"--timeout takes seconds, not {options['timeout']!r}") from None
    if value <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    return value


class _ProtocolMagics(Magics):
    """What %smtp and %pop3 share; subclasses name the protocol and its helpers."""

    timeout = Float(
        30.0, help="Seconds to wait for a connection, or for more of a reply (from its last octet)."
    ).tag(config=True)
    local_name = Unicode("localhost", help="Name the client gives in EHLO for --starttls.").tag(
        config=True
    )
    continue_on_error = Bool(False, help="Cells go on after a 4xx/5xx or -ERR.").tag(config=True)

    protocol: ClassVar[str] = ""
    ports: ClassVar[dict[str, int]] = {}
    lab_listeners: ClassVar[dict[str, str]] = {}

    def __init__(self, shell: Any, context: MailContext) -> None:
        _init_magics(self, shell)
        self.context = context

    # -- to be provided by subclasses ------------------------------------------------------
    @property
    def registry(self) -> Registry[Any]:
        raise NotImplementedError

    def _new_session(self, name: str, settings: Settings) -> Session[Any, Any]:
        raise NotImplementedError

    def _helper(self, word: str, args: str, cell: str | None) -> Any:
        raise UsageError(f"%{self.protocol.lower()} {word} is not available")

    # -- entry point ---------------------------------------------------------------------
    def run(self, line: str, cell: str | None) -> Any:
        """Dispatch one magic call: control word, raw line, or raw cell."""
        try:
            return self._run(line, cell)
        except _Help:
            return None
        except (SessionError, LocalProtocolError, NoPassword) as error:
            raise UsageError(str(error)) from None

    def _run(self, line: str, cell: str | None) -> Any:
        if line.strip() in _HELP_WORDS:
            print(usage(self.protocol.lower()))
            return None
        options, rest = split_options(line)
        raw = "raw" in options
        word, _, args = rest.strip().partition(" ")
        if word.lower() in CONTROL_WORDS and not raw:
            args = strip_comment(args, "\"'")
            return self._checked(self._control(word.lower(), args, cell), options)
        if cell is not None:
            if (rest if raw else strip_comment(rest)).strip():
                raise UsageError(
                    f"%%{self.protocol.lower()} takes options on its first line and protocol "
                    "lines in the cell; put the line in the cell"
                )
            return self._cell(cell, options)
        session = self._session(options.get("session"))
        if not raw and not _in_text(session):
            rest = strip_comment(rest)  # message text is sent as typed, # included
        if not rest.strip() and not raw:  # `%smtp --` sends an empty line
            return SessionView(self._refreshed(session))
        return self._raw(session, rest, options)

    def _session(self, name: str | None = None) -> Any:
        """The named session or the current one; if none, the registry's NoSession (a
        SessionError, shown by ``run`` as a UsageError) says to open one."""
        return self.registry.get(name)

    def _checked(self, result: Any, options: dict[str, str]) -> Any:
        """Apply ``--expect`` to what a control word returned (open, reconnect, login...)."""
        if set(options) - {"expect"}:
            raise UsageError("before a control word only --expect applies; use -- for a raw line")
        if "expect" in options:
            pattern = check_pattern(options["expect"])
            if isinstance(result, ReplyView):
                self._check(result, pattern)
            elif isinstance(result, CellView):
                self._check_cell(result, pattern)
            else:
                raise UsageError("--expect checks a server reply; this control word gets none")
        return result

    # -- raw lines -------------------------------------------------------------------------
    def _raw(self, session: Session[Any, Any], line: str, options: dict[str, str]) -> ReplyView:
        pattern = check_pattern(options["expect"]) if "expect" in options else None
        view = self._send(session, line, _timeout(options))
        if pattern is not None:
            self._check(view, pattern)
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

    def _check(self, view: ReplyView, pattern: str) -> None:
        reply = view.reply
        if reply is None:
            raise UsageError(f"--expect {pattern}: {view.command!r} gets no reply of its own")
        if not matches(status_of(reply), pattern):
            display(view)
            raise ExpectFailed(
                f"expected {pattern}, got {status_of(reply)}: "
                f"{reply.raw.decode('utf-8', 'replace').strip()}"
            )

    # -- cells -----------------------------------------------------------------------------
    def _cell(self, cell: str, options: dict[str, str]) -> CellView:
        pattern = check_pattern(options["expect"]) if "expect" in options else None
        session = self._session(options.get("session"))
        go_on = "continue" in options or self.continue_on_error
        views: list[ReplyView] = []
        stopped = None
        for line in _cell_lines(cell, lambda: _in_text(session)):
            views.append(self._send(session, line, _timeout(options)))
            if is_failure(views[-1].reply) and not go_on:
                stopped = "at the first failure (use --continue to go on)"
                break
        result = CellView(tuple(views), stopped)
        if pattern is not None and result.last is not None:
            self._check_cell(result, pattern)
        return result

    def _check_cell(self, result: CellView, pattern: str) -> None:
        last = result.last
        assert last is not None and last.reply is not None
        if not matches(status_of(last.reply), pattern):
            display(result)
            raise ExpectFailed(f"expected {pattern}, the last reply was {status_of(last.reply)}")

    # -- control words ---------------------------------------------------------------------
    def _control(self, word: str, args: str, cell: str | None) -> Any:
        handlers: dict[str, Callable[[str], Any]] = {
            "open": self._open,
            "close": self._close,
            "reconnect": self._reconnect,
            "sessions": lambda _: self._sessions(),
            "use": lambda a: SessionView(self.registry.use(self._one_name(a, "use"))),
            "status": self._status,
            "transcript": self._transcript,
        }
        if word in handlers:
            return handlers[word](args)
        return self._helper(word, args, cell)

    def _status(self, args: str) -> SessionView:
        p = self._parser("status", "status [NAME] [--live]")
        p.add_argument("name", nargs="?")
        p.add_argument("--live", action="store_true", help="a panel that follows the session")
        ns = p.parse_args(shlex.split(args))
        return SessionView(self._refreshed(self._session(ns.name)), live=ns.live)

    def _sessions(self) -> SessionsView:
        for session in self.registry:
            session.refresh()
        return SessionsView(self.protocol, list(self.registry), self.registry.current_name)

    @staticmethod
    def _refreshed(session: Session[Any, Any]) -> Session[Any, Any]:
        session.refresh()  # notice a server that hung up in the meantime
        return session

    def _parser(self, word: str, usage: str) -> _Parser:
        return _Parser(prog=f"%{self.protocol.lower()} {word}", usage=usage, add_help=True)

    def _one_name(self, args: str, word: str) -> str:
        names = shlex.split(args)
        if len(names) != 1:
            raise UsageError(f"%{self.protocol.lower()} {word} takes one session name")
        return names[0]

    def _open(self, args: str) -> ReplyView:
        p = self._parser("open", "open [HOST|lab] [PORT] [--name N] [--tls|--starttls] ...")
        p.add_argument("host", nargs="?", default="lab")
        p.add_argument("port", nargs="?")
        p.add_argument("--name", default=DEFAULT_NAME)
        mode = p.add_mutually_exclusive_group()
        mode.add_argument("--tls", action="store_const", const="implicit", dest="mode")
        mode.add_argument(
            "--starttls", "--stls", action="store_const", const="starttls", dest="mode"
        )
        p.add_argument("--timeout", type=float)
        p.add_argument("--cafile")
        p.add_argument("--insecure", action="store_true")
        ns = p.parse_args(shlex.split(args))
        settings = self._settings(ns)
        session = self.registry.add(self._new_session(ns.name, settings))
        listener = ns.port or self.lab_listeners[_kind(settings.tls)]
        if settings.lab:
            self.context.lab_listener[session] = self._listener_name(str(listener))
        try:
            greeting = session.connect()
        except SessionBroken as error:
            raise UsageError(f"{error}{_tls_hint(settings)}") from None
        target = f"lab {listener}" if settings.lab else f"{ns.host} {settings.port}"
        return replace(self._view(greeting, f"open {target}", session), panel=True)

    def _settings(self, ns: argparse.Namespace) -> Settings:
        if ns.host != "lab":
            mode: TlsMode = ns.mode or "plain"
            port = _port(ns.port) if ns.port else self.ports[_kind(mode)]
            return self._made(ns, mode, ns.host, port, ns.cafile)
        listener = str(ns.port or self.lab_listeners[_kind(ns.mode or "plain")])
        host, port, ca = self._lab_endpoint(listener, "open it (or give a host)")
        implicit = self._listener_name(listener) in _IMPLICIT_TLS_LISTENERS
        return self._made(ns, ns.mode or ("implicit" if implicit else "plain"), host, port, ca)

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
        port = int(listener) if listener.isdigit() else None
        return next((n for n in _LAB_LISTENERS if getattr(endpoints, n) == port), listener)

    def _close(self, args: str) -> SessionsView:
        """Close one session (or all), say which, and list those still open."""
        names = shlex.split(args)
        if names == ["--all"]:
            closed = [s.name for s in self.registry]
            self.registry.close_all()
        else:
            closed = [self.registry.close(self._session(names[0] if names else None).name).name]
        if closed:
            print(f"closed {self.protocol} session {', '.join(map(repr, closed))}")
        return SessionsView(self.protocol, list(self.registry), self.registry.current_name)

    def _reconnect(self, args: str) -> ReplyView:
        session = self._session(args.strip() or None)
        return replace(self._view(self._reconnected(session), "reconnect", session), panel=True)

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
        host, port, ca = self._lab_endpoint(listener, f"%{self.protocol.lower()} reconnect")
        session.settings = replace(session.settings, host=host, port=port, cafile=ca)

    def _transcript(self, args: str) -> TranscriptView:
        session = self._session(args.strip() or None)
        return TranscriptView(session.name, session.transcript, unverified(session))

    # -- passwords -------------------------------------------------------------------------
    def _password(self, session: Session[Any, Any], user: str, env_var: str | None) -> str:
        lab = self.context.lab
        users = lab.config.users if session.settings.lab and lab is not None else None
        try:
            return find_password(user, env_var, users, getpass.getpass)
        except StdinNotImplementedError:
            raise UsageError(
                f"no password for {user}: this kernel cannot prompt; set an environment "
                "variable and pass --password-env NAME"
            ) from None


_LAB_LISTENERS = ("smtp", "submission", "smtps", "pop3", "pop3s")


def _kind(mode: TlsMode) -> str:
    """Which default port or lab listener a TLS mode takes: "implicit" or "plain"."""
    return "implicit" if mode == "implicit" else "plain"


def _tls_hint(settings: Settings) -> str:
    """What is probably wrong when a plain connection gets no greeting: the port speaks implicit
    TLS, as 465 (submissions) and 995 (pop3s) do (RFC 8314 3.3)."""
    if settings.tls != "plain":
        return ""
    usual = _IMPLICIT_TLS_PORTS.get(settings.port)
    if usual is not None:
        return f". Port {settings.port} is usually {usual} over implicit TLS: try --tls"
    return f". If port {settings.port} expects TLS from the first octet (465, 995 do), try --tls"


def _number_range(text: str) -> range:
    first, _, last = text.partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        raise argparse.ArgumentTypeError(f"expected N or N-M, not {text!r}")
    return range(int(first), int(last or first) + 1)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"a port is a number from 1 to 65535, not {text!r}")
    return int(text)


def _in_text(session: Session[Any, Any]) -> bool:
    return session.conn.mode in ("text", "chunk")


def _cell_lines(cell: str, in_text: Callable[[], bool]) -> Iterable[str]:
    """The lines of a cell to send: outside message text, comments are cut off and blank lines
    skipped; message text is sent as typed."""
    for raw in cell.splitlines():
        if in_text():
            yield raw
        elif strip_comment(raw).strip():
            yield strip_comment(raw)


@magics_class
class SMTPMagic(_ProtocolMagics):
    """``%smtp`` / ``%%smtp``: an SMTP session from notebook cells."""

    protocol = "SMTP"
    ports: ClassVar[dict[str, int]] = {"plain": 25, "implicit": 465}
    lab_listeners: ClassVar[dict[str, str]] = {"plain": "smtp", "implicit": "smtps"}

    @property
    def registry(self) -> Registry[SmtpSession]:
        return self.context.smtp

    def _new_session(self, name: str, settings: Settings) -> SmtpSession:
        return SmtpSession(name, settings)

    @line_cell_magic
    def smtp(self, line: str, cell: str | None = None) -> Any:
        """Replaced below by the help generated from _WORDS (``usage("smtp")``)."""
        return self.run(line, cell)

    def _text_note(self, session: Session[Any, Any], line: str) -> str | None:
        """Inside DATA, a line that looks like a command is still message text: say so, since
        a forgotten "." would otherwise put `QUIT` into the message silently."""
        verb = _command_like(line) if _in_text(session) else None
        return TEXT_NOTE.format(verb=verb) if verb else None

    def _helper(self, word: str, args: str, cell: str | None) -> Any:
        if word == "login":
            return self._login(args)
        if word == "sendmail":
            return self._sendmail(args, cell or "")
        if word == "bulk":
            return self._bulk(args)
        return super()._helper(word, args, cell)

    def _bulk(self, args: str) -> CellView:
        """Send many generated messages (load tests), pipelined when the server allows."""
        p = self._parser("bulk", "bulk --count N --from A --to B [--to C] [--size OCTETS]")
        p.add_argument("--count", type=int, required=True)
        p.add_argument("--from", dest="sender", required=True)
        p.add_argument("--to", action="append", required=True)
        p.add_argument("--size", type=int, default=1000)
        ns = p.parse_args(shlex.split(args))
        session = self._session()
        finals = []
        with ProgressBar("sending") as bar:
            messages = generated(ns.sender, ns.to, ns.count, ns.size)
            for n, (sender, to, data) in enumerate(messages, 1):
                finals += session.send_many([(sender, to, data)])
                bar.update(n, ns.count)
            bar.finish(f"sent {len(finals)}")
        accepted = sum(r.is_positive for r in finals)
        last = [self._view(r, f"message {i}", session) for i, r in enumerate(finals, 1)][-3:]
        return CellView(tuple(last), note=f"{accepted} of {ns.count} messages accepted")

    def _login(self, args: str) -> ReplyView:
        p = self._parser("login", "login USER [--mechanism PLAIN|LOGIN] [--password-env NAME]")
        p.add_argument("user")
        p.add_argument("--mechanism", default="PLAIN", choices=["PLAIN", "LOGIN", "plain", "login"])
        p.add_argument("--password-env")
        ns = p.parse_args(shlex.split(args))
        session = self._session()
        secret = self._password(session, ns.user, ns.password_env)
        reply = session.login(ns.user, secret, ns.mechanism)
        return self._view(reply, f"AUTH {ns.mechanism.upper()} (as {ns.user})", session)

    def _sendmail(self, args: str, body: str) -> CellView:
        p = _Parser(prog="%%smtp sendmail", usage=_WORDS["smtp"]["sendmail"][0])
        p.add_argument("--from", dest="sender", required=True)
        p.add_argument("--to", action="append", default=[], required=True)
        p.add_argument("--cc", action="append", default=[])
        p.add_argument("--subject", default="")
        p.add_argument("--attach", action="append", default=[], metavar="FILE")
        ns = p.parse_args(shlex.split(args))
        _one_line_each(
            {"--from": [ns.sender], "--to": ns.to, "--cc": ns.cc, "--subject": [ns.subject]}
        )
        files = [_readable(name) for name in ns.attach]
        session = self._session()
        message = build_message(ns.sender, ns.to, ns.subject, body, ns.cc)
        for path in files:
            _attach(message, path)
        steps = session.send_message(ns.sender, [*ns.to, *ns.cc], message)
        note = f"attached: {', '.join(f.name for f in files)}" if files else None
        return CellView(tuple(self._view(r, c, session) for c, r in steps), note=note)


def _readable(name: str) -> Path:
    """The file ``--attach`` names; a UsageError naming it if it cannot be read."""
    path = Path(name).expanduser()
    if not path.is_file():
        raise UsageError(f"%%smtp sendmail: --attach {name}: no such file (nothing was sent)")
    return path


def _attach(message: EmailMessage, path: Path) -> None:
    """Add ``path`` as an attachment, typed by its name (RFC 2183 disposition, RFC 2231 name)."""
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    maintype, _, subtype = kind.partition("/")
    data = path.read_bytes()
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)


def _command_like(line: str) -> str | None:
    """The SMTP verb a line of message text looks like ("QUIT", "MAIL FROM:"...), or None."""
    words = line.split()
    verb = words[0].upper() if words else ""
    if verb in _SMTP_VERBS_ALONE and len(words) == 1:
        return verb
    if verb in _SMTP_VERBS_WITH_ARG and len(words) <= 2:  # the verb, one argument
        return verb
    return next((p for p in _SMTP_PREFIXES if line.upper().startswith(p)), None)


def _one_line_each(options: dict[str, list[str]]) -> None:
    """Header and envelope values are single lines: a CR or LF in one would end its header (or
    SMTP command) early and start another (RFC 5322 2.2, RFC 5321 2.3.8), so refuse it."""
    for option, values in options.items():
        if any("\r" in value or "\n" in value for value in values):
            raise UsageError(
                f"%%smtp sendmail: {option} contains a line break (CR or LF), which would start "
                f"a new header; give {option} on one line (nothing was sent)"
            )


@magics_class
class POP3Magic(_ProtocolMagics):
    """``%pop3`` / ``%%pop3``: a POP3 session from notebook cells."""

    protocol = "POP3"
    ports: ClassVar[dict[str, int]] = {"plain": 110, "implicit": 995}
    lab_listeners: ClassVar[dict[str, str]] = {"plain": "pop3", "implicit": "pop3s"}

    displaylimit = Int(50, help="Rows per page of a mailbox table.").tag(config=True)

    @property
    def registry(self) -> Registry[Pop3Session]:
        return self.context.pop3

    def _new_session(self, name: str, settings: Settings) -> Pop3Session:
        return Pop3Session(name, settings)

    @line_cell_magic
    def pop3(self, line: str, cell: str | None = None) -> Any:
        """Replaced below by the help generated from _WORDS (``usage("pop3")``)."""
        return self.run(line, cell)

    def _helper(self, word: str, args: str, cell: str | None) -> Any:
        if word == "login":
            return self._login(args)
        if word == "mailbox":
            return self._mailbox(args)
        if word == "fetch":
            return self._fetch(args)
        return super()._helper(word, args, cell)

    def _fetch(self, args: str) -> FetchView:
        """Fetch the maildrop (or part of it) to disk, pipelined, resumable."""
        p = self._parser("fetch", "fetch --to PATH [--format maildir|mbox] [--numbers 1-100]")
        p.add_argument("--to", required=True)
        p.add_argument("--format", choices=["maildir", "mbox"], default="maildir")
        p.add_argument("--numbers", type=_number_range)
        p.add_argument("--uid", action="append", dest="uids")
        p.add_argument("--window", type=int, default=32)
        ns = p.parse_args(shlex.split(args))
        session = self._session()
        with ProgressBar("fetching") as bar:
            result = fetch(
                session,
                ns.to,
                fmt=ns.format,
                numbers=ns.numbers,
                uids=ns.uids,
                window=ns.window,
                progress=bar.update,
            )
            bar.finish(f"fetched {len(result) - result.skipped}")
        return FetchView(result, ns.to, insecure=unverified(session))

    def _view(
        self, reply: Any, command: str, session: Session[Any, Any], warning: str | None = None
    ) -> ReplyView:
        view = super()._view(reply, command, session, warning)
        return replace(view, displaylimit=self.displaylimit, reconnect=self._reconnector(session))

    def _mailbox(self, args: str) -> MailboxView:
        """LIST and UIDL, then the mailbox table (a logged-in session is needed)."""
        session = self._session(args.strip() or None)
        for line in ("LIST", "UIDL"):
            session.command(line)
        return MailboxView(session, self.displaylimit, reconnect=self._reconnector(session))

    def _login(self, args: str) -> ReplyView:
        p = self._parser("login", "login USER [--apop|--sasl] [--password-env NAME]")
        p.add_argument("user")
        method = p.add_mutually_exclusive_group()
        method.add_argument("--apop", action="store_const", const="apop", dest="method")
        method.add_argument("--sasl", action="store_const", const="sasl", dest="method")
        p.add_argument("--password-env")
        ns = p.parse_args(shlex.split(args))
        session = self._session()
        secret = self._password(session, ns.user, ns.password_env)
        reply = session.login(ns.user, secret, ns.method or "user")
        return self._view(reply, f"login {ns.user} ({ns.method or 'USER/PASS'})", session)

    def _complete_secret(self, session: Session[Any, Any], line: str) -> str:
        """``PASS`` alone, or ``APOP user`` alone: fill in the secret (never typed)."""
        words = line.split()
        if not words or not isinstance(session, Pop3Session):
            return line
        verb = words[0].upper()
        if verb == "PASS" and len(words) == 1:
            user = session.last_user
            if user is None:
                raise UsageError("PASS alone needs a USER first: %pop3 USER name")
            return f"{words[0]} {self._password(session, user, None)}"
        if verb == "APOP" and len(words) == 2:
            secret = self._password(session, words[1], None)
            return f"{words[0]} {words[1]} {session.apop_digest(secret)}"
        return line


SMTPMagic.smtp.__doc__ = usage("smtp")
POP3Magic.pop3.__doc__ = usage("pop3") + "\nPASS alone (or APOP user) fills in the secret."


@magics_class
class LabMagic(Magics):
    """``%maillab``: start, stop and show the embedded lab mail server."""

    def __init__(self, shell: Any, context: MailContext) -> None:
        _init_magics(self, shell)
        self.context = context

    @line_magic
    def maillab(self, line: str) -> LabView | None:
        """%maillab [start [--fresh] [--domain D] [--user NAME:PW]... [--maildir PATH] | stop |
        status]: a running lab server is reused by start (it says so); --fresh replaces it with
        one on an empty store. `%maillab start --help` lists every option of start."""
        line = strip_comment(line, "\"'")
        if line.strip() in _HELP_WORDS:
            print(inspect.cleandoc(LabMagic.maillab.__doc__ or ""))
            return None
        try:
            return self._run(line)
        except _Help:
            return None

    def _run(self, line: str) -> LabView:
        word, _, args = line.strip().partition(" ")
        if word in ("", "status"):
            if self.context.lab is None:
                raise UsageError("the lab server is not started: %maillab start")
            return LabView(self.context.lab)
        if word == "start":
            return self._start(args)
        if word == "stop":
            if self.context.lab is not None:
                self.context.lab.stop()
                return LabView(self.context.lab)
            raise UsageError("the lab server is not started")
        raise UsageError(f"%maillab {word}: use start, stop or status")

    def _start(self, args: str) -> LabView:
        """Start the lab server; one already running is reused (said so) or, with ``--fresh``,
        stopped and replaced by one with an empty store."""
        from mailmagic.lab.__main__ import config_from, parser

        ns = _lab_parser(parser()).parse_args(shlex.split(args))
        running = self.context.lab if self.context.lab and self.context.lab.running else None
        if running is not None and not ns.fresh:
            return LabView(running, note=REUSED_NOTE.format(n=_message_count(running)))
        if ns.fresh:
            _check_empty(ns.maildir)
        if running is not None:
            running.stop()
        try:
            config: LabConfig = config_from(ns)
            self.context.lab = LabServer(config)
            self.context.lab.start()
        except (ValueError, OSError) as error:
            raise UsageError(f"the lab server did not start: {error}") from None
        note = "the lab server that was running is stopped; this one starts empty"
        return LabView(self.context.lab, note=note if running is not None else "")


REUSED_NOTE = (
    "already running: reused as it is, with the {n} message(s) it holds; "
    "%maillab start --fresh starts a new one with an empty store"
)


def _message_count(lab: LabServer) -> int:
    return sum(len(lab.store.messages(user)) for user in lab.config.users)


def _check_empty(maildir: Path | None) -> None:
    """``--fresh`` promises an empty store: refuse a ``--maildir`` that holds anything."""
    if maildir is not None and Path(maildir).is_dir() and any(Path(maildir).iterdir()):
        raise UsageError(
            f"%maillab start --fresh: {maildir} is not empty; give an empty folder "
            "or leave out --maildir (a new temporary one is made)"
        )


def _lab_parser(base: argparse.ArgumentParser) -> _Parser:
    p = _Parser(prog="%maillab start", parents=[base], add_help=False, conflict_handler="resolve")
    p.add_argument(
        "--fresh", action="store_true", help="stop a running lab server; start on an empty store"
    )
    p.set_defaults(json=False)
    return p


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext mailmagic``: register the magics and close everything at shutdown."""
    context = MailContext()
    magics = [SMTPMagic(ipython, context), POP3Magic(ipython, context), LabMagic(ipython, context)]
    for magic in magics:
        ipython.register_magics(magic)
        ipython.configurables.append(magic)
    atexit.register(context.close_all)
    ipython.events.register("pre_run_cell", CELLS.start)  # a re-run cell's old widgets close
    CELLS.start(_running_cell(ipython))  # the cell loading us ran before its hook was there


def _running_cell(ipython: Any) -> SimpleNamespace:
    """The cell running now, as a pre_run_cell hook would see it: its id from the request's
    metadata (JupyterLab and Notebook 7 send ``cellId``), None outside a kernel."""
    get_parent = getattr(getattr(ipython, "kernel", None), "get_parent", None)
    parent = get_parent() if callable(get_parent) else {}
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    return SimpleNamespace(cell_id=(metadata or {}).get("cellId"))


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext mailmagic``: close every session and stop the lab server."""
    if CELLS.start in ipython.events.callbacks["pre_run_cell"]:
        ipython.events.unregister("pre_run_cell", CELLS.start)
    magic = ipython.magics_manager.registry.get("SMTPMagic")
    if isinstance(magic, SMTPMagic):
        magic.context.close_all()
        atexit.unregister(magic.context.close_all)
    ipython.configurables[:] = [
        c for c in ipython.configurables if not isinstance(c, (_ProtocolMagics, LabMagic))
    ]

# What this module does: the IPython magics, thin as DESIGN.md asks: parse the line or cell, call
# a session, hand the result to a display view. `%smtp` / `%%smtp` and `%pop3` / `%%pop3` send raw
# protocol lines exactly as typed (unknown verbs too: the server's 500 is the lesson) and keep the
# session open from cell to cell; a few lower-case words that are no protocol's verb (open, close,
# reconnect, sessions, use, status, transcript, login, sendmail) control sessions, and `--` before
# a line forces it raw. `%maillab` starts, stops and shows the embedded lab server, the default
# target of `open`. A session opened on the lab remembers which listener it uses (smtp, submission,
# pop3s...), and `reconnect` goes to that listener of the lab running now and trusts its CA, so
# sessions follow a restarted lab server to its new ports. Settings are traitlets
# (`%config SMTPMagic.timeout = 10`); misuse raises UsageError with one line saying what to do.
from __future__ import annotations

import argparse
import atexit
import getpass
import shlex
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, NoReturn, TypeVar, cast

from IPython.core import magic as _magic
from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import Magics, magics_class
from IPython.display import display as _display
from traitlets import Bool, Float, Int, Unicode

from mailmagic.display.cell import CellView
from mailmagic.display.fetch import FetchView, ProgressBar
from mailmagic.display.lab import LabView
from mailmagic.display.mailbox import MailboxView
from mailmagic.display.reply import ReplyView, is_failure, status_of
from mailmagic.display.session import SessionsView, SessionView
from mailmagic.display.transcript import TranscriptView
from mailmagic.display.trust import unverified
from mailmagic.lab import LabConfig, LabServer
from mailmagic.protocol.errors import LocalProtocolError
from mailmagic.protocol.expect import check_pattern, matches
from mailmagic.session.base import Session, SessionError, Settings, TlsMode
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
        options, rest = split_options(line)
        word, _, args = rest.strip().partition(" ")
        if word.lower() in CONTROL_WORDS and "raw" not in options:
            return self._checked(self._control(word.lower(), args, cell), options)
        if cell is not None:
            if rest.strip():
                raise UsageError(
                    f"%%{self.protocol.lower()} takes options on its first line and protocol "
                    "lines in the cell; put the line in the cell"
                )
            return self._cell(cell, options)
        if not rest.strip() and "raw" not in options:  # `%smtp --` sends an empty line
            return SessionView(self._refreshed(self.registry.get()))
        return self._raw(rest, options)

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
    def _raw(self, line: str, options: dict[str, str]) -> ReplyView:
        pattern = check_pattern(options["expect"]) if "expect" in options else None
        session = self.registry.get(options.get("session"))
        view = self._send(session, line, _timeout(options))
        if pattern is not None:
            self._check(view, pattern)
        return view

    def _send(self, session: Session[Any, Any], line: str, timeout: float | None) -> ReplyView:
        line = self._complete_secret(session, line)
        warning = session.conn.warning(line) if session.is_open else None
        shown = session.conn.mask(line)
        reply = session.command(line, timeout=timeout or self.timeout)
        return self._view(reply, shown, session, warning)

    def _view(
        self, reply: Any, command: str, session: Session[Any, Any], warning: str | None = None
    ) -> ReplyView:
        return ReplyView(reply, command, session.name, self.protocol, warning, live=session)

    def _complete_secret(self, session: Session[Any, Any], line: str) -> str:
        return line

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
        session = self.registry.get(options.get("session"))
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
            "status": lambda a: SessionView(self._refreshed(self.registry.get(a.strip() or None))),
            "transcript": self._transcript,
        }
        if word in handlers:
            return handlers[word](args)
        return self._helper(word, args, cell)

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
        greeting = session.connect()
        target = f"lab {listener}" if settings.lab else f"{ns.host} {settings.port}"
        return replace(self._view(greeting, f"open {target}", session), panel=True)

    def _settings(self, ns: argparse.Namespace) -> Settings:
        mode: TlsMode = ns.mode or "plain"
        common = {"tls": mode, "timeout": ns.timeout or self.timeout, "insecure": ns.insecure}
        if ns.host != "lab":
            port = _port(ns.port) if ns.port else self.ports[_kind(mode)]
            return Settings(ns.host, port, cafile=ns.cafile, local_name=self.local_name, **common)
        listener = str(ns.port or self.lab_listeners[_kind(mode)])
        host, port, ca = self._lab_endpoint(listener, "open it (or give a host)")
        return Settings(host, port, cafile=ca, local_name=self.local_name, lab=True, **common)

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
        names = shlex.split(args)
        if names == ["--all"]:
            self.registry.close_all()
        else:
            self.registry.close(names[0] if names else None)
        return SessionsView(self.protocol, list(self.registry), self.registry.current_name)

    def _reconnect(self, args: str) -> ReplyView:
        session = self.registry.get(args.strip() or None)
        if session.settings.lab:
            self._follow_lab(session)
        return replace(self._view(session.reconnect(), "reconnect", session), panel=True)

    def _follow_lab(self, session: Session[Any, Any]) -> None:
        """Point a lab session at its listener on the lab running now (new ports and CA after
        ``%maillab stop`` / ``start``)."""
        default = self.lab_listeners[_kind(session.settings.tls)]
        listener = self.context.lab_listener.get(session, default)
        host, port, ca = self._lab_endpoint(listener, f"%{self.protocol.lower()} reconnect")
        session.settings = replace(session.settings, host=host, port=port, cafile=ca)

    def _transcript(self, args: str) -> TranscriptView:
        session = self.registry.get(args.strip() or None)
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
    """The lines of a cell to send: blank and # lines are skipped except as message text."""
    for raw in cell.splitlines():
        if in_text() or (raw.strip() and not raw.lstrip().startswith("#")):
            yield raw


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
        """Send SMTP lines, or control sessions: open, close, reconnect, sessions, use, status,
        transcript, login USER, sendmail --from A --to B [--subject S] (cell: the body)."""
        return self.run(line, cell)

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
        session = self.registry.get()
        bar = ProgressBar("sending")
        finals = []
        for n, (sender, to, data) in enumerate(generated(ns.sender, ns.to, ns.count, ns.size), 1):
            finals += session.send_many([(sender, to, data)])
            bar.update(n, ns.count)
        accepted = sum(r.is_positive for r in finals)
        last = [self._view(r, f"message {i}", session) for i, r in enumerate(finals, 1)][-3:]
        return CellView(tuple(last), note=f"{accepted} of {ns.count} messages accepted")

    def _login(self, args: str) -> ReplyView:
        p = self._parser("login", "login USER [--mechanism PLAIN|LOGIN] [--password-env NAME]")
        p.add_argument("user")
        p.add_argument("--mechanism", default="PLAIN", choices=["PLAIN", "LOGIN", "plain", "login"])
        p.add_argument("--password-env")
        ns = p.parse_args(shlex.split(args))
        session = self.registry.get()
        secret = self._password(session, ns.user, ns.password_env)
        reply = session.login(ns.user, secret, ns.mechanism)
        return self._view(reply, f"AUTH {ns.mechanism.upper()} (as {ns.user})", session)

    def _sendmail(self, args: str, body: str) -> CellView:
        p = self._parser("sendmail", "sendmail --from A --to B [--to C] [--cc D] [--subject S]")
        p.add_argument("--from", dest="sender", required=True)
        p.add_argument("--to", action="append", default=[], required=True)
        p.add_argument("--cc", action="append", default=[])
        p.add_argument("--subject", default="")
        ns = p.parse_args(shlex.split(args))
        _one_line_each(
            {"--from": [ns.sender], "--to": ns.to, "--cc": ns.cc, "--subject": [ns.subject]}
        )
        session = self.registry.get()
        message = build_message(ns.sender, ns.to, ns.subject, body, ns.cc)
        steps = session.send_message(ns.sender, [*ns.to, *ns.cc], message)
        return CellView(tuple(self._view(r, c, session) for c, r in steps))


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
        """Send POP3 lines, or control sessions: open, close, reconnect, sessions, use, status,
        transcript, login USER [--apop|--sasl]. ``PASS`` alone asks for the password."""
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
        session = self.registry.get()
        bar = ProgressBar("fetching")
        result = fetch(
            session,
            ns.to,
            fmt=ns.format,
            numbers=ns.numbers,
            uids=ns.uids,
            window=ns.window,
            progress=bar.update,
        )
        return FetchView(result, ns.to, insecure=unverified(session))

    def _view(
        self, reply: Any, command: str, session: Session[Any, Any], warning: str | None = None
    ) -> ReplyView:
        view = super()._view(reply, command, session, warning)
        return replace(view, displaylimit=self.displaylimit)

    def _mailbox(self, args: str) -> MailboxView:
        """LIST and UIDL, then the mailbox table (a logged-in session is needed)."""
        session = self.registry.get(args.strip() or None)
        for line in ("LIST", "UIDL"):
            session.command(line)
        return MailboxView(session, self.displaylimit)

    def _login(self, args: str) -> ReplyView:
        p = self._parser("login", "login USER [--apop|--sasl] [--password-env NAME]")
        p.add_argument("user")
        method = p.add_mutually_exclusive_group()
        method.add_argument("--apop", action="store_const", const="apop", dest="method")
        method.add_argument("--sasl", action="store_const", const="sasl", dest="method")
        p.add_argument("--password-env")
        ns = p.parse_args(shlex.split(args))
        session = self.registry.get()
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


@magics_class
class LabMagic(Magics):
    """``%maillab``: start, stop and show the embedded lab mail server."""

    def __init__(self, shell: Any, context: MailContext) -> None:
        _init_magics(self, shell)
        self.context = context

    @line_magic
    def maillab(self, line: str) -> LabView | None:
        """%maillab [start [--domain D] [--user NAME:PW]... [--maildir PATH] | stop | status]"""
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
        from mailmagic.lab.__main__ import config_from, parser

        ns = _lab_parser(parser()).parse_args(shlex.split(args))
        if self.context.lab is not None and self.context.lab.running:
            return LabView(self.context.lab)
        try:
            config: LabConfig = config_from(ns)
            self.context.lab = LabServer(config)
            self.context.lab.start()
        except (ValueError, OSError) as error:
            raise UsageError(f"the lab server did not start: {error}") from None
        return LabView(self.context.lab)


def _lab_parser(base: argparse.ArgumentParser) -> _Parser:
    p = _Parser(prog="%maillab start", parents=[base], add_help=False, conflict_handler="resolve")
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


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext mailmagic``: close every session and stop the lab server."""
    magic = ipython.magics_manager.registry.get("SMTPMagic")
    if isinstance(magic, SMTPMagic):
        magic.context.close_all()
        atexit.unregister(magic.context.close_all)
    ipython.configurables[:] = [
        c for c in ipython.configurables if not isinstance(c, (_ProtocolMagics, LabMagic))
    ]

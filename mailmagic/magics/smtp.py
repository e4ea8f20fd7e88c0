"""`%smtp` / `%%smtp`: an SMTP session from notebook cells, with the helper words login (AUTH),
sendmail (MAIL, RCPT, DATA and a well-formed message, attachments too) and bulk (generated messages,
pipelined when the server allows, with a progress bar that says when it finished or stopped). Inside
DATA, a line that looks like an SMTP command is still sent as message text, with a note that says so
(a forgotten "." would otherwise swallow a QUIT). `open` has one option %pop3's lacks: `--mx DOMAIN`
looks up where the domain's mail goes (session/mx.py, at `SMTPMagic.nameservers` or the system's)
and opens the first MX host that answers, the MX table shown above its greeting (display/mx.py)."""

from __future__ import annotations

import argparse
import mimetypes
from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from IPython.core import magic as _magic
from IPython.core.error import UsageError
from IPython.core.magic import magics_class
from traitlets import List, Unicode

from mailmagic.display.cell import CellView
from mailmagic.display.fetch import ProgressBar
from mailmagic.display.mx import MxReplyView, MxView
from mailmagic.display.reply import ReplyView
from mailmagic.magics.base import COMMON, ProtocolMagics, in_text
from mailmagic.magics.options import port
from mailmagic.magics.pipeline import declare_pipeline
from mailmagic.magics.registry import Commands
from mailmagic.session import mx
from mailmagic.session.base import Session, SessionError, Settings
from mailmagic.session.registry import Registry
from mailmagic.session.smtp import SmtpSession, build_message, generated

_F = TypeVar("_F", bound=Callable[..., Any])
line_cell_magic = cast(Callable[[_F], _F], _magic.line_cell_magic)  # IPython's is untyped

SMTP = Commands("smtp", COMMON)
"""The control words of %smtp: the session words, pipeline, then login, sendmail and bulk."""
declare_pipeline(SMTP)

# SMTP verbs that, typed inside message text, probably meant to be commands (see _text_note).
_SMTP_VERBS_ALONE = frozenset({"QUIT", "RSET", "NOOP", "DATA", "STARTTLS"})
_SMTP_VERBS_WITH_ARG = frozenset({"HELO", "EHLO", "VRFY", "EXPN", "AUTH", "HELP"})
_SMTP_PREFIXES = ("MAIL FROM:", "RCPT TO:")
TEXT_NOTE = (
    "this is message text, sent as typed; end the message with a line holding '.' "
    "(then send {verb} as a command)"
)


def _mx_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mx", metavar="DOMAIN",
        help="no HOST: look up DOMAIN's MX records (DNS) and open the first host that answers",
    )  # fmt: skip
    p.add_argument(
        "--mx-port", metavar="N",
        help="with --mx: the port to try on each host (default 25, or 465 with --tls)",
    )  # fmt: skip


def _login_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("user", metavar="USER", help="the user name to log in as")
    p.add_argument(
        "--mechanism", default="PLAIN", choices=["PLAIN", "LOGIN", "plain", "login"],
        metavar="PLAIN|LOGIN", help="the SASL mechanism (RFC 4954; default PLAIN)",
    )  # fmt: skip
    p.add_argument(
        "--password-env", metavar="VAR",
        help="read the password from this environment variable (else the lab's, or a prompt)",
    )  # fmt: skip


def _sendmail_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="sender", required=True, metavar="A", help="the sender")
    p.add_argument(
        "--to", action="append", default=[], required=True, metavar="B",
        help="a recipient (repeatable)",
    )  # fmt: skip
    p.add_argument("--cc", action="append", default=[], metavar="C", help="a Cc recipient")
    p.add_argument("--subject", default="", metavar="S", help="the Subject header")
    p.add_argument(
        "--attach", action="append", default=[], metavar="FILE",
        help="attach a file, typed by its name (repeatable)",
    )  # fmt: skip


def _bulk_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--count", type=int, required=True, metavar="N", help="how many messages")
    p.add_argument("--from", dest="sender", required=True, metavar="A", help="the sender")
    p.add_argument(
        "--to", action="append", required=True, metavar="B", help="a recipient (repeatable)"
    )
    p.add_argument(
        "--size", type=int, default=1000, metavar="OCTETS", help="size of each (default 1000)"
    )


@magics_class
class SMTPMagic(ProtocolMagics):
    """``%smtp`` / ``%%smtp``: an SMTP session from notebook cells."""

    protocol = "SMTP"
    words: ClassVar[Commands] = SMTP
    ports: ClassVar[dict[str, int]] = {"plain": 25, "implicit": 465}
    lab_listeners: ClassVar[dict[str, str]] = {"plain": "smtp", "implicit": "smtps"}

    nameservers = List(
        Unicode(),
        help="DNS servers `open --mx` asks, as 'IP' or 'IP:port' ('[::1]:5353'); "
        "empty: the system's (/etc/resolv.conf).",
    ).tag(config=True)

    @property
    def registry(self) -> Registry[SmtpSession]:
        return self.context.smtp

    def _new_session(self, name: str, settings: Settings) -> SmtpSession:
        return SmtpSession(name, settings)

    @line_cell_magic
    def smtp(self, line: str, cell: str | None = None) -> Any:
        """Replaced below by the help generated from the registry (``SMTPMagic.usage()``)."""
        return self.run(line, cell)

    def _text_note(self, session: Session[Any, Any], line: str) -> str | None:
        """Inside DATA, a line that looks like a command is still message text: say so, since
        a forgotten "." would otherwise put `QUIT` into the message silently."""
        verb = _command_like(line) if in_text(session) else None
        return TEXT_NOTE.format(verb=verb) if verb else None

    @SMTP.extend(
        "open",
        f"{COMMON['open'].summary}; --mx DOMAIN: the first of DOMAIN's mail servers that answers",
        "%smtp open --mx example.org",
        _mx_arguments,
    )
    def _open_word(self, ns: argparse.Namespace, cell: str | None) -> ReplyView:
        """``open`` as both magics have it, or with ``--mx`` where the domain's mail goes."""
        if ns.mx is not None:
            return self._open_mx(ns, cell)
        if ns.mx_port is not None:
            raise UsageError("%smtp open: --mx-port goes with --mx DOMAIN; give a port after HOST")
        return self._open(ns, cell)

    def _open_mx(self, ns: argparse.Namespace, cell: str | None) -> MxReplyView:
        """Look up the MX hosts, open the first that answers (each address in turn) and show the
        MX table above its greeting; a UsageError naming each host and why if none answers."""
        _check_mx(ns)
        found = mx.lookup(ns.mx, self.nameservers, ns.timeout or self.timeout)
        number = port(ns.mx_port) if ns.mx_port else self.ports[_mode_kind(ns.mode)]

        def connect(host: mx.MxHost, address: str) -> ReplyView:
            target = {**vars(ns), "host": host.host, "port": str(number), "mx_address": address}
            try:
                return self._open(argparse.Namespace(**target), cell)
            except (UsageError, SessionError):
                reason = self._session(ns.name).reason or "no greeting"  # the session's own words
                said = reason.removeprefix(f"could not connect to {address}:{number}: ")
                raise SessionError(said) from None

        view, attempts = mx.first_answer(found, connect)
        if view is None:
            raise UsageError(
                f"%smtp open --mx {ns.mx}: {mx.none_answered(found, attempts, number)}"
            )
        return MxReplyView.around(view, MxView(found, attempts))

    def _settings(self, ns: argparse.Namespace) -> Settings:
        """As for any host; an MX host is reached at the address looked up (``mx_address``), its
        name kept for TLS, with a shorter wait for each connection."""
        settings = super()._settings(ns)
        address = getattr(ns, "mx_address", None)
        if address is None:
            return settings
        wait = min(settings.timeout, mx.CONNECT_TIMEOUT)
        return replace(settings, address=address, connect_timeout=wait)

    @SMTP.word(
        "login",
        "AUTH PLAIN or LOGIN; the password is never typed (the lab's user, "
        "--password-env, a prompt)",
        "%smtp login alice --mechanism LOGIN",
        _login_arguments,
    )
    def _login(self, ns: argparse.Namespace, cell: str | None) -> ReplyView:
        session = self._session()
        secret = self._password(session, ns.user, ns.password_env)
        reply = session.login(ns.user, secret, ns.mechanism)
        return self._view(reply, f"AUTH {ns.mechanism.upper()} (as {ns.user})", session)

    @SMTP.word(
        "sendmail",
        "MAIL, RCPT, DATA and a well-formed message; the cell is its body",
        "%%smtp sendmail --from alice@lab.test --to bob@lab.test --subject Hi",
        _sendmail_arguments,
        cell=True,
    )
    def _sendmail(self, ns: argparse.Namespace, cell: str | None) -> CellView:
        _one_line_each(
            {"--from": [ns.sender], "--to": ns.to, "--cc": ns.cc, "--subject": [ns.subject]}
        )
        files = [_readable(name) for name in ns.attach]
        session = self._session()
        message = build_message(ns.sender, ns.to, ns.subject, cell or "", ns.cc)
        for path in files:
            _attach(message, path)
        steps = session.send_message(ns.sender, [*ns.to, *ns.cc], message)
        note = f"attached: {', '.join(f.name for f in files)}" if files else None
        return CellView(tuple(self._view(r, c, session) for c, r in steps), note=note)

    @SMTP.word(
        "bulk",
        "send N generated messages (pipelined when the server allows)",
        "%smtp bulk --count 100 --from load@lab.test --to alice@lab.test",
        _bulk_arguments,
    )
    def _bulk(self, ns: argparse.Namespace, cell: str | None) -> CellView:
        """Send many generated messages (load tests), pipelined when the server allows."""
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


SMTPMagic.smtp.__doc__ = SMTPMagic.usage()


def _mode_kind(mode: str | None) -> str:
    """Which default port a TLS mode takes: "implicit" (465) or "plain" (25, STARTTLS too)."""
    return "implicit" if mode == "implicit" else "plain"


def _check_mx(ns: argparse.Namespace) -> None:
    """--mx finds the host itself: no HOST or PORT beside it, and a domain, not an address."""
    if ns.host != "lab" or ns.port is not None:
        raise UsageError(
            f"%smtp open: --mx {ns.mx} finds the host itself; give no HOST or PORT with it "
            "(--mx-port N for another port than 25)"
        )
    if "@" in ns.mx or not ns.mx.strip(". "):
        raise UsageError(
            f"%smtp open --mx: give a domain (example.org), not {ns.mx!r}; for an address, "
            "the part after the @"
        )


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

"""The lab SMTP server, aiosmtpd with a handler of ours (`LabHandler`, the `handle_VERB` hooks) and
a thin `SMTP` subclass (`LabSMTP`) for what aiosmtpd has no hook for: EXPN, TURN, HELP with 214,
fault injection, and RFC 3463 enhanced status codes on aiosmtpd's own stock replies, which a
well-run server (Postfix, Exchange) always sends once it has advertised ENHANCEDSTATUSCODES (RFC
2034 section 3; greetings, HELO/EHLO and 354/334 carry none).

`LabSMTP` also keeps each reply in step with the session's state where aiosmtpd does not: a
command argument with a byte that is not UTF-8 or a control character is refused (501) before
anything runs, as no reply could quote it; an unexpected error resets the transaction and says
so, never with the exception's text; STARTTLS inside TLS gets 503 (RFC 3207 section 4); each
session has its own command line limits. DATA and AUTH continuation lines are read by data.py,
in memory bounded by the line and message limits, and a bare LF in the data is named as such.

Mail for local users and aliases is delivered to the Maildir store before the 250 reply; mail for
other domains is refused as relaying (550 5.7.1) unless the client authenticated, in which case it
is kept in the store's outbox: nothing ever leaves the lab.
"""

from __future__ import annotations

import asyncio
import binascii
import email.utils
import functools
import logging
import re
import secrets
from base64 import b64decode, b64encode
from collections import defaultdict
from collections.abc import Awaitable, Callable
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from typing import Any

from aiosmtpd.smtp import (
    MISSING,
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    Session,
    TLSSetupException,
    _Missing,
)

from mailmagic.lab.config import LabConfig, local_part
from mailmagic.lab.data import MailData, TextLine, read_data, read_line
from mailmagic.lab.directory import Directory
from mailmagic.lab.faults import Faults
from mailmagic.lab.log import LabLog, SessionRecorder, mask_command, mask_continuation
from mailmagic.lab.store import OUTBOX, MailStore

IDENT = "ESMTP mailmagic lab server ready"
NULL_SENDER = "<>"
COMMAND_LINE_LIMIT = 512
"""Octets in a command line, CRLF included (RFC 5321 section 4.5.3.1.4)."""
MAIL_LINE_LIMIT = COMMAND_LINE_LIMIT + 26 + 10
"""MAIL's line after EHLO: 26 more octets for SIZE= (RFC 1870 section 3), 10 for SMTPUTF8
(RFC 6531 section 3.4), as aiosmtpd allows."""
TLS_ACTIVE = "503 5.5.1 TLS already active: STARTTLS is for a plain connection (RFC 3207 section 4)"
INTERNAL_ERROR = (
    "451 4.3.0 Local error in processing: the mail transaction was reset, start it again with MAIL"
)
AUTH_LINE_TOO_LONG = "500 5.5.6 Authentication Exchange line is too long (RFC 4954 section 6)"
AUTH_CANCELLED = "501 5.7.0 Auth aborted"
AUTH_NOT_BASE64 = "501 5.5.2 Can't decode base64"

log = logging.getLogger(__name__)

# aiosmtpd logs every unknown command as a warning on "mail.log"; without a handler Python would
# print those to stderr, i.e. into notebook cells. Applications can still configure the logger.
logging.getLogger("mail.log").addHandler(logging.NullHandler())

# RFC 3463 codes for aiosmtpd's stock replies, by basic code (RFC 5321 section 4.2.3).
_ENHANCED_BY_CODE = {
    "421": "4.3.0",
    "451": "4.3.0",
    "452": "4.5.3",
    "454": "4.7.0",
    "500": "5.5.2",
    "501": "5.5.4",
    "502": "5.5.1",
    "503": "5.5.1",
    "504": "5.5.4",
    "530": "5.7.0",
    "535": "5.7.8",
    "538": "5.7.11",
    "550": "5.0.0",
    "552": "5.3.4",
    "553": "5.1.3",
    "554": "5.7.0",
}
# Stock aiosmtpd replies whose wording we replace outright.
_REWORDED = {
    "220 Ready to start TLS": "220 2.0.0 Ready to start TLS",
    "500 Command line too long": (
        "500 5.5.2 Command line too long: RFC 5321 section 4.5.3.1.4 allows 512 octets"
    ),
}
# An RFC 5321 section 4.1.2 Mailbox, loosely: a dot-string or quoted local part, "@", a domain or an
# address literal. Non-ASCII is allowed for SMTPUTF8 (RFC 6531).
_MAILBOX = re.compile(
    r'^(?:"[^"\r\n]*"|[^\s"@<>()\[\],;:\\]+)@(?:[^\s"@<>()\[\],;:\\]+|\[[^\]\s]+\])$'
)
_NOT_RECOGNIZED = re.compile(r'command "([^"]*)" not recognized')
_HAS_ENHANCED = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}\b")
# Whose argument a refused argument is: code and RFC 3463 code (section 3.2: X.1.7 bad sender's
# address syntax, X.1.3 bad destination address syntax; X.5.4 invalid command arguments).
_ARGUMENT_NAMES = {
    "MAIL": ("501 5.1.7", "Bad sender address"),
    "RCPT": ("501 5.1.3", "Bad recipient address"),
}

HELP_TEXT = {
    "HELO": "HELO <your-host-name>: say who you are (RFC 5321 section 4.1.1.1)",
    "EHLO": "EHLO <your-host-name>: say who you are and list extensions (RFC 5321 4.1.1.1)",
    "MAIL": "MAIL FROM:<sender> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]: start a transaction",
    "RCPT": "RCPT TO:<recipient>: add one recipient; repeat for more (RFC 5321 4.1.1.3)",
    "DATA": "DATA: then the message, headers, a blank line, the body, and a lone '.'",
    "RSET": "RSET: abandon the current transaction (RFC 5321 section 4.1.1.5)",
    "VRFY": "VRFY <user>: ask whether a mailbox exists (RFC 5321 section 4.1.1.6)",
    "EXPN": "EXPN <list>: list the members of a mailing list (RFC 5321 section 4.1.1.7)",
    "HELP": "HELP [command]: this help (RFC 5321 section 4.1.1.8)",
    "NOOP": "NOOP: do nothing, get 250 (RFC 5321 section 4.1.1.9)",
    "QUIT": "QUIT: end the session (RFC 5321 section 4.1.1.10)",
    "TURN": "TURN: obsolete and not supported (RFC 5321 appendix F.1)",
    "STARTTLS": "STARTTLS: switch to TLS, then EHLO again (RFC 3207)",
    "AUTH": "AUTH PLAIN|LOGIN [initial-response]: log in (RFC 4954)",
}


def with_enhanced_code(reply: str) -> str:
    """Give a stock reply the RFC 3463 enhanced status code a real server would send."""
    if reply in _REWORDED:
        return _REWORDED[reply]
    enhanced = _ENHANCED_BY_CODE.get(reply[:3])
    if enhanced is None or _HAS_ENHANCED.match(reply) or reply[3:4] not in (" ", "-"):
        return reply
    return f"{reply[:4]}{enhanced} {reply[4:]}"


def argument_refusal(verb: str, arg: str | None) -> str | None:
    """The 501 reply for an argument no command takes, or None (see the module docstring).

    aiosmtpd hands arguments on as UTF-8 with "surrogateescape", so a byte that is not UTF-8
    arrives as a lone surrogate (RFC 6531 section 3.3 makes SMTPUTF8 arguments UTF-8); control
    characters have no place in a command's text (RFC 5321 section 4.1.2).
    """
    problem = _argument_problem(arg or "")
    if problem is None:
        return None
    code, what = _ARGUMENT_NAMES.get(verb, ("501 5.5.4", f"Bad {verb} argument"))
    return f"{code} {what}: it holds {problem}; nothing was changed, send it as UTF-8 text"


def _argument_problem(arg: str) -> str | None:
    for char in arg:
        if "\udc80" <= char <= "\udcff":
            return f"the octet 0x{ord(char) - 0xDC00:02X}, which is not UTF-8"
        if char < " " or char == "\x7f":
            return f"the control character 0x{ord(char):02X}"
    return None


def _peer_ip(session: Session) -> str:
    peer: Any = session.peer
    return str(peer[0]) if isinstance(peer, tuple) else str(peer)


class LabHandler:
    """aiosmtpd hooks: replies with enhanced codes, recipient checks and Maildir delivery."""

    def __init__(
        self, config: LabConfig, store: MailStore, directory: Directory | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.directory = directory or Directory(config)  # users and lists now (directory.py)

    async def handle_HELO(
        self, server: LabSMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        session.host_name = hostname
        return f"250 {self.config.hostname} Hello {hostname} [{_peer_ip(session)}]"

    async def handle_EHLO(
        self,
        server: LabSMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        first = f"250-{self.config.hostname} Hello {hostname} [{_peer_ip(session)}]"
        extensions = ["250-PIPELINING", *responses[1:-1], "250-ENHANCEDSTATUSCODES"]
        return [first, *extensions, "250 HELP"]

    async def handle_MAIL(
        self,
        server: LabSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if server.submission and not session.authenticated:
            # RFC 6409 section 4.3; checked here, not with aiosmtpd's auth_required, which warns
            # on every connection when plain-text AUTH is allowed (as it is on loopback).
            return "530 5.7.0 Authentication required"
        # aiosmtpd gives the null reverse-path (RFC 5321 section 4.5.5, bounces) as "<>".
        if address != NULL_SENDER and not _MAILBOX.match(address):
            return f"501 5.1.7 Bad sender address syntax: <{address}>"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return f"250 2.1.0 <{address.strip('<>')}>... Sender OK"

    async def handle_RCPT(
        self,
        server: LabSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self.config.max_recipients:
            limit = self.config.max_recipients
            return f"452 4.5.3 Too many recipients: at most {limit} per message"
        if not _MAILBOX.match(address) and address.lower() != "postmaster":
            return f"501 5.1.3 Bad recipient address syntax: <{address}>"
        refusal = self.refusal(address, bool(session.authenticated))
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return f"250 2.1.5 <{address}>... Recipient OK"

    def refusal(self, address: str, authenticated: bool) -> str | None:
        """The 550 reply for a recipient this server will not take, or None."""
        name = local_part(address, self.config.local_domains)
        if name is None:
            if authenticated:
                return None
            return f"550 5.7.1 <{address}>: Relay access denied; log in (AUTH) to send elsewhere"
        users, aliases = self.directory.users, self.directory.aliases
        if name in users or name in aliases or name == "postmaster":
            return None
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local table"

    def mailboxes(self, address: str) -> list[str]:
        """The Maildirs a recipient's copy goes to (aliases expanded; postmaster: first user)."""
        name = local_part(address, self.config.local_domains)
        if name is None:
            return [OUTBOX]
        users, aliases = self.directory.users, self.directory.aliases
        if name in aliases:
            return list(aliases[name])
        if name == "postmaster" and name not in users:
            return list(users)[:1] or [OUTBOX]
        return [name]

    async def handle_DATA(self, server: LabSMTP, session: Session, envelope: Envelope) -> str:
        queue_id = secrets.token_hex(6).upper()
        mailboxes = list(dict.fromkeys(m for r in envelope.rcpt_tos for m in self.mailboxes(r)))
        content = envelope.original_content or b""
        message = self.trace_headers(server, session, envelope, queue_id) + content
        try:
            await self.store.deliver_async(mailboxes, message)
        except OSError as error:
            return f"451 4.3.0 Requested action aborted: local error in processing ({error})"
        return f"250 2.6.0 <{queue_id}@{self.config.hostname}> Queued mail for delivery"

    def trace_headers(
        self, server: LabSMTP, session: Session, envelope: Envelope, queue_id: str
    ) -> bytes:
        """Return-Path and Received (RFC 5321 section 4.4; "with" values from RFC 3848)."""
        tls = server.implicit_tls or session.ssl is not None
        protocol = "ESMTP" if session.extended_smtp else "SMTP"
        protocol += ("S" if tls else "") + ("A" if session.authenticated else "")
        recipient = f"\r\n\tfor <{envelope.rcpt_tos[0]}>" if len(envelope.rcpt_tos) == 1 else ""
        date = email.utils.format_datetime(email.utils.localtime())
        lines = (
            f"Return-Path: <{str(envelope.mail_from).strip('<>')}>\r\n"
            f"Received: from {session.host_name} ([{_peer_ip(session)}])\r\n"
            f"\tby {self.config.hostname} (mailmagic lab) with {protocol} id {queue_id}"
            f"{recipient}; {date}\r\n"
        )
        return lines.encode("utf-8", "surrogateescape")

    async def handle_RSET(self, server: LabSMTP, session: Session, envelope: Envelope) -> str:
        return "250 2.0.0 Reset state"

    async def handle_NOOP(
        self, server: LabSMTP, session: Session, envelope: Envelope, arg: str
    ) -> str:
        return "250 2.0.0 OK"

    async def handle_QUIT(self, server: LabSMTP, session: Session, envelope: Envelope) -> str:
        return f"221 2.0.0 {self.config.hostname} Service closing transmission channel"

    async def handle_VRFY(
        self, server: LabSMTP, session: Session, envelope: Envelope, address: str
    ) -> str:
        if self.directory.vrfy == "252":  # lab.vrfy_disclosure
            return "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery"
        name = local_part(address, self.config.local_domains)
        if name is not None and name in self.directory.users:
            return f"250 2.1.5 <{self.config.address(name)}>"
        if name is not None and name in self.directory.aliases:
            return f"250 2.1.5 <{self.config.address(name)}> (a list: EXPN shows its members)"
        if name is None:
            return (
                f"551 5.1.6 <{address}> is not local; this server only knows {self.config.domain}"
            )
        return f"550 5.1.1 <{address}>: User unknown"

    def expn(self, argument: str) -> list[str]:
        """EXPN reply lines (RFC 5321 section 3.5.2): the members of a list, or 550."""
        name = local_part(argument, self.config.local_domains) if argument else None
        if not argument:
            return ["501 5.5.4 Syntax: EXPN <list>"]
        aliases = self.directory.aliases
        if name is None or name not in aliases:
            return [f"550 5.1.1 <{argument}> is not a mailing list here"]
        addresses = [f"<{self.config.address(member)}>" for member in aliases[name]]
        return [f"250-2.1.5 {a}" for a in addresses[:-1]] + [f"250 2.1.5 {addresses[-1]}"]

    def authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        """aiosmtpd authenticator for PLAIN and LOGIN against the lab users."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        name = local_part(login, self.config.local_domains)
        password = auth_data.password.decode("utf-8", "replace")
        ok = name is not None and self.directory.users.get(name) == password
        if ok and isinstance(server, LabSMTP) and server.recorder is not None:
            server.recorder.update(user=name)
        return AuthResult(success=ok, handled=False, auth_data=name if ok else None)


Method = Callable[[str | None], Awaitable[None]]


def _auth_answer(answer: TextLine) -> tuple[str | None, bytes]:
    """The refusal of an answer to a 334 challenge (RFC 4954 section 4), or None and its value."""
    blob = answer.data.strip()
    if answer.too_long:
        return AUTH_LINE_TOO_LONG, b""
    if blob == b"*":
        return AUTH_CANCELLED, b""
    try:
        return None, b64decode(blob, validate=True)
    except binascii.Error:
        return AUTH_NOT_BASE64, b""


@functools.lru_cache(maxsize=256)
def _parse_address(arg: str) -> tuple[str | None, str | None]:
    """aiosmtpd's parse of a MAIL or RCPT address: (address, rest), (None, None) if it is no
    address (pure, so remembered: a lab sees the same few addresses again and again)."""
    if not arg:
        return "", ""
    try:
        if arg.lstrip().startswith("<"):
            angle, rest = get_angle_addr(arg)
            return angle.addr_spec, rest
        spec, rest = get_addr_spec(arg)
        return spec.addr_spec, rest
    except HeaderParseError:
        return None, None


class LabSMTP(SMTP):
    """aiosmtpd's SMTP with the lab's extra commands, reply codes and fault injection."""

    def __init__(
        self,
        handler: LabHandler,
        *,
        faults: Faults,
        implicit_tls: bool = False,
        submission: bool = False,
        lab_log: LabLog | None = None,
        listener: str = "smtp",
        **kwargs: Any,
    ) -> None:
        # aiosmtpd keeps these limits in one dict on the class, which every new connection clears
        # and every EHLO raises: each session gets its own (and smtp_EHLO fixes MAIL's).
        self.command_size_limits = defaultdict(lambda: COMMAND_LINE_LIMIT)
        super().__init__(handler, **kwargs)
        self.submission = submission
        self.lab_handler = handler
        self.faults = faults
        self.implicit_tls = implicit_tls
        self.lab_log, self.listener = lab_log, listener
        self.recorder: SessionRecorder | None = None  # this session in lab.log (log.py)
        for verb, method in list(self._smtp_methods.items()):
            self._smtp_methods[verb] = self._checking_arguments(
                verb, self._with_faults(verb, method)
            )

    def _checking_arguments(self, verb: str, method: Method) -> Method:
        async def run(arg: str | None) -> None:
            if self.recorder is not None:
                line = verb if arg is None else f"{verb} {arg}"
                self.recorder.command(mask_command("smtp", line))
            refusal = argument_refusal(verb, arg)
            if refusal is None:
                await method(arg)
            else:
                await self.push(refusal)

        return run

    def _with_faults(self, verb: str, method: Method) -> Method:
        async def run(arg: str | None) -> None:
            action = self.faults.take("smtp", verb)
            if action.delay_ms:
                await asyncio.sleep(action.delay_ms / 1000)
            if action.reply is not None:
                await self.push(action.reply)
            else:
                await method(arg)
            if action.drop and self.transport is not None:
                self.transport.close()

        return run

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's `_getaddr` (same answers) without the class it builds on every call, which
        was a quarter of the server's work per message."""
        address, rest = _parse_address(arg)
        limit = self.local_part_limit
        if address and limit and len(address.rpartition("@")[0]) > limit:
            return None, None
        return address, rest

    async def handle_exception(self, error: Exception) -> str:
        """The reply to an unexpected error: aiosmtpd's quoted the exception and kept whatever the
        command had changed; this one resets the transaction and says so."""
        if not isinstance(error, TLSSetupException):  # a failed handshake: aiosmtpd just closes
            log.error("SMTP command failed; the transaction was reset", exc_info=error)
        self._set_rset_state()  # type: ignore[no-untyped-call]
        return INTERNAL_ERROR

    def _timeout_cb(self) -> None:
        # As Postfix does: say why before closing an idle connection (RFC 5321 section 4.5.3.2).
        if self.transport is not None and not self.transport.is_closing():
            self._writer.write(b"421 4.4.2 %s Error: timeout exceeded\r\n" % self.hostname.encode())
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    async def push(self, status: str | bytes) -> None:
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        # Whatever a reply holds, it goes out: a push that raised would leave the state changed
        # and the client told otherwise.
        text = with_enhanced_code(text)
        self._record_reply(text)
        await super().push(text.encode("utf-8", "backslashreplace"))

    def _record_reply(self, text: str) -> None:
        """Log a reply line; one answering a line aiosmtpd refused before any command ran (an
        unknown verb, a line too long) is logged with what the reply says of that line."""
        recorder = self.recorder
        if recorder is None:
            return
        if recorder.pending is None and not recorder.continued and recorder.exchanges:
            unknown = _NOT_RECOGNIZED.search(text)
            recorder.command(unknown.group(1) if unknown else "(a line refused unread)")
        recorder.reply(text)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """aiosmtpd's, and the session's entry in lab.log (again after STARTTLS: now TLS)."""
        super().connection_made(transport)
        if self.recorder is not None:
            self.recorder.update(tls=True)
        elif self.lab_log is not None:
            peer = transport.get_extra_info("peername")
            self.recorder = self.lab_log.open("smtp", self.listener, peer, self.implicit_tls)

    def connection_lost(self, error: Exception | None) -> None:
        """aiosmtpd's, and the end of the session in lab.log."""
        if self.recorder is not None and self.recorder.session.ended is None:
            self.recorder.end(tls=self.implicit_tls or self._tls_protocol is not None)
        super().connection_lost(error)

    async def smtp_EHLO(self, hostname: str) -> None:
        await super().smtp_EHLO(hostname)
        self.command_size_limits["MAIL"] = MAIL_LINE_LIMIT  # aiosmtpd adds 36 at every EHLO

    async def smtp_STARTTLS(self, arg: str) -> None:
        # RFC 3207 section 4: no TLS inside TLS. aiosmtpd answered 220 and stacked a second TLS
        # layer on the first one, which tore the connection down.
        if self.implicit_tls or self._tls_protocol is not None:
            await self.push(TLS_ACTIVE)
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_DATA(self, arg: str) -> None:
        """DATA with data.py's reader in place of aiosmtpd's (see the comment there)."""
        if await self._data_refused(arg):
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = MailData(self.data_size_limit)
        await read_data(self._reader, data, self.line_length_limit)
        if self.recorder is not None:
            self.recorder.command(f". ({data.size} octets of mail data)")
        status = data.refusal or await self._deliver(data.content)
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push(status)

    async def _data_refused(self, arg: str) -> bool:
        """Refuse DATA as aiosmtpd does, before its 354; True if it was refused."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return True
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
        elif arg:
            await self.push("501 Syntax: DATA")
        else:
            return False
        return True

    async def _deliver(self, content: bytes) -> str:
        assert self.envelope is not None
        self.envelope.content = self.envelope.original_content = content
        return str(await self._call_handler_hook("DATA"))

    async def challenge_auth(
        self,
        challenge: str | bytes,
        encode_to_b64: bool = True,
        log_client_response: bool = False,
    ) -> _Missing | bytes:
        """aiosmtpd's, with a bounded read of the answer: its readline() raised on a line over
        the limit (a 500 quoting the exception) and left the rest to be read as commands.
        Answers are never logged, whatever ``log_client_response`` says: they hold secrets."""
        raw = challenge.encode() if isinstance(challenge, str) else challenge
        await self.push(b"334 " + (b64encode(raw) if encode_to_b64 else raw))
        answer = await read_line(self._reader, self.line_length_limit)
        if self.recorder is not None:
            self.recorder.command(mask_continuation(answer.data.decode("ascii", "replace")))
        refusal, decoded = _auth_answer(answer)
        if refusal is None:
            return decoded
        await self.push(refusal)
        return MISSING

    async def smtp_EXPN(self, arg: str | None) -> None:
        for line in self.lab_handler.expn(arg or ""):
            await self.push(line)

    async def smtp_TURN(self, arg: str | None) -> None:
        await self.push("502 5.5.1 TURN is obsolete and not supported (RFC 5321 appendix F.1)")

    async def smtp_HELP(self, arg: str | None) -> None:
        topic = (arg or "").strip().upper()
        if topic in HELP_TEXT:
            await self.push(f"214 2.0.0 {HELP_TEXT[topic]}")
        elif topic:
            await self.push(f'504 5.3.0 HELP topic "{topic}" unknown; try HELP alone')
        else:
            await self.push("214-2.0.0 This is the mailmagic lab server. Commands:")
            await self.push("214-2.0.0 " + " ".join(HELP_TEXT))
            await self.push("214-2.0.0 For more information, HELP <command>")
            await self.push("214 2.0.0 End of HELP info")

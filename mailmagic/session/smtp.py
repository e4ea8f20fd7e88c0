"""A live SMTP session (RFC 5321) over session/base.py: raw lines as typed, DATA text passed
through, an automatic TLS upgrade after a 220 to STARTTLS (RFC 3207), and helpers beside the raw
commands: AUTH PLAIN / LOGIN (RFC 4954) and sending a proper message (From, To, Cc, Subject, Date
and Message-ID headers; dot-stuffing by protocol/smtp.py). A send (send_message, send_many) runs
whole under the session's guard: Ctrl-C anywhere in it, between commands as much as inside one,
leaves the session broken, never open halfway through a mail transaction."""

from __future__ import annotations

import base64
import email.utils
import time
from collections.abc import Iterable, Iterator, Sequence
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

from mailmagic.protocol.smtp import Reply, SmtpConnection, SmtpState
from mailmagic.session.base import Session, SessionError


class SmtpSession(Session[SmtpConnection, Reply]):
    """One SMTP session; ``command("MAIL FROM:<a@b.c>")`` returns the server's Reply."""

    protocol = "SMTP"
    tls_verbs = frozenset({"STARTTLS"})

    def _new_connection(self) -> SmtpConnection:
        return SmtpConnection()

    def _is_positive(self, reply: Reply) -> bool:
        return reply.code == 220

    def _starttls_commands(self) -> list[str]:
        return [f"EHLO {self.settings.local_name}", "STARTTLS"]

    def _closes(self, event: object) -> bool:
        return self.conn.state is SmtpState.CLOSED

    def login(self, user: str, password: str, mechanism: str = "PLAIN") -> Reply:
        """AUTH PLAIN (one line, RFC 4616) or AUTH LOGIN (two challenges); secrets masked."""
        mechanism = mechanism.upper()
        if mechanism == "PLAIN":
            token = _b64(f"\0{user}\0{password}")
            return self._final(self.command(f"AUTH PLAIN {token}"))
        if mechanism == "LOGIN":
            reply = self._final(self.command("AUTH LOGIN"))
            for answer in (user, password):
                if reply.code != 334:
                    return reply
                reply = self._final(self.command(_b64(answer)))
            return reply
        raise SessionError(f"AUTH {mechanism} is not supported here; use PLAIN or LOGIN")

    def send_message(
        self,
        sender: str,
        recipients: Sequence[str],
        message: EmailMessage | bytes,
    ) -> list[tuple[str, Reply]]:
        """MAIL, one RCPT per recipient, DATA and the dot-stuffed message; stops at a refusal.

        Returns (command, reply) pairs in order; the last says whether the message was accepted.
        """
        with self._guard("sending a message"):
            return self._transaction(sender, recipients, message)

    def _transaction(
        self, sender: str, recipients: Sequence[str], message: EmailMessage | bytes
    ) -> list[tuple[str, Reply]]:
        done: list[tuple[str, Reply]] = []

        def step(line: str) -> Reply:
            done.append((line, self._final(self.command(line))))
            return done[-1][1]

        if not step(f"MAIL FROM:<{sender}>").is_positive:
            return done
        accepted = [step(f"RCPT TO:<{r}>").is_positive for r in recipients]
        if not any(accepted):
            step("RSET")
        elif step("DATA").code == 354:
            data = message if isinstance(message, bytes) else message.as_bytes(policy=SMTP_POLICY)
            done.append(
                (f"(the message, {len(data)} octets, dot-stuffed) .", self._send_text(data))
            )
        return done

    def send_many(
        self,
        items: Iterable[tuple[str, Sequence[str], bytes]],
        pipelined: bool | None = None,
    ) -> list[Reply]:
        """Send each (sender, recipients, message); return each message's final reply.

        With PIPELINING (RFC 2920; advertised in the last EHLO unless ``pipelined`` says
        otherwise) MAIL, every RCPT and DATA go out in one write, DATA last as section 3.1 asks,
        and their replies are read together. Transcript entries keep first lines only.
        """
        use = "PIPELINING" in self.conn.extensions if pipelined is None else pipelined
        with self._guard("sending messages"):
            return [self._send_one(*item, window=None if use else 1) for item in items]

    def _send_one(
        self, sender: str, recipients: Sequence[str], data: bytes, window: int | None
    ) -> Reply:
        """One message of send_many: MAIL, RCPT..., DATA in one write (``window`` None), the
        text after a 354, or RSET after a refusal; returns the final reply."""
        lines = [f"MAIL FROM:<{sender}>", *(f"RCPT TO:<{r}>" for r in recipients), "DATA"]
        with self.pipelined(lines, window or len(lines), keep=False) as pipeline:
            replies = [self._final(reply) for _, reply in pipeline]
        if replies[-1].code == 354:
            return self._send_text(data, keep=False)
        if replies[0].is_positive:
            self._final(self.command("RSET"))
        return replies[-1]

    def _send_text(self, message: bytes, keep: bool = True) -> Reply:
        transport = self._require_open()
        with self._guard("sending"):
            data = self.conn.send_message(message)  # LocalProtocolError: nothing sent or changed
            shown = data if keep else f"[message text: {len(data)} octets]\r\n".encode()
            self.transcript.sent_text(shown, self.tls is not None)
            started = time.monotonic()
            self._send(transport, data)
            return self._read_reply(started, self.settings.timeout, keep)

    @staticmethod
    def _final(reply: Reply | None) -> Reply:
        if reply is None:
            raise SessionError("the server gave no reply where one was due")
        return reply


def build_message(
    sender: str,
    to: Sequence[str],
    subject: str,
    body: str,
    cc: Sequence[str] = (),
    domain: str | None = None,
) -> EmailMessage:
    """A well-formed message (RFC 5322): From, To, Cc, Subject, Date, Message-ID, text body."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(email.utils.localtime())
    message["Message-ID"] = email.utils.make_msgid(domain=domain or sender.rpartition("@")[2])
    message.set_content(body)
    return message


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def generated(
    sender: str, recipients: Sequence[str], count: int, size: int
) -> Iterator[tuple[str, Sequence[str], bytes]]:
    """``count`` numbered test messages of about ``size`` octets, for load tests."""
    filler = ("x" * 76 + "\r\n") * max(0, size // 78)
    for n in range(1, count + 1):
        head = f"From: {sender}\r\nTo: {', '.join(recipients)}\r\nSubject: load test {n}\r\n"
        yield sender, recipients, f"{head}\r\nmessage {n}\r\n{filler}".encode()

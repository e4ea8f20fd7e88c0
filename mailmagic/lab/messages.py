"""What a lab user received, as a teacher's check reads it: `LabMessage` (an
`email.message.EmailMessage` that also knows its POP3 UID, its size as POP3 sends it and its
mailbox), read from the Maildir store; `Filters`, the case-insensitive substring tests of
`lab.mailbox(user, sender=..., subject=...)`; and the failure messages of `lab.expect_delivered`
and `lab.expect_no_mail`, written for the student: what was looked for, what the mailbox holds,
what the server's log saw for that address, and what to check next."""

from __future__ import annotations

import difflib
import email.policy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser

from mailmagic.lab.store import StoredMessage

HINT = (
    "check the RCPT TO address (it got 250?), and that DATA ended with a '.' alone on a line "
    "and got 250"
)
SHOWN = 3
"""Messages a failure lists (the closest to what was looked for)."""


class LabMessage(EmailMessage):
    """A message in a lab mailbox: an EmailMessage with ``uid`` (POP3 UIDL), ``size`` (octets, as
    POP3 LIST gives it) and ``mailbox`` (the user whose Maildir holds it)."""

    uid: str = ""
    size: int = 0
    mailbox: str = ""

    def text(self) -> str:
        """The decoded text of every text/* part that is not an attachment, joined."""
        parts = []
        for part in self.walk():
            if part.get_content_maintype() == "text" and not part.is_attachment():
                content = part.get_content() if isinstance(part, EmailMessage) else ""
                parts.append(str(content))
        return "\n".join(parts)

    def __eq__(self, other: object) -> bool:
        """The same stored message: the same mailbox and UID."""
        if not isinstance(other, LabMessage):
            return NotImplemented
        return (self.mailbox, self.uid) == (other.mailbox, other.uid)

    def __hash__(self) -> int:
        return hash((self.mailbox, self.uid))

    def __repr__(self) -> str:
        return f"<LabMessage {self.mailbox} uid={self.uid} {self.summary()}>"

    def summary(self) -> str:
        """``From alice@lab.test, Subject 'Report' (uid ..., 123 octets)``."""
        sender, subject = self["From"] or "(none)", str(self["Subject"] or "")
        return f"From {sender}, Subject {subject!r} ({self.size} octets)"


def read_message(stored: StoredMessage, mailbox: str) -> LabMessage:
    """Parse one stored message (RFC 5322, MIME decoded by the ``email`` package)."""
    parser = BytesParser(_class=LabMessage, policy=email.policy.default)
    with open(stored.path, "rb") as handle:
        message = parser.parse(handle)
    assert isinstance(message, LabMessage)
    message.uid, message.size, message.mailbox = stored.uid, stored.size, mailbox
    return message


@dataclass(frozen=True)
class Filters:
    """Case-insensitive substring tests; a field left None matches every message."""

    sender: str | None = None  # From or Return-Path (the envelope sender)
    recipient: str | None = None  # To, Cc or the Received "for <...>"
    subject: str | None = None
    header: tuple[str, str] | None = None  # (name, value)
    text: str | None = None  # the decoded body text

    def matches(self, message: LabMessage) -> bool:
        """True when every given test holds for ``message``."""
        tests: list[tuple[str | None, Callable[[], str]]] = [
            (self.sender, lambda: _headers(message, "From", "Return-Path")),
            (self.recipient, lambda: _headers(message, "To", "Cc", "Received")),
            (self.subject, lambda: _headers(message, "Subject")),
            (self.header[1] if self.header else None, lambda: self._named(message)),
            (self.text, message.text),
        ]
        return all(want is None or want.lower() in got().lower() for want, got in tests)

    def _named(self, message: LabMessage) -> str:
        return _headers(message, self.header[0]) if self.header else ""

    def describe(self) -> str:
        """``subject containing 'Report', from containing 'alice'``, or "any message"."""
        said = [
            f"{name} containing {value!r}"
            for name, value in (
                ("from", self.sender),
                ("to", self.recipient),
                ("subject", self.subject),
                (f"header {self.header[0]}" if self.header else "", self.header and self.header[1]),
                ("text", self.text),
            )
            if value is not None
        ]
        return ", ".join(said) or "any message"


def _headers(message: LabMessage, *names: str) -> str:
    return "\n".join(str(v) for name in names for v in message.get_all(name, []))


def closest(messages: Sequence[LabMessage], filters: Filters) -> list[LabMessage]:
    """The messages most like what was looked for (by subject, then sender), best first."""

    def score(message: LabMessage) -> float:
        pairs = ((filters.subject, "Subject"), (filters.sender, "From"))
        return sum(
            difflib.SequenceMatcher(None, want.lower(), str(message[name] or "").lower()).ratio()
            for want, name in pairs
            if want
        )

    return sorted(messages, key=score, reverse=True)[:SHOWN]


def not_delivered(
    address: str, filters: Filters, held: Sequence[LabMessage], matched: int, count: int | None
) -> str:
    """The AssertionError text of ``expect_delivered``: looked for, found, hint."""
    wanted = f"exactly {count}" if count is not None else "a"
    lines = [
        f"expected {wanted} message{'s' if count not in (None, 1) else ''} for {address} "
        f"({filters.describe()}), found {matched} matching",
        f"the mailbox holds {len(held)} message{'' if len(held) == 1 else 's'}"
        + (", the closest:" if held else ""),
    ]
    lines += [f"  {n}. {m.summary()}" for n, m in enumerate(closest(held, filters), 1)]
    return "\n".join([*lines, f"hint: {HINT}"])


def unexpected_mail(address: str, held: Sequence[LabMessage]) -> str:
    """The AssertionError text of ``expect_no_mail``: what is there."""
    lines = [f"expected no mail for {address}, but the mailbox holds {len(held)}:"]
    lines += [f"  {n}. {m.summary()}" for n, m in enumerate(held[: SHOWN * 3], 1)]
    return "\n".join(lines)

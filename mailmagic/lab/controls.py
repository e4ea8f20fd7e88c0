"""The teacher's side of a running lab server, mixed into `LabServer`: read what a user received
(`mailbox`, `outbox`, `expect_delivered`, `expect_no_mail`) and change the lab without a restart,
which would change its ports and strand open sessions (`add_user`, `remove_user`, `empty`, `seed`,
`hide`, `show`, `vrfy_disclosure`). Every name given may be ``bob`` or ``bob@lab.test``; a name
that is neither a user nor a list raises `LabError` listing the known users.

Open sessions keep working through every change: an SMTP session sees a new or removed user at its
next RCPT; a POP3 session already logged in keeps its maildrop listing, so a message emptied
under it answers -ERR when read; `remove_user` deletes the user's Maildir unless
``keep_mail=True`` (then adding the user again brings the mail back).
"""

from __future__ import annotations

import email.policy
import shutil
from collections.abc import Iterable
from email.message import EmailMessage, Message

from mailmagic.lab.config import LabConfig
from mailmagic.lab.directory import Directory, LabError
from mailmagic.lab.log import LabLog
from mailmagic.lab.messages import Filters, LabMessage, not_delivered, read_message, unexpected_mail
from mailmagic.lab.store import OUTBOX, MailStore

Seed = EmailMessage | Message | bytes | str


class LabControls:
    """Checks and controls over ``store``, ``directory`` and ``log`` (given by LabServer)."""

    config: LabConfig

    @property
    def store(self) -> MailStore:
        raise NotImplementedError

    @property
    def directory(self) -> Directory:
        raise NotImplementedError

    @property
    def log(self) -> LabLog:
        raise NotImplementedError

    # --- what users received ---------------------------------------------------------------

    def mailbox(
        self,
        user: str,
        *,
        sender: str | None = None,
        recipient: str | None = None,
        subject: str | None = None,
        header: tuple[str, str] | None = None,
        text: str | None = None,
    ) -> list[LabMessage]:
        """The messages of a user (for a list: of all its members), oldest first, parsed; each
        filter keeps the messages where it is a case-insensitive substring (``sender``: From or
        Return-Path; ``recipient``: To, Cc or Received; ``header``: a (name, value) pair;
        ``text``: the decoded body text). LabError for a name that is not a user or list."""
        filters = Filters(sender, recipient, subject, header, text)
        return [m for m in self._messages(user) if filters.matches(m)]

    def outbox(
        self,
        *,
        sender: str | None = None,
        recipient: str | None = None,
        subject: str | None = None,
        header: tuple[str, str] | None = None,
        text: str | None = None,
    ) -> list[LabMessage]:
        """Mail an authenticated client sent to other domains, kept in the store's outbox
        (nothing leaves the lab), filtered as :meth:`mailbox` filters."""
        filters = Filters(sender, recipient, subject, header, text)
        found = (read_message(stored, OUTBOX) for stored in self.store.messages(OUTBOX))
        return [m for m in found if filters.matches(m)]

    def _messages(self, user: str) -> list[LabMessage]:
        return [
            read_message(stored, box)
            for box in self.directory.mailboxes(user)
            for stored in self.store.messages(box)
        ]

    def expect_delivered(
        self,
        *,
        to: str,
        subject: str | None = None,
        sender: str | None = None,
        text: str | None = None,
        count: int | None = None,
    ) -> LabMessage | list[LabMessage]:
        """Assert that ``to`` received a message like this (at least one, or exactly ``count``);
        for a list, every member. Returns the newest match (a list of the matches when ``count``
        is given or ``to`` is a list). AssertionError, written for the student, otherwise."""
        filters = Filters(sender=sender, subject=subject, text=text)
        found: list[LabMessage] = []
        for box in self.directory.mailboxes(to):
            held = self.mailbox(box)
            matched = [m for m in held if filters.matches(m)]
            if (count is None and not matched) or (count is not None and len(matched) != count):
                address = self.config.address(box)
                message = not_delivered(address, filters, held, len(matched), count)
                raise AssertionError(self._with_log(message, address))
            found += matched
        single = count is None and len(self.directory.mailboxes(to)) == 1
        return found[-1] if single else found

    def expect_no_mail(self, user: str) -> None:
        """Assert that ``user`` (each member, for a list) holds no message; AssertionError
        listing what is there otherwise."""
        for box in self.directory.mailboxes(user):
            held = self.mailbox(box)
            if held:
                raise AssertionError(unexpected_mail(self.config.address(box), held))

    def _with_log(self, message: str, address: str) -> str:
        """``message`` and what the server's log saw of RCPT TO for ``address``."""
        seen = [
            f"  RCPT {e.command.split(' ', 1)[-1]} -> {e.reply}"
            for s in self.log.sessions("smtp")
            for e in s.exchanges
            if e.verb == "RCPT" and f"{address.split('@')[0].lower()}@" in e.command.lower()
        ]
        if not seen:
            return f"{message}\nthe server's log has no RCPT TO naming {address}"
        return "\n".join([message, "the server's log saw:", *seen[-3:]])

    # --- changing the lab -------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> str:
        """Add a user (login and address) now; its Maildir is made. Returns its bare name."""
        added = self.directory.add_user(name, password)
        self.store.create(added)
        return added

    def remove_user(self, name: str, *, keep_mail: bool = False) -> None:
        """Remove a user's login and address (and its place in every list); its Maildir is
        deleted unless ``keep_mail``. Sessions already logged in as it keep going."""
        removed = self.directory.remove_user(name)
        if not keep_mail:
            shutil.rmtree(self.store.maildir(removed), ignore_errors=True)

    def empty(self, user: str) -> int:
        """Delete every message of a user (each member, for a list); returns how many."""
        doomed = [m for box in self.directory.mailboxes(user) for m in self.store.messages(box)]
        self.store.remove(doomed)
        return len(doomed)

    def seed(self, user: str, messages: Iterable[Seed] | Seed) -> list[str]:
        """Deliver messages (EmailMessage, bytes or str) to a user or list, durably as SMTP
        delivers; returns the new UIDs."""
        boxes = list(self.directory.mailboxes(user))
        many = [messages] if isinstance(messages, (bytes, str, Message)) else list(messages)
        return [uid for m in many for uid in self.store.deliver(boxes, _as_bytes(m))]

    def hide(self, *users: str) -> None:
        """Leave these users and their passwords out of the ``%maillab`` display."""
        self.directory.hide(*users)

    def show(self, *users: str) -> None:
        """Show hidden users again (every one when none is named)."""
        self.directory.show(*users)

    @property
    def vrfy_disclosure(self) -> str:
        """How VRFY answers for a known user: ``"250"`` (it exists, the default) or ``"252"``
        (cannot VRFY, for every name; RFC 5321 section 3.5.3). Set it to change it now."""
        return self.directory.vrfy

    @vrfy_disclosure.setter
    def vrfy_disclosure(self, value: str) -> None:
        self.directory.vrfy = str(value)


def _as_bytes(message: Seed) -> bytes:
    if isinstance(message, bytes):
        return message
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, EmailMessage):
        return message.as_bytes(policy=email.policy.default)
    if isinstance(message, Message):
        return message.as_bytes()
    raise LabError(f"seed takes EmailMessage, bytes or str, not {type(message).__name__}")

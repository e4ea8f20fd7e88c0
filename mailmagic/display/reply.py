# What this module does: the view of one exchange, a command and the server's reply, as a magic
# returns it. It is also the result object users keep (`r = %smtp NOOP`, `r.code`): attribute
# access falls through to the reply, and POP3 drop listings are read into `.stat` / `.entries`.
# Output: a concise text/plain, an escaped, script-free text/html (display/html.py) and, in a
# kernel, a widget: the reply badge coloured by class, its meaning (basic code, enhanced code part
# by part, POP3 response code), for EHLO and CAPA one row per extension with what it means; below
# it, for a session, the session panel (after open), the mailbox table (after STAT, LIST, UIDL) or
# the message viewer (after RETR, TOP). A reply from a session that does not check certificates
# (--insecure) says so in every form (display/trust.py). The view is a snapshot: what is shown
# under the reply is taken when the view is built, and the widget shows exactly the text/html.
# Within the widget budget, a reply with nothing to click is one HTML widget; the mailbox table
# takes the reply into its own Output, and the message viewer into its HTML widget, rather than
# adding a box around them.
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import ipywidgets as widgets

from mailmagic.display import html as h
from mailmagic.display.bundle import mimebundle
from mailmagic.display.mailbox import MailboxView, Reconnect
from mailmagic.display.message import MessageView
from mailmagic.display.session import SessionView
from mailmagic.display.trust import insecure_html, insecure_text, unverified
from mailmagic.protocol.codes import explain_capa, explain_ehlo_keyword
from mailmagic.protocol.listing import (
    MaildropStat,
    ScanEntry,
    UidEntry,
    parse_scan,
    parse_stat,
    parse_uidl,
)
from mailmagic.protocol.pop3 import Continuation, Pop3Reply
from mailmagic.protocol.smtp import Reply
from mailmagic.session.base import Session

AnyReply = Reply | Pop3Reply | Continuation


def status_of(reply: AnyReply) -> str:
    """The badge text: the SMTP code, +OK, -ERR, or + for a SASL continuation."""
    if isinstance(reply, Reply):
        return str(reply.code)
    if isinstance(reply, Continuation):
        return "+"
    return "+OK" if reply.ok else "-ERR"


def is_failure(reply: AnyReply | None) -> bool:
    """4xx/5xx or -ERR: where a cell stops unless told to go on."""
    if isinstance(reply, Reply):
        return reply.code >= 400
    return isinstance(reply, Pop3Reply) and not reply.ok


def meaning(reply: AnyReply) -> str:
    """What the reply means, in words, with RFC references."""
    if isinstance(reply, Continuation):
        decoded = reply.decoded
        shown = f" (decoded: {decoded!r})" if decoded else ""
        return f"SASL challenge{shown}: send the next base64 line, or * to cancel (RFC 5034)."
    return reply.explain()


def extension_rows(reply: AnyReply, command: str) -> list[tuple[str, str]]:
    """(extension, meaning) rows for an EHLO or CAPA reply; [] otherwise."""
    verb = command.split(" ", 1)[0].upper()
    if isinstance(reply, Reply) and verb == "EHLO" and reply.code == 250:
        return [(line, explain_ehlo_keyword(line)) for line in reply.lines[1:]]
    if isinstance(reply, Pop3Reply) and verb == "CAPA" and reply.ok:
        return [(line, explain_capa(line)) for line in reply.lines]
    return []


def server_text(reply: AnyReply) -> str:
    """The reply as the server sent it (decoded; CRLF shown as new lines)."""
    return reply.raw.decode("utf-8", "replace").rstrip("\r\n").replace("\r\n", "\n")


@dataclass(frozen=True)
class ReplyView:
    """A command as sent (secrets masked) and its reply; None when no reply was due.

    ``insecure``: the session does not check certificates (always set from ``live`` when given).
    ``reconnect``: what the Reconnect button of a mailbox table under the reply calls.
    """

    reply: AnyReply | None
    command: str
    session: str
    protocol: str
    warning: str | None = None
    live: Session[Any, Any] | None = field(default=None, compare=False, repr=False)
    panel: bool = False  # show the session panel under the reply (after open, reconnect)
    displaylimit: int = 50
    insecure: bool = False
    reconnect: Reconnect | None = field(default=None, compare=False, repr=False)
    below: Any = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.live is not None and unverified(self.live):
            object.__setattr__(self, "insecure", True)
        object.__setattr__(self, "below", self._below_now())

    @property
    def interactive(self) -> bool:
        """True when the view under the reply has something to click (mailbox, message)."""
        return isinstance(self.below, MailboxView | MessageView)

    def __getattr__(self, name: str) -> Any:
        reply = self.__dict__.get("reply")
        if name.startswith("_") or reply is None:
            raise AttributeError(name)
        return getattr(reply, name)

    @property
    def ok(self) -> bool:
        """True unless the reply is a 4xx/5xx or -ERR."""
        return not is_failure(self.reply)

    @property
    def stat(self) -> MaildropStat | None:
        """STAT's count and octets (POP3), else None."""
        return parse_stat(self.reply) if isinstance(self.reply, Pop3Reply) else None

    @property
    def entries(self) -> list[ScanEntry] | list[UidEntry]:
        """LIST or UIDL entries (POP3); [] for other replies."""
        if not isinstance(self.reply, Pop3Reply):
            return []
        verb = self.command.split(" ", 1)[0].upper()
        return parse_uidl(self.reply) if verb == "UIDL" else parse_scan(self.reply)

    def as_text(self) -> str:
        """The concise text/plain form."""
        out = [f"C: {self.command}", *insecure_text(self.insecure)]
        if self.warning:
            out.append(f"   note: {self.warning}")
        if self.reply is None:
            return "\n".join(out)
        out += [f"S: {line}" for line in server_text(self.reply).split("\n")]
        out.append(f"   {meaning(self.reply)}")
        out += [f"   {what}" for _, what in extension_rows(self.reply, self.command)]
        return "\n".join(out)

    def as_html(self) -> str:
        """The self-contained text/html form."""
        extra = self.below
        if isinstance(extra, MailboxView):
            return extra.as_html()  # the reply is its head
        return h.box(*self._parts_html(extra)) + (extra.as_html() if extra is not None else "")

    def _parts_html(self, extra: Any) -> list[str]:
        parts = [self._head_html()]
        if self.reply is not None:
            # A message shown below needs only the status line here.
            shown = server_text(self.reply)
            shown = shown.split("\n", 1)[0] if isinstance(extra, MessageView) else shown
            parts += [self._meaning_html(), h.pre(shown), self._rows_html()]
        return parts

    def _meaning_html(self) -> str:
        assert self.reply is not None
        return h.line(h.badge(status_of(self.reply)), " ", h.esc(meaning(self.reply)))

    def _below_now(self) -> Any:
        """The view shown under the reply, if any: message, mailbox or session panel, as they
        are now (each view is a snapshot)."""
        verb = self.command.split(" ", 1)[0].upper()
        reply = self.reply
        if isinstance(reply, Pop3Reply) and reply.ok and verb in ("RETR", "TOP"):
            return MessageView(reply.body, title=self.command)
        if self.live is None:
            return None
        if self.panel:
            return SessionView(self.live)
        if verb in ("STAT", "LIST", "UIDL") and isinstance(reply, Pop3Reply) and reply.ok:
            head = h.box(*self._parts_html(None))
            live: Any = self.live  # a Pop3Session: STAT, LIST and UIDL are POP3's
            return MailboxView(live, self.displaylimit, head, self.reconnect)
        return None

    def widget(self) -> widgets.Widget:
        """One HTML widget of the text/html, unless the view under it has something to click:
        then the mailbox table (with the reply in it), or the reply above the message viewer."""
        extra = self.below
        if isinstance(extra, MailboxView):
            return extra.widget()
        if not isinstance(extra, MessageView):
            return widgets.HTML(self.as_html())
        return cast(widgets.Widget, extra.widget(head=h.box(*self._parts_html(extra))))

    def _head_html(self) -> str:
        head = h.line(h.muted(f"{self.protocol} {self.session} \u2190 "), h.esc(self.command))
        head += insecure_html(self.insecure)
        return head + (h.line(h.muted(f"note: {self.warning}")) if self.warning else "")

    def _rows_html(self) -> str:
        rows = extension_rows(self.reply, self.command) if self.reply is not None else []
        return h.table(("extension", "meaning"), rows) if rows else ""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return mimebundle(self.as_text(), self.as_html(), self.widget)

    def __repr__(self) -> str:
        return self.as_text()

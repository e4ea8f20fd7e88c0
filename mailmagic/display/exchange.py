"""The view of one exchange on its own, a command and the server's reply, with no session behind it:
what the mailbox table's buttons show (display/mailbox.py), and the base of the reply view a magic
returns (display/reply.py, which adds the session panel and the mailbox table). The helpers that
tell what a reply means live here too, so both views read them from one module and neither imports
the other's importer. Output: a concise text/plain, an escaped, script-free text/html
(display/html.py) and, in a kernel, a widget: the reply badge coloured by class, its meaning (basic
code, enhanced code part by part, POP3 response code), for EHLO and CAPA one row per extension with
what it means, and after RETR or TOP the message viewer (display/message.py) with the reply's status
line above it, in its HTML widget. Attribute access and `dir()` fall through to the reply
(display/base.py); POP3 drop listings are read into `.stat` / `.entries`. A reply from a session
that does not check certificates (--insecure) says so in every form (display/trust.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import ipywidgets as widgets

from mailmagic.display import html as h
from mailmagic.display.base import ValueView, View
from mailmagic.display.live import html_widget
from mailmagic.display.message import MessageView
from mailmagic.display.trust import insecure_html, insecure_text
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

AnyReply = Reply | Pop3Reply | Continuation


def status_of(reply: AnyReply) -> str:
    """The badge text, the reply's ``code``: the SMTP code, +OK, -ERR, or + for a SASL
    continuation."""
    return str(reply.code)


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


@dataclass(frozen=True, repr=False)
class ExchangeView(ValueView):
    """A command as sent (secrets masked) and its reply; None when no reply was due.
    ``insecure``: the session does not check certificates. ``below``: the view shown under the
    reply, taken when the view is built (here the message of a RETR or TOP)."""

    value_field = "reply"

    reply: AnyReply | None
    command: str
    session: str
    protocol: str
    warning: str | None = None
    insecure: bool = field(default=False, kw_only=True)  # keyword: ReplyView's fields follow
    below: View | None = field(init=False, default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "below", self._below_now())

    @property
    def verb(self) -> str:
        """The command's first word, upper case."""
        return self.command.split(" ", 1)[0].upper()

    def _below_now(self) -> View | None:
        """The message of a RETR or TOP reply; None for any other."""
        reply = self.reply
        if isinstance(reply, Pop3Reply) and reply.ok and self.verb in ("RETR", "TOP"):
            return MessageView(reply.body, title=self.command)
        return None

    @property
    def interactive(self) -> bool:
        """True when the view under the reply has something to click (mailbox, message)."""
        return self.below is not None and self.below.interactive

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
        return parse_uidl(self.reply) if self.verb == "UIDL" else parse_scan(self.reply)

    def as_text(self) -> str:
        """The concise text/plain form."""
        out = [f"C: {self.command}", *insecure_text(self.insecure)]
        if self.warning:
            out.append(f"   note: {self.warning}")
        if self.reply is None:
            return "\n".join(out)
        out += [f"S: {line}" for line in server_text(self.reply).split("\n")]
        out.append(f"   {meaning(self.reply)}")
        out += [f"   {what}" for _, what in self._rows]
        return "\n".join(out)

    def as_html(self) -> str:
        """The self-contained text/html form: the reply, then the view under it."""
        extra = self.below
        return self._reply_html + (extra.as_html() if extra is not None else "")

    @cached_property
    def _reply_html(self) -> str:
        """The reply's own HTML in its box, made once: a bundle wants it for text/html and again
        for the widget, and it is read only from fields a frozen view never changes (read it
        after ``__post_init__``, once ``below`` is set)."""
        return h.box(*self.parts_html())

    @cached_property
    def _rows(self) -> list[tuple[str, str]]:
        """The extension rows of an EHLO or CAPA reply, made once (text and HTML both show them)."""
        return extension_rows(self.reply, self.command) if self.reply is not None else []

    def parts_html(self) -> list[str]:
        """The reply's own HTML pieces (a message shown below needs only the status line)."""
        parts = [self._head_html()]
        if self.reply is not None:
            shown = server_text(self.reply)
            shown = shown.split("\n", 1)[0] if isinstance(self.below, MessageView) else shown
            parts += [self._meaning_html(), h.pre(shown), self._rows_html()]
        return parts

    def widget(self) -> widgets.Widget:
        """One HTML widget of the text/html, or the reply above the message viewer."""
        if not isinstance(self.below, MessageView):
            return html_widget(self.as_html())
        return self.below.widget(head=self._reply_html)

    def _meaning_html(self) -> str:
        assert self.reply is not None
        return h.line(h.badge(status_of(self.reply)), " ", h.esc(meaning(self.reply)))

    def _head_html(self) -> str:
        head = h.line(h.muted(f"{self.protocol} {self.session} \u2190 "), h.esc(self.command))
        head += insecure_html(self.insecure)
        return head + (h.line(h.muted(f"note: {self.warning}")) if self.warning else "")

    def _rows_html(self) -> str:
        return h.table(("extension", "meaning"), self._rows) if self._rows else ""

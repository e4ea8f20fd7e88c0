# What this module does: the view of one exchange, a command and the server's reply, as a magic
# returns it. It is also the result object users keep (`r = %smtp NOOP`, `r.code`): attribute
# access falls through to the reply, and POP3 drop listings are read into `.stat` / `.entries`.
# Output: a concise text/plain and an escaped, script-free text/html (display/html.py). The reply
# badge, its meaning (basic code, enhanced code part by part, POP3 response code) and, for EHLO and
# CAPA, one row per extension with what it means.
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailmagic.display import html as h
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
    """A command as sent (secrets masked) and its reply; None when no reply was due."""

    reply: AnyReply | None
    command: str
    session: str
    protocol: str
    warning: str | None = None

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
        out = [f"C: {self.command}"]
        if self.warning:
            out.append(f"   note: {self.warning}")
        if self.reply is None:
            return "\n".join(out)
        out += [f"S: {line}" for line in server_text(self.reply).split("\n")]
        out.append(f"   {meaning(self.reply)}")
        out += [f"   {ext}: {what}" for ext, what in extension_rows(self.reply, self.command)]
        return "\n".join(out)

    def as_html(self) -> str:
        """The self-contained text/html form."""
        parts = [h.line(h.muted(f"{self.protocol} {self.session} \u2190 "), h.esc(self.command))]
        if self.warning:
            parts.append(h.line(h.muted(f"note: {self.warning}")))
        if self.reply is not None:
            parts.append(h.line(h.badge(status_of(self.reply)), " ", h.esc(meaning(self.reply))))
            parts.append(h.pre(server_text(self.reply)))
            rows = extension_rows(self.reply, self.command)
            if rows:
                parts.append(h.table(("extension", "meaning"), rows))
        return h.box(*parts)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.as_text(), "text/html": self.as_html()}

    def __repr__(self) -> str:
        return self.as_text()

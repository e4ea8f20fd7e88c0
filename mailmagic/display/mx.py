"""Views of where mail for a domain goes (`%smtp open --mx DOMAIN`): MxView is the table of its MX
hosts in the order they were tried (preference, host, addresses, and what each address did:
answered, or why it failed; not tried once one had answered), headed by the domain, who was asked,
and whether the domain is its own implicit MX (RFC 5321 5.1); MxReplyView is the result of the open
itself, the usual reply view (greeting, then the session panel) with that table above it, in one
text/plain, one text/html and one HTML widget. Host names come from DNS and are escaped like any
other server text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from mailmagic.display import html as h
from mailmagic.display.base import View
from mailmagic.display.reply import ReplyView
from mailmagic.session.mx import Attempt, MxHost, MxLookup

HEADERS = ("preference", "host", "addresses", "result")
ANSWERED = "answered"
NOT_TRIED = "not tried (an earlier host answered)"


def _result(host: MxHost, attempts: Sequence[Attempt]) -> str:
    """What happened at ``host``: each address tried and how, or why it was not."""
    mine = [a for a in attempts if a.host == host.host]
    if not host.addresses:
        return host.problem
    if not mine:
        return NOT_TRIED if any(a.answered for a in attempts) else "not tried"
    return "; ".join(f"{a.address}: {a.error or ANSWERED}" for a in mine)


@dataclass(frozen=True, repr=False)
class MxView(View):
    """The MX hosts of a domain, by preference, with what each did when tried."""

    lookup: MxLookup
    attempts: tuple[Attempt, ...] = ()

    @property
    def title(self) -> str:
        """Whose hosts these are, who said so, and whether they are an implicit MX."""
        found = self.lookup
        asked = ", ".join(found.nameservers) or "the system's resolver"
        if found.implicit:
            return (
                f"{found.domain} has no MX records: the domain itself takes its mail "
                f"(implicit MX, RFC 5321 5.1; DNS asked: {asked})"
            )
        return f"MX of {found.domain}, lowest preference first (RFC 5321 5.1; DNS asked: {asked})"

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(preference, host, addresses, result) per host, in the order they were tried."""
        return [
            (str(x.preference), x.host, " ".join(x.addresses) or "-", _result(x, self.attempts))
            for x in self.lookup.hosts
        ]

    def as_text(self) -> str:
        """The title, then one aligned line per host."""
        rows = [HEADERS, *self.rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join([self.title, *(f"  {line.rstrip()}" for line in lines)])

    def as_html(self) -> str:
        """The title and a table, every name escaped."""
        return h.box(h.line(h.muted(self.title)), h.table(HEADERS, self.rows()))


@dataclass(frozen=True, repr=False)
class MxReplyView(ReplyView):
    """The greeting of the MX host that answered (a reply view: ``r.code`` works) with the MX
    table (``mx``) above it; ``r.mx.lookup.hosts`` are the hosts."""

    mx: MxView | None = field(default=None, compare=False, repr=False)

    @classmethod
    def around(cls, view: ReplyView, mx: MxView) -> MxReplyView:
        """``view`` (the open's result) with ``mx`` above it."""
        kept = {f.name: getattr(view, f.name) for f in fields(view) if f.init}
        return cls(**kept, mx=mx)

    def as_text(self) -> str:
        """The MX table, then the reply."""
        above = f"{self.mx.as_text()}\n" if self.mx is not None else ""
        return above + super().as_text()

    def as_html(self) -> str:
        """The MX table, then the reply and the session panel (one widget shows it all)."""
        above = self.mx.as_html() if self.mx is not None else ""
        return above + super().as_html()

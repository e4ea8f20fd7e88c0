"""`%%smtp pipeline` / `%%pop3 pipeline`: send every command of the cell in one write, then read
their replies in order, as a pipelining client does (SMTP: RFC 2920; POP3: RFC 2449 section 6.6).
On a link with a long round trip the cell waits about one round trip where a plain `%%smtp` cell,
which sends a line and waits for its reply before the next, waits one per line.

It is only for a server that said it pipelines: PIPELINING in the session's last EHLO reply (SMTP)
or CAPA reply (POP3); otherwise the cell is refused before anything is sent. A command whose reply
changes what the next line means is refused inside a batch: STARTTLS, STLS, AUTH and BDAT go alone,
and for SMTP the commands RFC 2920 section 3.1 names (EHLO, DATA, VRFY, EXPN, TURN, QUIT, NOOP) may
only come last; POP3's QUIT too. Each word's declaration is `declare_pipeline(words)`, made by
smtp.py and pop3.py for their registries."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from mailmagic.display.cell import CellView
from mailmagic.magics.base import ProtocolMagics, cell_lines, in_text
from mailmagic.magics.registry import Commands
from mailmagic.session.base import Session

ALONE = frozenset({"STARTTLS", "STLS", "AUTH", "BDAT"})
"""Commands that change what the following lines mean: never inside a pipelined cell."""
LAST_ONLY = {
    "SMTP": frozenset({"EHLO", "HELO", "DATA", "VRFY", "EXPN", "TURN", "QUIT", "NOOP"}),
    "POP3": frozenset({"QUIT"}),
}
"""Commands that may only end a batch (RFC 2920 section 3.1; HELO as EHLO; POP3: QUIT)."""
ADVERTISED_BY = {"SMTP": "EHLO", "POP3": "CAPA"}
RFC = {"SMTP": "RFC 2920", "POP3": "RFC 2449 section 6.6"}


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME", help="the session (the current one)")


def declare_pipeline(words: Commands) -> None:
    """Declare the ``pipeline`` cell word in a magic's registry (``%%smtp`` or ``%%pop3``)."""
    magic = words.magic
    words.word(
        "pipeline",
        "send the cell's commands in one write, then read the replies (needs PIPELINING)",
        f"%%{magic} pipeline piped",
        _arguments,
        cell=True,
    )(_pipeline)


def _pipeline(magic: ProtocolMagics, ns: argparse.Namespace, cell: str | None) -> CellView:
    """The handler: check the session and the lines, send them all, one view per reply."""
    word = f"%%{magic.protocol.lower()} pipeline"
    session: Session[Any, Any] = magic._refreshed(magic._session(ns.name))
    if not session.is_open:
        raise UsageError(
            f"{word}: session {session.name!r} is {session.status}; reconnect it or open a new one"
        )
    if in_text(session):
        raise UsageError(f"{word}: the session is in message text; end it with '.' first")
    lines = list(cell_lines(cell or "", lambda: False))
    check_lines(magic.protocol, lines, word)
    check_offered(magic.protocol, session, word)
    shown = [session.conn.mask(line) for line in lines]
    replies = session.pipeline(lines, window=len(lines))  # window: every line in one write
    views = [magic._view(reply, s, session) for s, (_, reply) in zip(shown, replies, strict=True)]
    return CellView(tuple(views))


def check_lines(protocol: str, lines: list[str], word: str) -> None:
    """UsageError unless ``lines`` can go out as one batch (see the module docstring)."""
    if not lines:
        raise UsageError(f"{word}: the cell has no command; put one command a line in the cell")
    for n, line in enumerate(lines, 1):
        verb = line.split(" ", 1)[0].upper()
        if verb in ALONE:
            raise UsageError(
                f"{word}: {verb} changes how the next lines are read, so it cannot be pipelined; "
                f"send it alone (%{protocol.lower()} {verb} ...), then pipeline the rest"
            )
        if verb in LAST_ONLY[protocol] and n < len(lines):
            raise UsageError(
                f"{word}: {verb} may only be the last command of a batch ({RFC[protocol]}); "
                "end the cell with it, or split the cell in two (nothing was sent)"
            )


def check_offered(protocol: str, session: Session[Any, Any], word: str) -> None:
    """UsageError unless the server advertised PIPELINING in this session (EHLO or CAPA)."""
    learned = "extensions" if protocol == "SMTP" else "capabilities"
    if "PIPELINING" in getattr(session.conn, learned, {}):
        return
    asked = ADVERTISED_BY[protocol]
    raise UsageError(
        f"{word}: the server has not advertised PIPELINING in this session's {asked} reply "
        f"({RFC[protocol]}), so commands must wait for their replies; send {asked} first, or "
        f"send the lines one at a time with %%{protocol.lower()} (nothing was sent)"
    )

"""Reads what an SMTP client sends after DATA, and its AUTH continuation lines, one line at a time
in bounded memory, for the lab server's `LabSMTP` (smtp.py).

aiosmtpd's own DATA loop keeps every piece of a line that never ends (a client that sends DATA
and then bytes without LF grew the server without bound) and splits lines at CRLF only (so bare
LFs ran lines together, and a long LF-only message was "Line too long"). Here a line ends at LF.
A line over the limit is read to its end and thrown away as it arrives (RFC 5321 section
4.5.3.1.6 makes it an error), and once a message is refused nothing more of it is kept: a session
holds at most the message size limit, one line and what the StreamReader buffers (about twice its
limit, plus one socket read), whatever the client sends.

The mail data (RFC 5321 section 4.5.2): lines end in CRLF, and a line that ends in a bare LF
refuses the message (section 2.3.8: a client MUST NOT send one; taking LF or CR LF as a line end
is what SMTP smuggling exploits); a lone CR inside a line is data, kept byte for byte. The data
ends with a "." alone on a line that follows a CRLF (CRLF.CRLF, section 4.1.1.4), and a leading
dot is removed from every other line that starts with one (transparency, section 4.5.2).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

END_OF_DATA_LINE = b".\r\n"

LINE_TOO_LONG = (
    "500 5.5.2 Line too long: line {line} is over 1000 octets with its CRLF "
    "(RFC 5321 section 4.5.3.1.6); the message was refused, wrap its lines and send it again"
)
BARE_LF = (
    "500 5.5.2 Bare LF: line {line} ends in LF without CR, but SMTP lines end in CRLF "
    "(RFC 5321 section 2.3.8); the message was refused, send it again with CRLF line ends"
)
TOO_MUCH_DATA = (
    "552 5.3.4 Too much mail data: this server takes at most {limit} octets (the SIZE in its "
    "EHLO reply, RFC 1870); the message was refused"
)


@dataclass(frozen=True)
class TextLine:
    """One line as read: its octets up to and including LF; for a line over the limit, only its
    last two octets (enough to tell CRLF from a bare LF) and ``too_long``."""

    data: bytes
    too_long: bool = False

    @property
    def crlf(self) -> bool:
        """True when the line ends in CRLF (the line end of RFC 5321 section 2.3.8)."""
        return self.data.endswith(b"\r\n")


async def read_line(reader: asyncio.StreamReader, limit: int) -> TextLine:
    """The next line of ``reader``, in bounded memory however long it is (see the module docstring).

    A line is too long when it has over ``limit`` octets (LF included) or is longer than the
    reader's own limit. Raises ``asyncio.IncompleteReadError`` if the stream ends first.
    """
    tail = b""  # the end of a line over the reader's limit, read and thrown away so far
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as exc:
            tail = (tail + await reader.readexactly(exc.consumed))[-2:]
            continue
        if tail or len(line) > limit:
            return TextLine((tail + line)[-2:], too_long=True)
        return TextLine(line)


@dataclass
class MailData:
    """The mail data of one DATA command, taken a line at a time (see the module docstring).

    ``refusal`` is the reply for the first problem found, after which nothing more is kept;
    ``content`` is the message, dot-unstuffed, when there was none.
    """

    max_size: int | None  # octets of message text; None for no limit
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    count: int = 0  # lines taken so far, the end-of-data line not included
    refusal: str | None = None
    at_line_start: bool = True  # the last line ended in CRLF (or there was none yet)

    def take(self, line: TextLine) -> bool:
        """Take one line; True when it is the end of the data, which is not part of it."""
        if line.data == END_OF_DATA_LINE and self.at_line_start and not line.too_long:
            return True
        self.at_line_start = line.crlf
        self.count += 1
        if self.refusal is None:
            self._keep(line)
        return False

    def _keep(self, line: TextLine) -> None:
        text = line.data[1:] if line.data.startswith(b".") else line.data
        self.size += len(text)
        self.refusal = self._problem(line)
        if self.refusal is None:
            self.lines.append(text)
        else:
            self.lines.clear()  # nothing more is kept of a refused message

    def _problem(self, line: TextLine) -> str | None:
        if line.too_long:
            return LINE_TOO_LONG.format(line=self.count)
        if not line.crlf:
            return BARE_LF.format(line=self.count)
        if self.max_size is not None and self.size > self.max_size:
            return TOO_MUCH_DATA.format(limit=self.max_size)
        return None

    @property
    def content(self) -> bytes:
        """The message as received, transparency dots removed."""
        return b"".join(self.lines)

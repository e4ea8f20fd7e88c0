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

`read_data` reads the mail data in blocks of whole lines rather than a line at a time (one await
and one Python call per line were most of the server's work per message): each block ends at the
first ".<CR><LF>" the reader holds, so it never takes a byte past the end of the data, and the
block's lines are checked together (`MailData.take_lines`: no bare LF, none too long, under the
size limit, dots removed with one replace). When any check fails, the block is taken a line at a
time by `MailData.take`, so a refusal and its line number are exactly as before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

END_OF_DATA_LINE = b".\r\n"
CRLF = b"\r\n"

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


async def read_data(reader: asyncio.StreamReader, data: MailData, limit: int) -> None:
    """Read the mail data into ``data`` up to its end-of-data line, which is read and nothing
    after it (see the module docstring); ``limit`` as for `read_line`, the reader's own limit.
    Raises ``asyncio.IncompleteReadError`` if the stream ends first."""
    pending = b""  # the start of a line the last block cut
    while True:
        block = pending + await _read_block(reader)
        cut = block.rfind(b"\n") + 1
        block, pending = block[:cut], block[cut:]
        if data.take_lines(block, limit):
            return
        if len(pending) > limit:  # too long: read it to its end, keep its last two octets
            rest = await read_line(reader, limit)
            data.take(TextLine((pending + rest.data)[-2:], too_long=True))
            pending = b""


async def _read_block(reader: asyncio.StreamReader) -> bytes:
    """What the reader holds up to its first ".<CR><LF>" included, or when that is further than
    its limit (or not there yet), what it holds before it: never a byte past the first one."""
    try:
        return await reader.readuntil(END_OF_DATA_LINE)
    except asyncio.LimitOverrunError as overrun:  # `consumed` octets hold no ".<CR><LF>"
        return await reader.readexactly(overrun.consumed)


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

    def take_lines(self, block: bytes, limit: int) -> bool:
        """Take whole lines (``block`` is empty or ends in LF) as `take` would one by one, where
        only the last line may be the end of the data (as `read_data` makes blocks); True when
        it is. ``limit``: the most octets a line may have, LF included."""
        start = block.rfind(b"\n", 0, len(block) - 1) + 1  # where the last line starts
        after_crlf = block[start - 2 : start] == CRLF if start else self.at_line_start
        end = block[start:] == END_OF_DATA_LINE and after_crlf
        body = block[:start] if end else block
        if not self._take_all_at_once(body, limit):
            for line in body.split(b"\n")[:-1]:
                line += b"\n"
                self.take(TextLine(line) if len(line) <= limit else TextLine(line[-2:], True))
        return end

    def _take_all_at_once(self, body: bytes, limit: int) -> bool:
        """Take whole lines in one go when every line passes (or a refusal keeps nothing);
        False, having taken nothing, when a line needs `take` to say what is wrong with it."""
        lines = body.count(b"\n")
        if self.refusal is not None or not lines:
            self.count += lines
            self.at_line_start = body.endswith(CRLF) if lines else self.at_line_start
            return True
        if body.count(CRLF) != lines or max(map(len, body.split(b"\n"))) + 1 > limit:
            return False
        text = body[1:] if body.startswith(b".") else body
        text = text.replace(b"\r\n.", CRLF)  # RFC 5321 section 4.5.2: one dot off each line
        if self.max_size is not None and self.size + len(text) > self.max_size:
            return False
        self.size += len(text)
        self.count += lines
        self.at_line_start = True
        self.lines.append(text)
        return True

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

"""Buffers the bytes a server sent and cuts them into lines, for both protocols. A line ends at LF;
the CR before it is optional on input (servers that end lines with a bare LF are accepted). Memory
stays bounded: when the bytes after the last line end grow past `limit`, they are dropped at once
(only an 80-octet sample is kept for the error message) and `pop_line` raises RemoteProtocolError
once the complete lines before them have been read. So a server that streams 10 MB without a line
end costs at most `limit` octets plus one chunk. Read offsets are kept instead of deleting from the
front of the buffer after every line, so a large chunk of short lines is cut in linear time.
`take_through_line` (a POP3 body up to its lone ".") remembers how far it has searched, so a 50 MB
body that arrives in 64 KiB chunks is scanned once, not once per chunk, and copies the body out of
the buffer once."""

from __future__ import annotations

import functools
import re

from .errors import RemoteProtocolError

__all__ = ["LineBuffer", "guess_server", "quote", "strip_eol"]

SAMPLE = 80
"""Octets of a bad line quoted in error messages."""


def quote(data: bytes, limit: int = SAMPLE) -> str:
    """`data` for an error message: at most `limit` octets, as a Python bytes literal."""
    shown = repr(data[:limit])
    return shown + ("..." if len(data) > limit else "")


def guess_server(line: bytes, expected: str) -> str:
    """A guess at what answered, from a line that is not an `expected` ("SMTP"/"POP3") reply."""
    ports = {"SMTP": "25, 587, or 465 with TLS", "POP3": "110, or 995 with TLS"}[expected]
    if line[:3].upper() == b"+OK" or line[:4].upper() == b"-ERR":
        found = "a POP3 server"
    elif line[:4].upper() == b"* OK":
        found = "an IMAP server"
    elif line[:3].isdigit():
        found = "an SMTP server"
    elif line[:1] in (b"\x15", b"\x16"):
        found = "a TLS handshake: this port wants TLS from the start"
    else:
        return f"is this a {expected} server, on the right port ({ports})?"
    return f"this looks like {found}; {expected} is on port {ports}"


def strip_eol(line: bytes) -> bytes:
    """`line` without its LF or CRLF."""
    line = line[:-1] if line.endswith(b"\n") else line
    return line[:-1] if line.endswith(b"\r") else line


class LineBuffer:
    """Received bytes not yet parsed; `pop_line()` returns them line by line, line end included."""

    def __init__(self, limit: int, what: str, rule: str) -> None:
        self.limit = limit
        self.what = what  # e.g. "SMTP reply line", for the error message
        self.rule = rule  # e.g. "RFC 5321 4.5.3.1.5 allows 512 octets"
        self.eof = False
        self._data = bytearray()
        self._pos = 0  # first unread octet
        self._complete = 0  # end of the last LF-terminated line in _data
        self._scan = 0  # where take_through_line resumes searching (0: from _pos)
        self._overlong: bytes | None = None  # sample of a line that went past the limit

    @property
    def buffered(self) -> int:
        """Octets received but not yet returned by `pop_line` (bounded by `limit` + one chunk)."""
        return len(self._data) - self._pos

    @property
    def partial(self) -> bytes:
        """The bytes after the last complete line: a line the server has not finished."""
        return bytes(self._data[max(self._pos, self._complete) :])

    def feed(self, data: bytes) -> None:
        """Append `data`; b"" marks the end of the stream."""
        if not data:
            self.eof = True
        elif self._overlong is None:
            self._data += data
            cut = data.rfind(b"\n")
            if cut >= 0:
                self._complete = len(self._data) - len(data) + cut + 1
            if len(self._data) - self._complete > self.limit:
                self._overlong = bytes(self._data[self._complete : self._complete + SAMPLE + 1])
                del self._data[self._complete :]
                self._scan = min(self._scan, self._complete)

    def pop_line(self) -> bytes | None:
        """The next complete line, or None; raises RemoteProtocolError at an over-long line."""
        if self._pos >= self._complete:
            if self._overlong is not None:
                raise self._too_long(self._overlong, "without a line end")
            return None
        end = self._data.index(b"\n", self._pos) + 1
        line = bytes(self._data[self._pos : end])
        self._consumed(end)
        if len(line) > self.limit:
            self._overlong = line[: SAMPLE + 1]
            raise self._too_long(line, "")
        return line

    def take_through_line(self, line: bytes) -> tuple[bytes, bytes] | None:
        """The octets before the first line that is exactly ``line`` (ended by CRLF or a bare LF)
        from the first unread one (which starts a line), and that line with its end, both
        consumed; None while there is no such line yet. The octets searched without a match are
        not searched again when more arrive."""
        found = self._find_line(line)
        if found is None:
            if self._overlong is not None:
                raise self._too_long(self._overlong, "without a line end")
            return None
        begin, end = found
        with memoryview(self._data) as view:  # one copy each, and released before compacting
            chunk, ending = bytes(view[self._pos : begin]), bytes(view[begin:end])
        self._consumed(end)
        return chunk, ending

    def _find_line(self, line: bytes) -> tuple[int, int] | None:
        """(start, end) of the first line equal to ``line`` from _pos, or None (and _scan set)."""
        data, head = self._data, b"\n" + line
        if data.startswith(line, self._pos):  # the very first line (an empty POP3 body)
            end = _line_end(data, self._pos + len(line))
            if end != 0:
                return (self._pos, end) if end > 0 else None
        # A regex finds "\n" + line faster than bytearray.find where lines are short.
        found = _ended_line(line).search(data, max(self._pos, self._scan))
        if found is None:
            self._scan = max(self._pos, len(data) - len(head) + 1)
            return None
        if found[1] is None:  # at the very end: it may still end well, look here again later
            self._scan = found.start()
            return None
        return found.start() + 1, found.end()

    def _consumed(self, end: int) -> None:
        """Everything before ``end`` has been read."""
        self._pos = end
        self._scan = 0
        self._compact()

    def _compact(self) -> None:
        """Drop the octets already read once they are all of the buffer or most of a big one."""
        rest = len(self._data) - self._pos
        if rest and (self._pos < 65536 or self._pos < rest):
            return
        del self._data[: self._pos]
        self._complete -= self._pos
        self._pos = 0

    def _too_long(self, sample: bytes, how: str) -> RemoteProtocolError:
        what = f"{self.what} longer than {self.limit} octets {how}".replace("  ", " ").strip()
        return RemoteProtocolError(
            f"the server sent a {what} ({self.rule}), starting {quote(sample)}; "
            "this is not a well-behaved mail server or not the protocol expected on this port: "
            "close the connection and check the host and port"
        )


@functools.lru_cache(maxsize=8)
def _ended_line(line: bytes) -> re.Pattern[bytes]:
    """'\n' + ``line`` where a line end follows, or where the data ends before one can."""
    return re.compile(b"\n" + re.escape(line) + rb"(?:(\r?\n)|\r?\Z)")


def _line_end(data: bytearray, at: int) -> int:
    """Where a line ends if it ends right at ``at`` (CRLF or LF): the offset after its end; 0
    when other octets follow; -1 when it cannot be told yet (nothing, or a lone CR, follows)."""
    follows = bytes(data[at : at + 2])
    if follows == b"\r\n":
        return at + 2
    if follows[:1] == b"\n":
        return at + 1
    return -1 if follows in (b"", b"\r") else 0

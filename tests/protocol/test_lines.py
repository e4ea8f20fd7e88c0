# What this module does: tests mailmagic/protocol/lines.py, the bounded line buffer both
# protocols read through: CRLF and bare LF, partial lines, compaction over many lines, the
# over-long line rule (with the lines before it still returned), and the error quoting.
from __future__ import annotations

import pytest

from mailmagic.protocol.errors import RemoteProtocolError
from mailmagic.protocol.lines import LineBuffer, guess_server, quote, strip_eol


def buffer(limit: int = 100) -> LineBuffer:
    return LineBuffer(limit, "test line", "the test rule")


def test_lines_end_at_lf_with_or_without_cr() -> None:
    lines = buffer()
    lines.feed(b"a\r\nb\nc")
    assert lines.pop_line() == b"a\r\n"
    assert lines.pop_line() == b"b\n"
    assert lines.pop_line() is None
    assert lines.partial == b"c"
    lines.feed(b"\r\n")
    assert lines.pop_line() == b"c\r\n"
    assert lines.buffered == 0


def test_many_lines_are_cut_and_the_buffer_compacts() -> None:
    lines = buffer()
    lines.feed(b"line\r\n" * 50_000 + b"tail")
    count = 0
    while lines.pop_line() is not None:
        count += 1
    assert count == 50_000
    assert lines.buffered == 4 and lines.partial == b"tail"


def test_a_line_longer_than_the_limit_without_end_is_dropped_at_once() -> None:
    lines = buffer(limit=10)
    lines.feed(b"ok\r\n" + b"x" * 5)
    lines.feed(b"x" * 50)
    assert lines.buffered == 4  # only the complete line is kept
    lines.feed(b"more bytes are dropped too\r\n")
    assert lines.buffered == 4
    assert lines.pop_line() == b"ok\r\n"
    with pytest.raises(RemoteProtocolError, match="longer than 10 octets without a line end"):
        lines.pop_line()


def test_a_complete_line_over_the_limit_is_refused() -> None:
    lines = buffer(limit=10)
    lines.feed(b"y" * 20 + b"\r\n")
    with pytest.raises(
        RemoteProtocolError, match=r"test line longer than 10 octets \(the test rule"
    ):
        lines.pop_line()


def test_eof() -> None:
    lines = buffer()
    lines.feed(b"")
    assert lines.eof


@pytest.mark.parametrize(
    ("data", "shown"),
    [(b"abc", "b'abc'"), (b"x" * 100, "b'" + "x" * 80 + "'..."), (b"\x00\r\n", "b'\\x00\\r\\n'")],
)
def test_quote(data: bytes, shown: str) -> None:
    assert quote(data) == shown


def test_strip_eol() -> None:
    assert [strip_eol(x) for x in (b"a\r\n", b"a\n", b"a", b"a\r", b"\r\n")] == [b"a"] * 4 + [b""]


@pytest.mark.parametrize(
    ("line", "expected", "words"),
    [
        (b"+OK ready", "SMTP", "POP3 server"),
        (b"220 ready", "POP3", "SMTP server"),
        (b"* OK", "SMTP", "IMAP"),
        (b"\x16\x03", "POP3", "TLS"),
        (b"hello", "SMTP", "right port (25"),
    ],
)
def test_guess_server(line: bytes, expected: str, words: str) -> None:
    assert words in guess_server(line, expected)

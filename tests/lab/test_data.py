# What this module does: tests of the bounded line reader and the mail data rules of the lab SMTP
# server (mailmagic/lab/data.py), without sockets: a StreamReader fed by the test, and tables of
# lines with the message or the refusal they make; read_data, which reads blocks of lines, against
# the line-by-line reading on random streams. The same rules on the wire are in test_smtp.py.
from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailmagic.lab.data import MailData, TextLine, read_data, read_line

READER_LIMIT = 1001  # aiosmtpd's StreamReader limit, as LabSMTP uses it
TOO_LONG = b"<stands for a line over the limit>\r\n"


def read_all(data: bytes, limit: int = READER_LIMIT) -> list[TextLine]:
    """Every line ``read_line`` finds in ``data`` (which ends in LF)."""

    async def run() -> list[TextLine]:
        reader = asyncio.StreamReader(limit=READER_LIMIT)
        reader.feed_data(data)
        reader.feed_eof()
        lines = []
        while not reader.at_eof():
            lines.append(await read_line(reader, limit))
        return lines

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"one\r\ntwo\n", [TextLine(b"one\r\n"), TextLine(b"two\n")]),
        (b"stray\r\r\n", [TextLine(b"stray\r\r\n")]),
        (b"x" * 1000 + b"\r\n", [TextLine(b"\r\n", too_long=True)]),
        (b"x" * 999 + b"\r\n", [TextLine(b"x" * 999 + b"\r\n")]),
        (b"y" * 5000 + b"\n" + b"ok\r\n", [TextLine(b"y\n", too_long=True), TextLine(b"ok\r\n")]),
        (b"z" * 5000 + b"\r\n", [TextLine(b"\r\n", too_long=True)]),
    ],
    ids=["crlf-and-lf", "stray-cr", "over-the-limit", "at-the-limit", "long-bare-lf", "long-crlf"],
)
def test_read_line(data: bytes, expected: list[TextLine]) -> None:
    assert read_all(data, limit=1001) == expected


def test_read_line_keeps_a_line_without_end_out_of_memory() -> None:
    async def run() -> TextLine:
        reader = asyncio.StreamReader(limit=READER_LIMIT)
        reading = asyncio.ensure_future(read_line(reader, READER_LIMIT))
        for _ in range(200):
            reader.feed_data(b"A" * 65536)
            await asyncio.sleep(0)  # the reader takes and drops what it was fed
        reader.feed_data(b"\r\n")
        return await reading

    tracemalloc.start()
    try:
        line = asyncio.run(run())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert line == TextLine(b"\r\n", too_long=True)
    assert peak < 2 * 1024 * 1024  # 13 MB went through


def take_all(lines: list[bytes], max_size: int | None = 1000) -> tuple[MailData, bool]:
    data = MailData(max_size)
    ended = False
    for line in lines:
        assert not ended, "a line after the end of the data"
        ended = data.take(TextLine(line, too_long=line == TOO_LONG))
    return data, ended


@pytest.mark.parametrize(
    ("lines", "content"),
    [
        ([b"Subject: a\r\n", b"\r\n", b"body\r\n", b".\r\n"], b"Subject: a\r\n\r\nbody\r\n"),
        ([b"..leading dot\r\n", b"...\r\n", b".\r\n"], b".leading dot\r\n..\r\n"),
        ([b"line one\r\r\n", b"mid\rline\r\n", b".\r\n"], b"line one\r\r\nmid\rline\r\n"),
        ([b".\r\n"], b""),
    ],
    ids=["plain", "dots-unstuffed", "stray-cr-kept", "empty"],
)
def test_mail_data_content(lines: list[bytes], content: bytes) -> None:
    data, ended = take_all(lines)
    assert ended and data.refusal is None
    assert data.content == content


@pytest.mark.parametrize(
    ("lines", "refusal"),
    [
        ([b"a\r\n", TOO_LONG, b"b\r\n", b".\r\n"], "500 5.5.2 Line too long: line 2"),
        ([b"Subject: x\n", b"\n", b"\r\n", b".\r\n"], "500 5.5.2 Bare LF: line 1 ends in LF"),
        ([b"x" * 600 + b"\r\n"] * 2 + [b".\r\n"], "552 5.3.4 Too much mail data: this server"),
        ([b"x\n", b".\r\n", b"y\r\n", b".\r\n"], "500 5.5.2 Bare LF: line 1"),
    ],
    ids=["too-long", "bare-lf", "too-much", "dot-after-bare-lf-is-not-the-end"],
)
def test_mail_data_refusals_keep_nothing(lines: list[bytes], refusal: str) -> None:
    data, ended = take_all(lines, max_size=1000)
    assert ended
    assert data.refusal is not None and data.refusal.startswith(refusal)
    assert data.lines == []


PIECES = [
    b"plain line\r\n",
    b".\r\n",
    b"..two dots\r\n",
    b".one dot\r\n",
    b"ends with a dot.\r\n",
    b"bare lf\n",
    b"stray\rcr\r\n",
    b"\r\n",
    b"x" * 999 + b"\r\n",
    b"x" * 1000 + b"\r\n",
    b"y" * 3000 + b"\n",
    b"z" * 2500 + b".\r\n",
    b"w" * 700 + b"\r\n",
]


def line_by_line(stream: bytes, max_size: int | None) -> tuple[MailData, bytes]:
    """The reference: read_line and take, one line at a time; and what is left unread."""

    async def run() -> tuple[MailData, bytes]:
        reader = asyncio.StreamReader(limit=READER_LIMIT)
        reader.feed_data(stream)
        reader.feed_eof()
        data = MailData(max_size)
        while not data.take(await read_line(reader, READER_LIMIT)):
            pass
        return data, await reader.read()

    return asyncio.run(run())


def in_blocks(stream: bytes, max_size: int | None, chunks: list[int]) -> tuple[MailData, bytes]:
    """read_data on the same stream, fed to the reader in chunks of the given sizes."""

    async def run() -> tuple[MailData, bytes]:
        reader = asyncio.StreamReader(limit=READER_LIMIT)

        async def feed() -> None:
            rest = stream
            for size in chunks:
                reader.feed_data(rest[:size])
                rest = rest[size:]
                await asyncio.sleep(0)
            reader.feed_data(rest)
            reader.feed_eof()

        feeding = asyncio.ensure_future(feed())
        data = MailData(max_size)
        await read_data(reader, data, READER_LIMIT)
        await feeding
        return data, await reader.read()

    return asyncio.run(run())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES), max_size=12),
    st.lists(st.integers(1, 3000), max_size=8),
    st.sampled_from([None, 2000, 10_000]),
)
def test_read_data_takes_what_line_by_line_reading_takes_and_nothing_after(
    pieces: list[bytes], chunks: list[int], max_size: int | None
) -> None:
    stream = b"".join(pieces) + b"\r\n.\r\nQUIT\r\n"  # the end: a CRLF (if the last was LF), "."
    expected, left = line_by_line(stream, max_size)
    data, rest = in_blocks(stream, max_size, chunks)
    assert (data.refusal, data.count, data.size, data.content) == (
        expected.refusal,
        expected.count,
        expected.size,
        expected.content,
    )
    assert rest == left


def test_read_data_of_an_empty_message_reads_only_its_end() -> None:
    data, rest = in_blocks(b".\r\nQUIT\r\n", 1000, [])
    assert (data.content, data.count, rest) == (b"", 0, b"QUIT\r\n")

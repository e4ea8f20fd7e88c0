# What this module does: tests of decoding (mailmagic/mail/decode.py), read through the Message
# model as a message's headers and bodies are: RFC 2047 encoded words and RFC 6532 raw UTF-8
# headers decode, plain ASCII headers stay as sent (unfolded), bodies decode in their declared
# charset with the fallbacks the module comment gives (iso-8859-1 read as windows-1252, then
# UTF-8, then replacement characters), and no text holds a lone surrogate.
from __future__ import annotations

import base64
import quopri

import pytest

from mailmagic.mail.decode import decode_bytes, scrub
from mailmagic.mail.message import Message
from tests.mail.samples import raw, text_part

HEADER_CASES = [
    ("Subject: =?utf-8?q?caf=C3=A9_cr=C3=A8me?=", "Subject", "caf\u00e9 cr\u00e8me"),
    ("Subject: =?UTF-8?B?5pel5pys6Kqe?=", "Subject", "\u65e5\u672c\u8a9e"),
    ("Subject: =?iso-8859-1?q?na=EFve?=", "Subject", "na\u00efve"),
    ("Subject: =?utf-8?q?a?= =?utf-8?q?b?= c", "Subject", "ab c"),  # RFC 2047 6.2
    ("Subject: folded\n  over two lines", "Subject", "folded  over two lines"),
    (
        "From: =?utf-8?b?Wm/DqyDDnG5hbA==?= <zoe@example.com>",
        "From",
        "Zo\u00eb \u00dcnal <zoe@example.com>",
    ),
    (
        "From: =?iso-8859-1?q?Andr=E9?= <andre@example.com>",
        "From",
        "Andr\u00e9 <andre@example.com>",
    ),
    (
        "Subject: Gr\u00fc\u00dfe aus K\u00f6ln",
        "Subject",
        "Gr\u00fc\u00dfe aus K\u00f6ln",
    ),  # RFC 6532
    (
        "To: J\u00fcrgen <j\u00fcrgen@b\u00fccher.example>",
        "To",
        "J\u00fcrgen <j\u00fcrgen@b\u00fccher.example>",
    ),
    ("Date: Mon, 1 Jan 2024 09:00:00 +0000", "Date", "Mon, 1 Jan 2024 09:00:00 +0000"),
    ("Subject: =?utf-8?b?!!!?=", "Subject", "=?utf-8?b?!!!?="),  # undecodable: shown as sent
]


@pytest.mark.parametrize(("line", "name", "expected"), HEADER_CASES)
def test_headers_decode(line: str, name: str, expected: str) -> None:
    mail = Message(raw(line))
    assert mail.header(name) == expected
    assert (name, expected) in mail.headers


BODY_CASES = {
    "iso-8859-1": (
        text_part("iso-8859-1", "8bit", "Gr\u00fc\u00dfe, caf\u00e9".encode("latin-1")),
        "Gr\u00fc\u00dfe, caf\u00e9",
    ),
    "windows-1252": (
        text_part("windows-1252", "8bit", "5 \u20ac \u2013 \u201cq\u201d".encode("cp1252")),
        "5 \u20ac \u2013 \u201cq\u201d",
    ),
    "latin-1 label, cp1252 bytes": (
        text_part("iso-8859-1", "8bit", "\u201cq\u201d".encode("cp1252")),
        "\u201cq\u201d",
    ),
    "utf-8 base64": (
        text_part("utf-8", "base64", base64.encodebytes("\u65e5\u672c\u8a9e \u2713".encode())),
        "\u65e5\u672c\u8a9e \u2713",
    ),
    "utf-8 quoted-printable": (
        text_part(
            "utf-8", "quoted-printable", quopri.encodestring("na\u00efve caf\u00e9".encode())
        ),
        "na\u00efve caf\u00e9",
    ),
    "SMTPUTF8 raw utf-8, no charset": (
        text_part(None, "8bit", "Gr\u00fc\u00dfe".encode()),
        "Gr\u00fc\u00dfe",
    ),
    "us-ascii label, utf-8 bytes": (
        text_part("us-ascii", "8bit", "caf\u00e9".encode()),
        "caf\u00e9",
    ),
    "unknown charset, utf-8 bytes": (
        text_part("x-klingon", "8bit", "caf\u00e9".encode()),
        "caf\u00e9",
    ),
    "unknown charset, latin-1 bytes": (
        text_part("x-klingon", "8bit", "caf\u00e9".encode("latin-1")),
        "caf\u00e9",
    ),
    "utf-8 label, latin-1 bytes": (
        text_part("utf-8", "8bit", "caf\u00e9".encode("latin-1")),
        "caf\ufffd",
    ),
    "bytes-to-bytes codec as charset": (text_part("hex", "8bit", b"plain"), "plain"),
    "no content-type": (raw("Subject: t", b"plain body\r\n"), "plain body"),
}


@pytest.mark.parametrize(("message", "expected"), BODY_CASES.values(), ids=BODY_CASES.keys())
def test_bodies_decode(message: bytes, expected: str) -> None:
    mail = Message(message)
    assert mail.text is not None and mail.text.rstrip("\n") == expected
    assert mail.html_source is None and mail.sanitised() is None


def test_decoding_never_raises_nor_leaves_surrogates() -> None:
    assert decode_bytes(b"caf\xe9", "no-such-charset") == "caf\u00e9"  # windows-1252 at last
    assert decode_bytes(b"\xff\xfe", "utf-8") == "\ufffd\ufffd"  # the declared, replaced
    assert scrub("caf\udcc3\udca9") == "caf\u00e9"  # surrogate-escaped bytes read as UTF-8
    assert scrub("a\ud800").encode("utf-8").startswith(b"a")  # a lone surrogate is replaced

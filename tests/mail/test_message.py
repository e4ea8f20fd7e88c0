# What this module does: tests of the message model (mailmagic/mail/message.py) without a network
# or a widget: the key headers and their order, the text and HTML bodies, broken input reported
# as problems rather than raised (a cut multipart, absurd nesting, any bytes at all), and a
# message from TOP, sent to the lab server and read back over POP3, known to be partial
# ("headers only" / "first N lines") without the defects that cutting it causes.
from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailmagic.mail.message import Message, partial_note
from tests.mail.samples import HOSTILE_HTML, mixed, raw


def message_of(msg: EmailMessage) -> Message:
    return Message(msg.as_bytes(policy=policy.SMTP))


def test_key_header_properties_and_order() -> None:
    mail = message_of(mixed())
    assert mail.subject == "Caf\u00e9 \u2713 report"
    assert mail.sender == "Jos\u00e9 M\u00fcller <jose@example.com>"
    assert mail.to == "alice@example.com"
    assert mail.date.endswith("09:00:00 +0000")
    assert [name for name, _ in mail.headers][:4] == ["Subject", "From", "To", "Date"]


def test_text_and_html_bodies() -> None:
    mail = message_of(mixed())
    assert mail.text == "hello caf\u00e9\n"
    assert mail.html_source == "<p>Hello <b>caf\u00e9</b></p>\n"
    cleaned = mail.sanitised()
    assert cleaned is not None and "<b>caf\u00e9</b>" in cleaned.html
    assert (
        mail.remote_image_count == 0
        and message_of(mixed(html=HOSTILE_HTML)).remote_image_count == 2
    )


def test_truncated_multipart_still_shows_its_parts() -> None:
    message = raw(
        'Subject: cut\nContent-Type: multipart/mixed; boundary="b"',
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello caf\xc3\xa9\r\n"
        b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="x.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0x',
    )
    mail = Message(message)
    assert mail.text == "hello caf\u00e9"  # the CRLF before a boundary belongs to it
    [pdf] = mail.attachments
    assert (pdf.filename, pdf.size) == ("x.pdf", len(b"%PDF-1"))
    assert any("close boundary not found" in d for d in mail.defects)


def nested(levels: int) -> bytes:
    return b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(levels)
    )


def test_absurd_nesting_is_reported_not_raised() -> None:
    mail = Message(b"Subject: deep\r\n" + nested(3000) + b"\r\nx\r\n")
    assert mail.subject == "deep"
    assert any("could not parse" in d for d in mail.defects)


def test_nesting_deeper_than_the_walk_is_reported() -> None:
    mail = Message(b"Subject: deep\r\n" + nested(80) + b"Content-Type: text/plain\r\n\r\nx\r\n")
    assert any("nested deeper" in d for d in mail.defects)


SAMPLE = mixed(html=HOSTILE_HTML).as_bytes(policy=policy.SMTP)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400) | st.integers(0, len(SAMPLE)).map(lambda n: SAMPLE[:n]))
def test_any_bytes_make_a_message(data: bytes) -> None:
    mail = Message(data)
    for text in (mail.text, mail.html_source, *(v for _, v in mail.headers), *mail.defects):
        (text or "").encode("utf-8")  # valid Unicode: no lone surrogates
    assert mail.tree.depth() >= 1 and isinstance(mail.attachments, list)


@pytest.mark.parametrize(
    ("title", "top", "note"),
    [
        ("RETR 1", None, None),
        ("TOP 1 0", None, "headers only (TOP 1 0): no body was asked for"),
        ("top 3 8", None, "first 8 line(s) of the body (TOP 3 8): the rest was not asked for"),
        ("", 0, "headers only (TOP n 0): no body was asked for"),
    ],
)
def test_partial_note_says_what_top_left_out(title: str, top: int | None, note: str) -> None:
    assert partial_note(title, top) == note


def test_a_partial_message_has_no_truncation_defects(top_of: Callable[[int], bytes]) -> None:
    whole = Message(top_of(10_000))
    assert whole.partial is None and whole.defects == [] and whole.attachments
    for lines in (0, 8):
        partial = Message(top_of(lines), partial=partial_note(f"TOP 1 {lines}", None))
        assert partial.defects == [] and partial.subject == "Caf\u00e9 \u2713 report"


def test_a_broken_whole_message_still_reports_its_defects() -> None:
    cut = raw('Subject: a\nContent-Type: multipart/mixed; boundary="b"', b"no boundary here\r\n")
    assert any("boundary" in d for d in Message(cut).defects)
    assert not any("boundary" in d for d in Message(cut, partial="first 1 line(s)").defects)

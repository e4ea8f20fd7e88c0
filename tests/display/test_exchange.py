# What this module does: tests of the exchange view (mailmagic/display/exchange.py), a command
# and its reply with no session behind it, as the mailbox table's buttons show it: the reply's
# meaning, its fields through attribute access and `dir()`, and after RETR or TOP the message
# viewer with only the reply's status line above the message; anything else is one HTML widget
# (of exactly its text/html), and every such widget shows with the one shared Layout and Style.
from __future__ import annotations

from typing import Any

import ipywidgets  # type: ignore[import-untyped, unused-ignore]

from mailmagic.display import html as h
from mailmagic.display.exchange import ExchangeView, meaning, server_text
from mailmagic.display.message import MessageView
from tests.display.conftest import SHARED, html_of
from tests.display.hostile import pop3_reply, smtp_reply

S250_OK = b"250 2.0.0 OK\r\n"
RETR_1 = b"+OK 40 octets\r\nSubject: hello there\r\n\r\nthe body line\r\n.\r\n"


def test_a_reply_reads_as_its_value() -> None:
    view = ExchangeView(smtp_reply("NOOP", S250_OK), "NOOP", "s", "SMTP")
    assert view.code == 250 and view.ok and "code" in dir(view)
    assert view.below is None and not view.interactive
    assert view.as_text().split("\n")[:2] == ["C: NOOP", "S: 250 2.0.0 OK"]
    assert meaning(view.reply) in view.as_text()  # type: ignore[arg-type]


def test_retr_puts_the_message_under_the_status_line(dummy_comm: list[Any]) -> None:
    reply = pop3_reply("RETR 1", RETR_1)
    view = ExchangeView(reply, "RETR 1", "p", "POP3", insecure=True)
    assert isinstance(view.below, MessageView) and view.interactive
    assert view.below.subject == "hello there"
    head = h.box(*view.parts_html())
    assert "+OK 40 octets" in head and "certificate checks are OFF" in head
    assert "the body line" in server_text(reply) and "the body line" not in head
    assert view.as_html() == head + view.below.as_html()
    shown = view.widget()
    assert isinstance(shown, ipywidgets.VBox) and head in html_of(shown)


def test_other_replies_are_one_html_widget(dummy_comm: list[Any]) -> None:
    shown = ExchangeView(pop3_reply("STAT", b"+OK 2 4120\r\n"), "STAT", "p", "POP3").widget()
    assert isinstance(shown, ipywidgets.HTML) and "+OK 2 4120" in shown.value


def test_reply_widgets_share_one_layout_and_style(dummy_comm: list[Any]) -> None:
    views = [ExchangeView(smtp_reply("NOOP", S250_OK), "NOOP", "s", "SMTP") for _ in range(3)]
    shown = [view.widget() for view in views]
    assert len(dummy_comm) == len(views) + SHARED  # one model each, the shared two once
    assert all(w.layout is shown[0].layout and w.style is shown[0].style for w in shown)


def test_the_widget_shows_exactly_the_text_html(dummy_comm: list[Any]) -> None:
    ehlo = smtp_reply("EHLO me", b"250-lab\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
    view = ExchangeView(ehlo, "EHLO me", "s", "SMTP")
    assert view.widget().value == view.as_html() == view._repr_mimebundle_()["text/html"]
    assert "PIPELINING" in view.as_html() and view.as_text().count("\n   ") == 3  # meaning, 2 rows
    retr = ExchangeView(pop3_reply("RETR 1", RETR_1), "RETR 1", "p", "POP3")
    assert retr.as_html() == h.box(*retr.parts_html()) + retr.below.as_html()  # type: ignore[union-attr]

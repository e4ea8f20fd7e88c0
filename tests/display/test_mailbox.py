# What this module does: tests of the mailbox view (mailmagic/display/mailbox.py) on a live POP3
# session to the lab server, widgets checked without a browser (dummy comm): rows from LIST, UIDL
# and TOP, pagination by displaylimit, the row selector with View / Headers / Delete buttons that
# talk to the server and show their result in the Output, a deleted row struck through, fixed
# columns cut with an ellipsis, a page within the widget budget at the same cost each time, paging
# that opens no widget, a table that is a snapshot, a closed session's header and Reconnect, and
# hostile headers escaped.
from __future__ import annotations

import smtplib

import pytest

from mailmagic.display.mailbox import (
    COLUMNS,
    DELETED,
    DropSnapshot,
    MailboxView,
    MailboxWidget,
    rows,
)
from mailmagic.display.reply import ReplyView
from mailmagic.lab import LabServer
from mailmagic.session.base import Settings
from mailmagic.session.pop3 import Pop3Session
from tests.display.conftest import BUDGET, DummyComm, html_of
from tests.display.hostile import HOSTILE, assert_inert


def fill(lab: LabServer, count: int, subject: str = "note") -> None:
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        for n in range(count):
            body = f"From: Sender {n} <s{n}@lab.test>\r\nSubject: {subject} {n}\r\n\r\nbody {n}\r\n"
            smtp.sendmail(f"s{n}@lab.test", ["alice@lab.test"], body.encode())


def logged_in(lab: LabServer) -> Pop3Session:
    s = Pop3Session("mb", Settings("127.0.0.1", lab.endpoints.pop3, timeout=10))  # type: ignore[arg-type]
    s.connect()
    assert s.login("alice", "alice-password").ok
    return s


def press(widget: MailboxWidget, number: int, label: str) -> None:
    """Select message ``number`` and press the action ``label``."""
    assert widget.pick is not None
    while number not in dict(widget.pick.options).values() and not widget.next.disabled:
        widget.next.click()
    widget.pick.value = number
    next(b for b in widget.actions if b.description == label).click()


def page_of(widget: MailboxWidget) -> str:
    """The page's HTML (the Output's first output)."""
    return str(widget.output.outputs[0]["data"]["text/html"])


def test_rows_join_list_uidl_and_headers(lab: LabServer) -> None:
    fill(lab, 3)
    s = logged_in(lab)
    s.command("LIST")
    s.command("UIDL")
    s.command("TOP 2 0")
    table = rows(s.maildrop)
    assert [r.number for r in table] == [1, 2, 3]
    assert all(r.uid and r.size.endswith(" octets") for r in table)
    assert table[1].subject == "note 1" and table[1].sender == "Sender 1 <s1@lab.test>"
    assert table[0].subject == ""  # not fetched yet: nothing is fetched behind the user's back


def test_widget_pages_and_actions(lab: LabServer, dummy_comm: list[DummyComm]) -> None:
    fill(lab, 7)
    s = logged_in(lab)
    s.command("LIST")
    box = MailboxWidget(MailboxView(s, displaylimit=3))
    assert "page 1 of 3" in page_of(box) and page_of(box).count("<tr>") == 1 + 3
    assert box.pick is not None and list(dict(box.pick.options).values()) == [1, 2, 3]
    assert box.pick.value == 1  # a row is selected: the buttons act at once
    box.pick.value = 3
    box.next.click()
    assert box.pick.value == 4  # the page's first row
    box.next.click()
    assert "page 3 of 3" in page_of(box) and box.next.disabled
    assert page_of(box).count("<tr>") == 1 + 1 and list(dict(box.pick.options).values()) == [7]
    box.prev.click()
    press(box, 4, "Headers")
    assert s.maildrop.headers[4].startswith(b"Return-Path:")
    assert "Subject: note 3" in html_of(box.box) and "note 3" in page_of(box)
    press(box, 4, "Delete")
    assert 4 in s.maildrop.deleted and "1 deleted at QUIT" in page_of(box)
    assert dummy_comm  # the widgets really went through comms


def test_a_row_marked_for_deletion_is_struck_through(lab: LabServer) -> None:
    fill(lab, 2)
    s = logged_in(lab)
    s.command("LIST")
    s.command("DELE 2")
    html, text = MailboxView(s).as_html(), MailboxView(s).as_text()
    struck = [row for row in html.split("<tr>") if "line-through" in row]
    assert len(struck) == 1 and ">2</td>" in struck[0] and DELETED in struck[0]
    assert f"2  {DELETED}" not in text and text.splitlines()[-1].endswith(DELETED)


def test_the_table_reads_well_at_any_width(lab: LabServer) -> None:
    long_subject = "a subject far too long for its column " * 5
    fill(lab, 1, subject=long_subject)
    s = logged_in(lab)
    s.command("UIDL")
    s.command("TOP 1 0")
    html = MailboxView(s).as_html()
    assert "table-layout:fixed" in html and html.count("<col ") == len(COLUMNS)
    assert "text-overflow:ellipsis" in html and "white-space:nowrap" in html
    subject = rows(s.maildrop)[0].subject
    assert subject.startswith(long_subject.strip()) and f'title="{subject}"' in html  # on hover
    uid = s.maildrop.uids[1]
    uid_cell = next(td for td in html.split("<td ") if f">{uid}</td>" in td)
    assert "monospace" in uid_cell and "ellipsis" in uid_cell


def test_view_button_shows_the_message(lab: LabServer, dummy_comm: list[DummyComm]) -> None:
    fill(lab, 1, subject="hello")
    s = logged_in(lab)
    s.command("LIST")
    box = MailboxWidget(MailboxView(s))
    press(box, 1, "View")
    assert 1 in s.maildrop.headers
    assert "+OK" in html_of(box.box) and "hello 0" in html_of(box.box)
    shown = list(box.shown)
    press(box, 1, "Headers")  # the message viewer it replaces is closed
    assert shown and all(w.comm is None for w in shown)


def test_a_page_is_a_handful_of_widgets_and_paging_opens_none(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    fill(lab, 120)
    s = logged_in(lab)
    listing = s.command("LIST")
    reply = ReplyView(listing, "LIST", "mb", "POP3", live=s, displaylimit=50)
    costs = []
    for _ in range(2):  # a second display costs the same as the first
        before = len(dummy_comm)
        table = reply.widget()
        costs.append(len(dummy_comm) - before)
    assert costs[0] <= BUDGET and costs == [costs[0]] * 2
    assert "+OK" in html_of(table) and html_of(table).count("<tr>") == 1 + 50
    box = MailboxWidget(MailboxView(s, displaylimit=50))
    before = len(dummy_comm)
    box.next.click()
    box.next.click()
    box.prev.click()
    assert len(dummy_comm) == before and "page 2 of 3" in page_of(box)


def test_a_table_is_a_snapshot_of_when_it_was_shown(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    fill(lab, 2)
    s = logged_in(lab)
    listing = s.command("LIST")
    view = ReplyView(listing, "LIST", "mb", "POP3", live=s)
    table = view.widget()
    shown, html = html_of(table), view.as_html()
    s.command("DELE 1")
    s.command("TOP 2 0")
    assert html_of(table) == shown and view.as_html() == html and "line-through" not in html
    assert len(s.maildrop.listeners) == 0  # nothing subscribed


def test_a_closed_session_says_so_and_offers_reconnect(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    fill(lab, 1)
    s = logged_in(lab)
    s.command("LIST")
    box = MailboxWidget(MailboxView(s))
    replaced = [box.pick, *box.actions]
    s.close()
    press(box, 1, "View")
    assert all(w is not None and w.comm is None for w in replaced)
    assert "is closed" in page_of(box) and "Reconnect" in page_of(box)
    assert box.reconnect is not None and box.reconnect in box.controls.children
    assert box.pick is None and not box.actions  # replaced: closed, not left behind
    box.reconnect.click()
    assert s.is_open and "reconnected" in page_of(box) and "+OK" in html_of(box.box)
    s.close()
    later = MailboxView(s)  # built after the session closed: the header from the start
    assert "is closed" in later.as_html() and "is closed" in later.as_text()
    rebuilt = MailboxWidget(later)
    assert rebuilt.reconnect is not None and rebuilt.pick is None


def test_ten_thousand_messages_build_one_page(dummy_comm: list[DummyComm]) -> None:
    s = Pop3Session("big", Settings("127.0.0.1", 1))
    s.maildrop.sizes.update((n, 10_000) for n in range(1, 10_001))
    view = MailboxView(s, displaylimit=50)
    box = MailboxWidget(view)
    assert page_of(box).count("<tr>") == 51
    assert "page 1 of 200" in page_of(box)
    assert view.as_text().endswith("... and 9950 more")


def test_a_snapshot_lists_the_same_numbers_as_the_maildrop() -> None:
    drop = Pop3Session("n", Settings("127.0.0.1", 1)).maildrop
    drop.count = 5
    drop.sizes.update((n, 100) for n in range(1, 6))
    assert DropSnapshot.of(drop).numbers == tuple(drop.numbers) == (1, 2, 3, 4, 5)
    drop.uids[9] = "beyond-the-count"
    assert DropSnapshot.of(drop).numbers == tuple(drop.numbers) == (1, 2, 3, 4, 5, 9)


def test_hostile_headers_are_escaped(lab: LabServer) -> None:
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        smtp.sendmail(
            "x@lab.test",
            ["alice@lab.test"],
            f"Subject: {HOSTILE[0]}\r\nFrom: {HOSTILE[1]}\r\n\r\n".encode(),
        )
    s = logged_in(lab)
    s.command("TOP 1 0")
    assert_inert(MailboxView(s).as_html())
    assert HOSTILE[0] in MailboxView(s).as_text()


@pytest.mark.parametrize("limit", [1, 50])
def test_text_form_lists_the_first_page(lab: LabServer, limit: int) -> None:
    fill(lab, 2)
    s = logged_in(lab)
    s.command("LIST")
    text = MailboxView(s, displaylimit=limit).as_text()
    assert text.startswith("mb: 2 message(s)")
    assert ("... and 1 more" in text) == (limit == 1)

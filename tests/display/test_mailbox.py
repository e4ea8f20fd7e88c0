# What this module does: tests of the mailbox view (mailmagic/display/mailbox.py) on a live POP3
# session to the lab server, widgets checked without a browser (dummy comm): rows from LIST, UIDL
# and TOP, pagination by displaylimit, View / Headers / Delete buttons that talk to the server and
# show their result in the Output, deletion marks undone by RSET, hostile headers escaped, and
# closed tables that stop listening to the maildrop (and are never refreshed again).
from __future__ import annotations

import smtplib

import ipywidgets as widgets
import pytest

from mailmagic.display.mailbox import MailboxView, MailboxWidget, rows
from mailmagic.display.reply import ReplyView
from mailmagic.lab import LabServer
from mailmagic.session.base import Settings
from mailmagic.session.pop3 import Pop3Session
from tests.display.conftest import DummyComm, html_of
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


def buttons(widget: MailboxWidget, number: int) -> list[widgets.Button]:
    grid = widget.grid.children
    index = [
        i
        for i, c in enumerate(grid)
        if isinstance(c, widgets.HTML) and c.value.endswith(f">{number}</span>")
    ]
    actions = grid[index[0] + 6]
    assert isinstance(actions, widgets.HBox)
    return list(actions.children)  # type: ignore[arg-type]


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
    view = MailboxView(s, displaylimit=3)
    box = MailboxWidget(view)
    assert "page 1 of 3" in box.title.value
    assert len(box.grid.children) == 7 * (1 + 3)  # header row + 3 rows of 7 cells
    box.next.click()
    box.next.click()
    assert "page 3 of 3" in box.title.value and box.next.disabled
    assert len(box.grid.children) == 7 * 2
    box.prev.click()
    _, headers_button, delete_button = buttons(box, 4)
    headers_button.click()
    assert s.maildrop.headers[4].startswith(b"Return-Path:")
    assert "Subject: note 3" in str(box.output.outputs)
    delete_button.click()
    assert 4 in s.maildrop.deleted
    assert buttons(box, 4)[2].disabled
    s.command("RSET")
    assert not buttons(box, 4)[2].disabled
    assert dummy_comm  # the widgets really went through comms


def test_view_button_shows_the_message(lab: LabServer, dummy_comm: list[DummyComm]) -> None:
    fill(lab, 1, subject="hello")
    s = logged_in(lab)
    s.command("LIST")
    box = MailboxWidget(MailboxView(s))
    buttons(box, 1)[0].click()
    assert 1 in s.maildrop.headers
    assert "+OK" in str(box.output.outputs) and "Subject: hello 0" in str(box.output.outputs)


def test_a_closed_session_reports_instead_of_raising(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    fill(lab, 1)
    s = logged_in(lab)
    s.command("LIST")
    box = MailboxWidget(MailboxView(s))
    s.close()
    buttons(box, 1)[0].click()
    assert "is closed" in str(box.output.outputs)


def test_ten_thousand_messages_build_one_page(dummy_comm: list[DummyComm]) -> None:
    s = Pop3Session("big", Settings("127.0.0.1", 1))
    s.maildrop.sizes.update((n, 10_000) for n in range(1, 10_001))
    view = MailboxView(s, displaylimit=50)
    box = MailboxWidget(view)
    assert len(box.grid.children) == 7 * 51
    assert "page 1 of 200" in box.title.value
    assert view.as_text().endswith("... and 9950 more")


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


def test_closed_tables_stop_listening_and_are_not_refreshed(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    fill(lab, 2)
    s = logged_in(lab)
    listing = s.command("LIST")
    tables = [MailboxWidget(MailboxView(s)) for _ in range(10)]
    under_replies = [ReplyView(listing, "LIST", "mb", "POP3", live=s).widget() for _ in range(10)]
    assert len(s.maildrop.listeners) == 20
    for table in tables:
        table.box.close()
    for reply in under_replies:  # closing the reply's widget closes the table under it
        reply.close()
    assert len(s.maildrop.listeners) == 0
    shown = [html_of(t.box) for t in tables] + [html_of(r) for r in under_replies]
    s.command("DELE 1")
    assert [html_of(t.box) for t in tables] + [html_of(r) for r in under_replies] == shown
    live = MailboxWidget(MailboxView(s))
    s.command("RSET")
    assert len(s.maildrop.listeners) == 1 and "marked" not in live.title.value


def test_a_refresh_closes_the_cells_it_replaces(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    fill(lab, 2)
    s = logged_in(lab)
    s.command("LIST")
    box = MailboxWidget(MailboxView(s))
    before = list(box.grid.children)
    s.command("DELE 2")
    assert all(cell.comm is None for cell in before)
    assert all(cell.comm is not None for cell in box.grid.children)

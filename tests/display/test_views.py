# What this module does: tests of the other views (mailmagic/display/cell.py, session.py,
# transcript.py, lab.py, html.py) against real sessions on the lab server: what they show, that
# every text/html fallback escapes what came from a server and carries no script, that a result is
# a snapshot (later commands, deliveries or a stopped lab change neither its widget nor its HTML),
# that status shows the last entries and `status --live` follows the session and says so, that
# every result stays within the widget budget at the same cost each time (the first HTML widget in
# a kernel also opens the shared Layout and Style), that closed live panels stop listening to the
# transcript, and that the live transcript appends rows (an update sends the
# same however long the history).
from __future__ import annotations

import smtplib

import ipywidgets as widgets
import pytest

from mailmagic.display import html as h
from mailmagic.display.bundle import WIDGET_MIME
from mailmagic.display.cell import CellView
from mailmagic.display.lab import LabView
from mailmagic.display.reply import ReplyView
from mailmagic.display.session import LIVE_LINE, SessionsView, SessionView
from mailmagic.display.transcript import TAIL, TranscriptView
from mailmagic.lab import LabServer
from mailmagic.session.base import Settings
from mailmagic.session.smtp import SmtpSession
from mailmagic.session.transcript import Entry, Transcript
from tests.display.conftest import BUDGET, SHARED, DummyComm, html_of, values_sent
from tests.display.hostile import HOSTILE, assert_inert, smtp_reply


def test_cell_view_lists_exchanges_and_why_it_stopped() -> None:
    ok = ReplyView(smtp_reply("NOOP", b"250 2.0.0 OK\r\n"), "NOOP", "s", "SMTP")
    bad = ReplyView(
        smtp_reply("VRFY x", f"550 5.1.1 {HOSTILE[0]}\r\n".encode()), "VRFY x", "s", "SMTP"
    )
    cell = CellView((ok, bad), stopped="at the first failure")
    assert len(cell) == 2 and cell[-1] is bad and cell.last is bad
    assert [r.code for r in cell.replies] == [250, 550]  # type: ignore[union-attr]
    assert cell.as_text().endswith("stopped: at the first failure")
    assert_inert(cell.as_html())


def test_session_views_show_state_next_commands_and_tls(lab: LabServer) -> None:
    ca = str(lab.endpoints.ca_file)
    s = SmtpSession("main", Settings("127.0.0.1", lab.endpoints.smtps, tls="implicit", cafile=ca))  # type: ignore[arg-type]
    s.connect()
    view = SessionView(s).as_text()
    assert "GREETED" in view and "EHLO" in view and "verified" in view and "TLSv1" in view
    listing = SessionsView("SMTP", [s], "main")
    assert listing.as_text().startswith("* main") and "<table" in listing.as_html()
    s.close()
    assert "GREETED" in listing.as_text() and "closed" not in listing.as_html()  # a snapshot
    assert "reconnect" in SessionView(s).as_text()
    assert SessionsView("SMTP", [], None).as_text() == "no SMTP sessions"


def test_transcript_view_marks_directions_tls_and_times(lab: LabServer) -> None:
    s = SmtpSession("t", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    s.connect()
    s.command("NOOP")
    view = TranscriptView("t", s.transcript)
    assert "C: NOOP" in view.as_text() and "S: 250 2.0.0 OK" in view.as_text()
    assert " ms)" in view.as_html() and "<script" not in view.as_html()


def test_lab_view_never_shows_passwords(lab: LabServer) -> None:
    text = LabView(lab).as_text()
    assert "alice (0)" in text and "team: alice bob" in text
    assert "alice-password" not in text and "alice-password" not in LabView(lab).as_html()
    assert LabView(lab).endpoints is lab.endpoints


def test_lab_view_lists_the_faults_in_force(lab: LabServer) -> None:
    assert "faults: none" in LabView(lab).as_text()
    lab.faults.latency(40)
    lab.faults.override("smtp", "RCPT", "451 4.7.1 Greylisted", times=1)
    text = LabView(lab).as_text()
    assert "faults: latency: 40 ms round trip; smtp RCPT: reply '451 4.7.1 Greylisted'" in text


def test_lab_view_is_a_snapshot_of_when_it_was_shown(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    view = LabView(lab, note="reused")
    widget, html, text = view.widget(), view.as_html(), view.as_text()
    assert "alice (0)" in text and "running" in text and str(lab.endpoints.smtp) in text
    with smtplib.SMTP(lab.endpoints.host, lab.endpoints.smtp) as smtp:
        smtp.sendmail("bob@lab.test", ["alice@lab.test"], b"Subject: later\r\n\r\nx\r\n")
    lab.stop()
    assert (view.as_html(), view.as_text(), html_of(widget)) == (html, text, html)
    assert html_of(view.widget()) == html and values_sent(dummy_comm) == []
    assert "stopped" in LabView(lab).as_text()  # shown again: the lab as it is then


def test_html_helpers_escape_and_colour() -> None:
    assert h.esc('<b a="1">') == "&lt;b a=&quot;1&quot;&gt;"
    assert h.colour_of("550") == h.COLOURS["5"] and h.colour_of("+OK") == h.COLOURS["+OK"]
    assert "&lt;x&gt;" in h.table(("a",), [("<x>",)])


def test_widget_trees_without_a_browser(lab: LabServer, dummy_comm: list[DummyComm]) -> None:
    s = SmtpSession("w", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    greeting = s.connect()
    panel = ReplyView(greeting, "open lab smtp", "w", "SMTP", live=s, panel=True).widget()
    assert isinstance(panel, widgets.HTML)  # nothing to click: one HTML widget
    assert "220" in panel.value and "Service ready" in panel.value
    assert "GREETED" in panel.value and "S: 220" in panel.value
    cell = CellView((ReplyView(s.command("NOOP"), "NOOP", "w", "SMTP"),), stopped=None).widget()
    assert isinstance(cell, widgets.HTML) and "250" in cell.value
    assert "<table" in SessionsView("SMTP", [s], "w").widget().value
    assert "lab server" in LabView(lab).widget().value


def test_the_panel_under_open_is_a_snapshot(lab: LabServer, dummy_comm: list[DummyComm]) -> None:
    s = SmtpSession("snap", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    view = ReplyView(s.connect(), "open lab smtp", "snap", "SMTP", live=s, panel=True)
    panel, html, text = view.widget(), view.as_html(), view.as_text()
    assert html_of(panel) == html and "GREETED" in html
    s.command("EHLO me")
    s.command("NOOP")
    s.close()
    assert html_of(panel) == html and view.as_html() == html and view.as_text() == text
    assert html_of(view.widget()) == html  # shown again later: still the moment it ran
    assert "C: EHLO me" not in html and "closed" not in html and values_sent(dummy_comm) == []


def test_status_live_follows_the_session_and_says_so(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    s = SmtpSession("l", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    s.connect()
    live, still = SessionView(s, live=True), SessionView(s)
    panel, snapshot = live.widget(), still.widget()
    for form in (live.as_text(), live.as_html(), html_of(panel)):
        assert "live" in form and LIVE_LINE in form
    assert LIVE_LINE not in still.as_html() + still.as_text()
    s.command("EHLO me")
    assert "C: EHLO me" in html_of(panel) and "READY" in html_of(panel)  # it followed
    assert "C: EHLO me" not in html_of(snapshot) and "READY" not in html_of(snapshot)


def test_status_shows_the_last_entries_and_how_many_came_before(lab: LabServer) -> None:
    s = SmtpSession("tail", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    s.connect()
    for _ in range(20):
        s.command("NOOP")
    status = SessionView(s)
    earlier = len(s.transcript.entries) - TAIL
    hint = f"\u2026 {earlier} earlier entries; `%smtp transcript tail` shows all"
    assert hint in status.as_text() and h.esc(hint) in status.as_html()
    assert status.as_html().count("C: NOOP") + status.as_html().count("S: 250") == TAIL
    whole = TranscriptView("tail", s.transcript)  # what %smtp transcript shows: everything
    assert whole.as_text().count("C: NOOP") == 20 and "earlier" not in whole.as_html()


def test_a_result_is_a_handful_of_widgets_and_costs_the_same_each_time(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    s = SmtpSession("b", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    opened = ReplyView(s.connect(), "open", "b", "SMTP", live=s, panel=True)
    ehlo = ReplyView(s.command("EHLO me"), "EHLO me", "b", "SMTP", live=s)
    cell = CellView(tuple(ReplyView(s.command("NOOP"), "NOOP", "b", "SMTP") for _ in range(9)))
    for shown in (opened, ehlo, cell, SessionView(s), TranscriptView("b", s.transcript)):
        costs = []
        for _ in range(2):
            before = len(dummy_comm)
            shown.widget()
            costs.append(len(dummy_comm) - before)
        shared = SHARED if shown is opened else 0  # the first one opens the shared Layout, Style
        assert costs[0] <= BUDGET and costs[0] == costs[1] + shared, (type(shown).__name__, costs)


def test_closed_live_panels_stop_listening_and_are_not_updated(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    s = SmtpSession("c", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    greeting = s.connect()
    panels = [SessionView(s, live=True).widget() for _ in range(5)]
    panels += [TranscriptView("c", s.transcript).live_widget() for _ in range(5)]
    panels += [ReplyView(greeting, "open", "c", "SMTP", live=s, panel=True).widget()]
    assert len(s.transcript.listeners) == 5 * 2 + 5  # a live panel: status + transcript
    for panel in panels:
        panel.close()
    assert len(s.transcript.listeners) == 0
    shown = [html_of(p) for p in panels]
    s.command("NOOP")
    assert [html_of(p) for p in panels] == shown and "C: NOOP" not in "".join(shown)


def test_live_transcript_update_cost_does_not_grow_with_history(
    dummy_comm: list[DummyComm], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mailmagic.display.transcript as module

    rendered: list[Entry] = []
    row = module._row
    monkeypatch.setattr(module, "_row", lambda entry: rendered.append(entry) or row(entry))

    def sent_for_one_more(history: int) -> list[str]:
        t = Transcript()
        for _ in range(history):
            t.note("x", tls=False)
        TranscriptView("t", t).live_widget()
        rendered.clear()
        before = len(values_sent(dummy_comm))
        t.note("x", tls=False)
        assert len(rendered) == 1  # only the new row is rendered
        return values_sent(dummy_comm)[before:]

    short, long = sent_for_one_more(10), sent_for_one_more(10 + 20 * module.ROWS_PER_BLOCK)
    assert len(long) == 1 and [len(v) for v in long] == [len(v) for v in short]
    assert long[0].count("<div") == 11  # the last block's rows, not the whole history


def test_bundles_carry_the_widget_only_in_a_kernel(
    lab: LabServer, dummy_comm: list[DummyComm], request: pytest.FixtureRequest
) -> None:
    s = SmtpSession("k", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    view = ReplyView(s.connect(), "open", "k", "SMTP", live=s)
    assert set(view._repr_mimebundle_()) == {"text/plain", "text/html"}
    request.getfixturevalue("in_a_kernel")
    for shown in (view, TranscriptView("k", s.transcript), SessionView(s), LabView(lab)):
        assert set(shown._repr_mimebundle_()) == {"text/plain", "text/html", WIDGET_MIME}

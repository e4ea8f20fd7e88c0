# What this module does: tests of the other views (mailmagic/display/cell.py, session.py,
# transcript.py, lab.py, html.py) against real sessions on the lab server: what they show, that
# every text/html fallback escapes what came from a server and carries no script, that closed
# panels stop listening to the transcript, and that the live transcript appends rows (an update
# sends the same however long the history).
from __future__ import annotations

import pytest

from mailmagic.display import html as h
from mailmagic.display.bundle import WIDGET_MIME
from mailmagic.display.cell import CellView
from mailmagic.display.lab import LabView
from mailmagic.display.reply import ReplyView
from mailmagic.display.session import SessionsView, SessionView
from mailmagic.display.transcript import TranscriptView
from mailmagic.lab import LabServer
from mailmagic.session.base import Settings
from mailmagic.session.smtp import SmtpSession
from mailmagic.session.transcript import Entry, Transcript
from tests.display.conftest import DummyComm, html_of, values_sent
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


def test_html_helpers_escape_and_colour() -> None:
    assert h.esc('<b a="1">') == "&lt;b a=&quot;1&quot;&gt;"
    assert h.colour_of("550") == h.COLOURS["5"] and h.colour_of("+OK") == h.COLOURS["+OK"]
    assert "&lt;x&gt;" in h.table(("a",), [("<x>",)])


def test_widget_trees_without_a_browser(lab: LabServer, dummy_comm: list[DummyComm]) -> None:
    s = SmtpSession("w", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    greeting = s.connect()
    panel = ReplyView(greeting, "open lab smtp", "w", "SMTP", live=s, panel=True).widget()
    head, session_panel = panel.children
    assert "220" in head.value and "Service ready" in head.value
    status, transcript = session_panel.children
    assert "GREETED" in status.value and "S: 220" in html_of(transcript)
    s.command("EHLO me")
    assert "C: EHLO me" in html_of(transcript) and "READY" in status.value  # live: grew by itself
    cell = CellView((ReplyView(s.command("NOOP"), "NOOP", "w", "SMTP"),), stopped=None).widget()
    assert len(cell.children) == 1
    assert "<table" in SessionsView("SMTP", [s], "w").widget().value
    assert "lab server" in LabView(lab).widget().value


def test_bundles_carry_the_widget_only_in_a_kernel(
    lab: LabServer, dummy_comm: list[DummyComm], request: pytest.FixtureRequest
) -> None:
    s = SmtpSession("k", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    view = ReplyView(s.connect(), "open", "k", "SMTP", live=s)
    assert set(view._repr_mimebundle_()) == {"text/plain", "text/html"}
    request.getfixturevalue("in_a_kernel")
    for shown in (view, TranscriptView("k", s.transcript), SessionView(s), LabView(lab)):
        assert set(shown._repr_mimebundle_()) == {"text/plain", "text/html", WIDGET_MIME}


def test_closed_panels_stop_listening_and_are_not_updated(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    s = SmtpSession("c", Settings("127.0.0.1", lab.endpoints.smtp))  # type: ignore[arg-type]
    greeting = s.connect()
    panels = [SessionView(s).widget() for _ in range(5)]
    panels += [TranscriptView("c", s.transcript).widget() for _ in range(5)]
    panels += [ReplyView(greeting, "open", "c", "SMTP", live=s, panel=True).widget()]
    assert len(s.transcript.listeners) == 5 * 2 + 5 + 2  # a session panel: status + transcript
    for panel in panels:
        panel.close()
    assert len(s.transcript.listeners) == 0
    shown = [html_of(p) for p in panels]
    s.command("NOOP")
    assert [html_of(p) for p in panels] == shown and "C: NOOP" not in "".join(shown)


def test_transcript_panel_update_cost_does_not_grow_with_history(
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
        TranscriptView("t", t).widget()
        rendered.clear()
        before = len(values_sent(dummy_comm))
        t.note("x", tls=False)
        assert len(rendered) == 1  # only the new row is rendered
        return values_sent(dummy_comm)[before:]

    short, long = sent_for_one_more(10), sent_for_one_more(10 + 20 * module.ROWS_PER_BLOCK)
    assert len(long) == 1 and [len(v) for v in long] == [len(v) for v in short]
    assert long[0].count("<div") == 11  # the last block's rows, not the whole history

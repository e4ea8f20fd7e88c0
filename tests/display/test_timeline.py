# What this module does: tests of the sequence-diagram view (mailmagic/display/timeline.py) on real
# exchanges with the lab server: a pipelined exchange (session.pipeline) fans out as several
# command arrows before the first reply while one at a time alternates; STARTTLS is marked; a POP3
# PASS shows as `PASS ***`; the bundle holds image/svg+xml, the same inline SVG as text/html and a
# text timeline; the SVG is well-formed and inert (no script, no on* attributes, no reference to
# anything outside it, hostile server text escaped, control characters replaced); `last` limits the
# entries; a view is a snapshot of the moment it was made; and in a kernel it is one HTML widget
# of the same SVG, within the widget budget.
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from ipywidgets.widgets.widget import _instances as instances  # type: ignore[import-untyped, unused-ignore]

from mailmagic.display.bundle import WIDGET_MIME
from mailmagic.display.timeline import TimelineView, svg
from mailmagic.lab import LabServer
from mailmagic.session.base import Settings
from mailmagic.session.pop3 import Pop3Session
from mailmagic.session.smtp import SmtpSession
from mailmagic.session.transcript import Entry, Transcript
from tests.display.conftest import BUDGET, DummyComm
from tests.display.hostile import HOSTILE

SVG_NS = "{http://www.w3.org/2000/svg}"
DELAY_MS = 20  # each SMTP reply this late: round trips long enough to see on any machine
RCPTS = 4


def smtp(lab: LabServer, **settings: object) -> SmtpSession:
    options = {"cafile": str(lab.endpoints.ca_file), "timeout": 10.0, **settings}
    session = SmtpSession("main", Settings(lab.endpoints.host, lab.endpoints.smtp, **options))  # type: ignore[arg-type]
    session.connect()
    return session


def arrows_of(svg_text: str) -> list[tuple[float, str]]:
    """Every arrow of the drawing as (y where it leaves, direction), top to bottom."""
    root = ET.fromstring(svg_text)
    arrows = [e for e in root.iter(f"{SVG_NS}line") if e.get("marker-end")]
    found = [(float(e.get("y1", 0)), str(e.get("marker-end"))) for e in arrows]
    return sorted((y, "client" if "client" in m else "server") for y, m in found)


def assert_inert_svg(svg_text: str) -> None:
    """No script, no event handler, no link or reference to anything outside the picture."""
    root = ET.fromstring(svg_text)  # well-formed XML, or this raises
    for element in root.iter():
        assert element.tag.removeprefix(SVG_NS) not in {"script", "foreignObject", "a", "image"}
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert "href" not in name.lower(), name
            assert not re.search(r"url\((?!#)", value), value  # only url(#marker) inside it
    assert "<script" not in svg_text.lower()  # text that merely reads "javascript:" is harmless


def test_a_pipelined_exchange_fans_out_and_one_at_a_time_alternates(lab: LabServer) -> None:
    lab.faults.delay("smtp", DELAY_MS)
    session = smtp(lab)
    session.command("EHLO me")
    start = len(session.transcript.entries)
    for _ in range(RCPTS):
        session.command("VRFY alice")
    middle = len(session.transcript.entries)
    replies = list(session.pipeline(["VRFY alice"] * RCPTS))
    assert len(replies) == RCPTS
    entries = session.transcript.entries
    alternating = arrows_of(svg(tuple(entries[start:middle]), "one at a time"))
    assert [d for _, d in alternating] == ["client", "server"] * RCPTS
    pipelined = arrows_of(svg(tuple(entries[middle:]), "pipelined"))
    assert [d for _, d in pipelined] == ["client"] * RCPTS + ["server"] * RCPTS
    ys = [y for y, _ in pipelined]
    assert ys == sorted(ys)


def test_starttls_is_marked_and_secrets_stay_masked(lab: LabServer) -> None:
    session = smtp(lab, tls="starttls")
    view = TimelineView("main", session.transcript)
    assert "TLS started" in view.as_text() and ">TLS</text>" in view.as_svg()
    pop3 = Pop3Session("p", Settings(lab.endpoints.host, lab.endpoints.pop3, timeout=10.0))
    pop3.connect()
    assert pop3.login("alice", "alice-password", "user").ok
    shown = TimelineView("p", pop3.transcript, "POP3")
    bundle = shown._repr_mimebundle_()
    assert "C: PASS ***" in bundle["text/plain"] and "PASS ***" in bundle["image/svg+xml"]
    assert all("alice-password" not in str(v) for v in bundle.values())


def test_the_bundle_is_svg_the_same_svg_inline_and_text(lab: LabServer) -> None:
    session = smtp(lab)
    session.command("NOOP")
    bundle = TimelineView("main", session.transcript)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "image/svg+xml"}
    assert bundle["image/svg+xml"] in bundle["text/html"]
    text = bundle["text/plain"].splitlines()
    assert text[0] == "SMTP session main: timeline of all entries:"
    assert re.fullmatch(r"\+0\.000 \[connected to 127\.0\.0\.1:\d+\]", text[1])
    assert re.fullmatch(r"\+\d\.\d{3} C: NOOP", text[3]), text
    assert_inert_svg(bundle["image/svg+xml"])


def test_hostile_server_text_is_escaped_and_the_svg_stays_inert() -> None:
    transcript = Transcript()
    transcript.sent("NOOP", tls=False)
    for hostile in HOSTILE:
        transcript.received(f"250 {hostile}\r\n".encode(), tls=False, rtt=0.001)
    transcript.received(b"250 bell\x07 nul\x00 esc\x1b[31m\r\n", tls=False, rtt=0.001)
    picture = TimelineView("evil", transcript).as_svg()
    assert_inert_svg(picture)
    assert "&lt;script&gt;" in picture and "\x00" not in picture and "\x1b" not in picture
    assert_inert_svg(TimelineView('<svg onload="x">', transcript).as_svg())


def test_last_limits_the_entries_and_says_so() -> None:
    transcript = Transcript()
    for n in range(6):
        transcript.sent(f"NOOP {n}", tls=False)
    view = TimelineView("main", transcript, last=2)
    assert [e.text for e in view.entries] == ["NOOP 4", "NOOP 5"]
    assert "the last 2 of 6 entries" in view.as_text()
    assert "NOOP 3" not in view.as_svg() and "NOOP 5" in view.as_svg()
    assert len(TimelineView("main", transcript, last=10).entries) == 6


def test_a_view_is_a_snapshot() -> None:
    transcript = Transcript()
    transcript.sent("NOOP", tls=False)
    view = TimelineView("main", transcript)
    before = view.as_svg()
    transcript.entries.append(Entry("client", b"QUIT\r\n", transcript.entries[0].time + 1, False))
    assert view.as_svg() == before and "QUIT" not in view.as_text()
    assert "nothing recorded yet" in TimelineView("empty", Transcript()).as_text()


@pytest.mark.usefixtures("in_a_kernel")
def test_in_a_kernel_it_is_one_html_widget_of_the_same_svg(dummy_comm: list[DummyComm]) -> None:
    before = set(instances)
    transcript = Transcript()
    transcript.sent("NOOP", tls=False)
    view = TimelineView("main", transcript)
    bundle = view._repr_mimebundle_()
    assert {"text/plain", "text/html", "image/svg+xml", WIDGET_MIME} == set(bundle)
    assert len(dummy_comm) <= BUDGET
    assert view.widget().value == bundle["text/html"]
    for model_id in set(instances) - before:  # while the dummy comm is in place
        instances[model_id].close()

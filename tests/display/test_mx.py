# What this module does: tests of the MX views (mailmagic/display/mx.py): the table of hosts by
# preference with what each address did (answered, why it failed, not tried), the implicit MX said
# in the title, hostile host names from DNS shown as text in HTML, and the open result: the reply
# view of a real greeting from the lab server with the table above it, one HTML widget in a kernel,
# and `r.code` / `r.mx` still read through.
from __future__ import annotations

import ipywidgets as widgets

from mailmagic.display.mx import NOT_TRIED, MxReplyView, MxView
from mailmagic.display.reply import ReplyView
from mailmagic.lab import LabServer
from mailmagic.session.base import Settings
from mailmagic.session.mx import Attempt, MxHost, MxLookup
from mailmagic.session.smtp import SmtpSession
from tests.display.conftest import DummyComm, html_of
from tests.display.hostile import HOSTILE, assert_inert

LOOKUP = MxLookup(
    "example.test",
    (
        MxHost(10, "mx1.example.test", ("192.0.2.1", "2001:db8::1")),
        MxHost(20, "mx2.example.test", ("127.0.0.1",)),
        MxHost(30, "gone.example.test", (), "no such host (NXDOMAIN)"),
        MxHost(40, "mx4.example.test", ("192.0.2.4",)),
    ),
    nameservers=("127.0.0.1:5353",),
)
ATTEMPTS = (
    Attempt("mx1.example.test", "192.0.2.1", "Connection refused"),
    Attempt("mx1.example.test", "2001:db8::1", "could not connect within 10 s"),
    Attempt("mx2.example.test", "127.0.0.1"),
)


def test_the_table_says_what_each_host_did() -> None:
    view = MxView(LOOKUP, ATTEMPTS)
    assert view.rows() == [
        (
            "10",
            "mx1.example.test",
            "192.0.2.1 2001:db8::1",
            "192.0.2.1: Connection refused; 2001:db8::1: could not connect within 10 s",
        ),
        ("20", "mx2.example.test", "127.0.0.1", "127.0.0.1: answered"),
        ("30", "gone.example.test", "-", "no such host (NXDOMAIN)"),
        ("40", "mx4.example.test", "192.0.2.4", NOT_TRIED),
    ]
    text = view.as_text()
    assert text.startswith("MX of example.test, lowest preference first (RFC 5321 5.1")
    assert "127.0.0.1:5353" in text and text.index("mx1.example") < text.index("mx2.example")
    assert "<table" in view.as_html() and "RFC 5321 5.1" in view.as_html()


def test_an_implicit_mx_says_so_and_untried_hosts_before_any_attempt() -> None:
    implicit = MxLookup("plain.test", (MxHost(0, "plain.test", ("127.0.0.1",)),), implicit=True)
    view = MxView(implicit)
    assert "plain.test has no MX records: the domain itself" in view.as_text()
    assert "system's resolver" in view.as_text()
    assert view.rows() == [("0", "plain.test", "127.0.0.1", "not tried")]


def test_hostile_host_names_are_text() -> None:
    hosts = tuple(MxHost(n, name, ("192.0.2.9",), "") for n, name in enumerate(HOSTILE))
    attempts = tuple(Attempt(name, "192.0.2.9", name) for name in HOSTILE)
    html = MxView(MxLookup(HOSTILE[0], hosts), attempts).as_html()
    assert_inert(html)
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html


def test_the_open_result_has_the_table_above_the_greeting_in_one_widget(
    lab: LabServer, dummy_comm: list[DummyComm]
) -> None:
    settings = Settings("mx2.example.test", lab.endpoints.smtp, address="127.0.0.1")
    s = SmtpSession("default", settings)
    opened = ReplyView(
        s.connect(), "open mx2.example.test 25", "default", "SMTP", live=s, panel=True
    )
    view = MxReplyView.around(opened, MxView(LOOKUP, ATTEMPTS))
    assert view.code == 220 and view.mx is not None and view.mx.lookup is LOOKUP
    text, html = view.as_text(), view.as_html()
    assert text.index("mx4.example.test") < text.index("S: 220") and "Service ready" in text
    assert html.index("mx4.example.test") < html.index("Service ready") < html.index("GREETED")
    assert html == MxView(LOOKUP, ATTEMPTS).as_html() + opened.as_html()
    widget = view.widget()
    assert isinstance(widget, widgets.HTML) and html_of(widget) == html
    s.close()

# What this module does: tests of the transcript (mailmagic/session/transcript.py): entries kept
# in order with direction, time and TLS state, the telnet-style text form, and each new entry
# told to whoever subscribed.
from __future__ import annotations

from mailmagic.session.transcript import Transcript


def test_entries_and_text_form() -> None:
    t = Transcript()
    t.note("connected to h:25", tls=False)
    t.received(b"220 ready\r\n", tls=False, rtt=0.01)
    t.sent("EHLO me", tls=False)
    t.received(b"250-h\r\n250 HELP\r\n", tls=False, rtt=0.002)
    t.sent_text(b"Subject: x\r\n", tls=True)
    assert [e.direction for e in t.entries] == ["note", "server", "client", "server", "client"]
    assert t.entries[-1].tls and not t.entries[0].tls
    assert t.text().splitlines() == [
        "[connected to h:25]",
        "S: 220 ready",
        "C: EHLO me",
        "S: 250-h",
        "S: 250 HELP",
        "C: Subject: x",
    ]


def test_undecodable_bytes_are_shown_not_lost() -> None:
    t = Transcript()
    t.received(b"+OK \xff\xfe\r\n", tls=False, rtt=None)
    assert t.entries[0].data == b"+OK \xff\xfe\r\n"
    assert "\ufffd" in t.text()


def test_subscribers_hear_each_new_entry() -> None:
    t, heard = Transcript(), list[str]()
    subscription = t.listeners.subscribe(lambda entry: heard.append(entry.text))
    t.note("one", tls=False)
    t.sent("NOOP", tls=False)
    assert heard == ["one", "NOOP"]
    subscription.close()
    t.note("two", tls=False)
    assert heard == ["one", "NOOP"]

# What this module does: tests of the cassette format (mailmagic/protocol/cassette.py) as tables
# of cases without sockets: a cassette written and read back is the same; every validation fault
# is a CassetteError naming the file, the line and what is wrong; and how a line the client sends
# is matched against the recorded one (case, spacing, angle brackets, masked secrets).
from __future__ import annotations

import json

import pytest

from mailmagic.protocol.cassette import (
    Cassette,
    CassetteError,
    Event,
    Header,
    dump,
    matches,
    parse,
)

HEADER = {"mailmagic-cassette": 1, "protocol": "smtp", "server": "s", "recorded": "2005-03-04"}


def text(*lines: object) -> str:
    return "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"


def test_round_trip() -> None:
    cassette = Cassette(
        Header("pop3", "mail.example.com:110", "2026-01-01T00:00:00+00:00", "hand", "a note"),
        (
            Event(0.0, "note", "connected"),
            Event(0.01, "s", "+OK ready"),
            Event(0.5, "c", "PASS ***"),
            Event(0.5, "s", "+OK héllo"),
        ),
        "x.jsonl",
    )
    assert parse(dump(cassette), "x.jsonl") == cassette


def test_blank_lines_are_skipped_and_line_numbers_kept() -> None:
    cassette = parse(text(HEADER, "", {"t": 0, "dir": "s", "line": "220 hi"}))
    assert cassette.events == (Event(0.0, "s", "220 hi"),)
    with pytest.raises(CassetteError, match=r"f\.jsonl, line 3: not JSON"):
        parse(text(HEADER, "", "{oops"), "f.jsonl")


EVENT = {"t": 0, "dir": "s", "line": "220 hi"}


@pytest.mark.parametrize(
    ("lines", "fault"),
    [
        ((), r"f: empty file, not a mailmagic cassette"),
        (("{not json",), r"f, line 1: not JSON"),
        (([1, 2],), r"f, line 1: expected a JSON object"),
        (({"protocol": "smtp"},), r'f, line 1: no "mailmagic-cassette" header'),
        (({**HEADER, "mailmagic-cassette": 2},), r"line 1: cassette format version 2 is unknown"),
        (({**HEADER, "protocol": "imap"},), r"line 1: \"protocol\" is 'imap', not smtp or pop3"),
        (({k: v for k, v in HEADER.items() if k != "server"},), r'line 1: the field "server"'),
        (({**HEADER, "recorded": 5},), r'line 1: "recorded" must be a string, not 5'),
        (({**HEADER, "note": ["x"]},), r'line 1: "note" must be a string'),
        ((HEADER, {"dir": "s", "line": "x"}), r'f, line 2: the field "t" is missing'),
        ((HEADER, {"t": 0, "line": "x"}), r'line 2: the field "dir" is missing'),
        ((HEADER, {"t": 0, "dir": "s"}), r'line 2: the field "line" is missing'),
        ((HEADER, {**EVENT, "t": -1}), r'line 2: "t" must be a number of seconds, 0 or more'),
        ((HEADER, {**EVENT, "t": "0"}), r'line 2: "t" must be a number'),
        ((HEADER, {**EVENT, "t": True}), r'line 2: "t" must be a number'),
        ((HEADER, {**EVENT, "dir": "x"}), r'line 2: "dir" must be "c", "s" or "note"'),
        ((HEADER, {**EVENT, "line": "a\r\nb"}), r'line 2: "line" must be one line of text'),
        ((HEADER, {**EVENT, "line": 3}), r'line 2: "line" must be one line of text'),
        ((HEADER, {**EVENT, "t": 2}, {**EVENT, "t": 1}), r'line 3: "t" goes back in time'),
    ],
)
def test_every_fault_is_named_with_file_and_line(lines: tuple[object, ...], fault: str) -> None:
    with pytest.raises(CassetteError, match=fault):
        parse(text(*lines) if lines else "\n", "f")


def test_the_wrong_protocol_is_refused_with_what_to_do() -> None:
    with pytest.raises(
        CassetteError, match=r"line 1: the cassette is SMTP, not POP3: .*%smtp open --replay"
    ):
        parse(text(HEADER, EVENT), "f", protocol="pop3")
    assert parse(text(HEADER, EVENT), "f", protocol="SMTP").protocol == "smtp"


@pytest.mark.parametrize(
    ("recorded", "sent", "same"),
    [
        ("HELO me", "helo me", True),
        ("HELO me", "HELO  me ", True),
        ("MAIL FROM: me@x.com", "MAIL FROM:<me@x.com>", True),
        ("RCPT TO:<you@y.com>", "rcpt to: you@y.com", True),
        ("RCPT TO:<you@y.com>", "RCPT TO:<bob@y.com>", False),
        ("HELO me", "EHLO me", False),
        ("PASS ***", "PASS hunter2", True),
        ("PASS ***", "USER hunter2", False),
        ("AUTH PLAIN ***", "auth plain AGFsaWNl", True),
        ("AUTH PLAIN ***", "AUTH LOGIN", False),
        ("***", "dGVzdA==", True),
        ("QUIT", "QUIT now", False),
    ],
)
def test_matching(recorded: str, sent: str, same: bool) -> None:
    assert matches(recorded, sent) is same

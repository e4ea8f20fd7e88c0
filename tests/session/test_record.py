# What this module does: tests of recording a session to a cassette (mailmagic/session/record.py)
# against the real lab server: the file is a valid cassette written as the session goes; a login
# with a known password (POP3 PASS, SMTP AUTH) never writes it; an existing file is never
# overwritten; the recording ends with the connection; a TLS upgrade is a note; and a recorded
# session replayed (lab/replay.py) gives the same commands the very same replies (the part after
# a STARTTLS in clear, the STARTTLS itself refused).
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from mailmagic.lab import LabServer
from mailmagic.lab.replay import ReplayServer, load
from mailmagic.session.base import SessionError, Settings
from mailmagic.session.pop3 import Pop3Session
from mailmagic.session.record import Recorder
from mailmagic.session.smtp import SmtpSession

SMTP_LINES = [
    "EHLO me",
    "MAIL FROM:<alice@lab.test>",
    "RCPT TO:<nobody@elsewhere.test>",
    "RCPT TO:<bob@lab.test>",
    "DATA",
    "Subject: recorded",
    "",
    "..a stuffed line",
    ".",
    "NOOP",
    "QUIT",
]


def raw(reply: object) -> bytes | None:
    return getattr(reply, "raw", None)


def test_record_then_replay_gives_the_same_replies(lab: LabServer, tmp_path: Path) -> None:
    path = tmp_path / "smtp.jsonl"
    live = SmtpSession("live", Settings(lab.endpoints.host, lab.endpoints.smtp))
    recorder = Recorder.start(live, path, "lab smtp")
    greeting = raw(live.connect())
    replies = [raw(live.command(line)) for line in SMTP_LINES]
    assert not recorder.recording  # the server closed after QUIT: the recording ended
    cassette = load(str(path), "smtp")
    assert cassette.header.server == "lab smtp"
    with ReplayServer(cassette) as server:
        again = SmtpSession("again", Settings(server.host, server.port))
        assert raw(again.connect()) == greeting
        assert [raw(again.command(line)) for line in SMTP_LINES] == replies
    assert sum(reply is not None for reply in replies) == 8  # message text gets none


def test_a_password_is_never_written(lab: LabServer, tmp_path: Path) -> None:
    path = tmp_path / "pop3.jsonl"
    session = Pop3Session("p", Settings(lab.endpoints.host, lab.endpoints.pop3))
    recorder = Recorder.start(session, path, "lab pop3")
    session.connect()
    assert session.login("alice", "alice-password", "user").ok
    session.command("STAT")
    session.close()
    text = path.read_bytes()
    assert b"alice-password" not in text
    assert base64.b64encode(b"alice-password") not in text
    assert b'"PASS ***"' in text
    assert not recorder.recording
    with ReplayServer(load(str(path))) as server:
        again = Pop3Session("again", Settings(server.host, server.port))
        again.connect()
        assert again.login("alice", "any other password", "user").ok


def test_each_line_is_on_disk_as_soon_as_it_is_seen(lab: LabServer, tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    session = SmtpSession("live", Settings(lab.endpoints.host, lab.endpoints.smtp))
    recorder = Recorder.start(session, path, "lab smtp")
    session.connect()
    session.command("NOOP")
    written = path.read_text().splitlines()  # read while the file is still open
    assert '"NOOP"' in written[-2]
    assert '"dir": "s"' in written[-1] and "250" in written[-1]
    assert recorder.recording
    session.close()


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "kept.jsonl"
    path.write_text("precious\n")
    session = SmtpSession("s", Settings("127.0.0.1", 1))
    with pytest.raises(SessionError, match=r"kept.jsonl exists: a recording never overwrites"):
        Recorder.start(session, path, "x")
    assert path.read_text() == "precious\n"
    with pytest.raises(SessionError, match="cannot record to"):
        Recorder.start(session, tmp_path / "no" / "such" / "dir.jsonl", "x")


def test_an_smtp_login_is_never_written(lab: LabServer, tmp_path: Path) -> None:
    path = tmp_path / "auth.jsonl"
    session = SmtpSession("s", Settings(lab.endpoints.host, lab.endpoints.submission))
    recorder = Recorder.start(session, path, "lab submission")  # held: it records while held
    session.connect()
    session.command("EHLO me")
    assert session.login("alice", "alice-password").code == 235
    session.close()
    text = path.read_bytes()
    assert b"alice-password" not in text
    assert base64.b64encode(b"\0alice\0alice-password") not in text
    assert b'"AUTH PLAIN ***"' in text
    assert not recorder.recording


def test_a_tls_upgrade_is_a_note_and_replays_in_clear(lab: LabServer, tmp_path: Path) -> None:
    path = tmp_path / "tls.jsonl"
    ca = str(lab.endpoints.ca_file)
    live = SmtpSession(
        "tls", Settings(lab.endpoints.host, lab.endpoints.smtp, "starttls", cafile=ca)
    )
    recorder = Recorder.start(live, path, "lab smtp")
    live.connect()
    after_tls = raw(live.command("EHLO again"))
    live.close()
    assert not recorder.recording
    events = load(str(path)).events
    assert any(e.dir == "note" and e.line.startswith("TLS started: TLS") for e in events)
    with ReplayServer(load(str(path))) as server:
        clear = SmtpSession("clear", Settings(server.host, server.port))
        clear.connect()
        assert getattr(clear.command("EHLO localhost"), "code", None) == 250
        refused = raw(clear.command("STARTTLS")) or b""
        assert refused.startswith(b"454 4.7.0 TLS cannot be replayed")
        assert raw(clear.command("EHLO again")) == after_tls

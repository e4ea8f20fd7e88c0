# What this module does: tests of the replay server (mailmagic/lab/replay.py): the Player's walk
# through a cassette without sockets (mismatch replies that name what was expected, message text,
# STARTTLS refused and passed over, the end of the cassette), and the ReplayServer on a real
# loopback port answering smtplib, poplib and curl with the recorded replies, from the start for
# every connection, keeping the recorded delays when asked (a lower bound only); the shipped
# cassettes load, and a damaged file or unknown name is a clear CassetteError.
from __future__ import annotations

import poplib
import shutil
import smtplib
import subprocess
import time
from pathlib import Path

import pytest

from mailmagic.lab.replay import Player, ReplayServer, find, load, masked, shipped
from mailmagic.protocol.cassette import Cassette, CassetteError, Event, Header, dump, parse


def cassette(protocol: str, *events: tuple[str, str], t: float = 0.0) -> Cassette:
    return Cassette(
        Header(protocol, "test", "2026-01-01"),
        tuple(Event(t * i, d, line) for i, (d, line) in enumerate(events)),  # type: ignore[arg-type]
        "/x/test-cassette.jsonl",
    )


SMTP = cassette(
    "smtp",
    ("note", "connected"),
    ("s", "220-mail.example.com ESMTP"),
    ("s", "220 second line"),
    ("c", "EHLO me"),
    ("s", "250-mail.example.com"),
    ("s", "250 STARTTLS"),
    ("c", "STARTTLS"),
    ("s", "220 go ahead"),
    ("note", "TLS started: TLSv1.3"),
    ("c", "MAIL FROM:<a@example.com>"),
    ("s", "250 ok"),
    ("c", "RCPT TO:<bob@example.com>"),
    ("s", "250 ok"),
    ("c", "DATA"),
    ("s", "354 go on"),
    ("c", "Subject: x"),
    ("c", "."),
    ("s", "250 queued"),
)


def lines(answer: object) -> list[str]:
    return [line for _, line in answer.lines]


def test_greeting_then_recorded_replies_and_mismatch_names_the_expectation() -> None:
    player = Player(SMTP)
    assert lines(player.greeting()) == ["220-mail.example.com ESMTP", "220 second line"]
    assert lines(player.answer("ehlo me")) == ["250-mail.example.com", "250 STARTTLS"]
    player.answer("STARTTLS")
    player.answer("MAIL FROM:<a@example.com>")
    wrong = lines(player.answer("RCPT TO:<carol@example.com>"))
    assert wrong == [
        "503 5.5.1 expected RCPT TO:<bob@example.com>, got RCPT TO:<carol@example.com> "
        "(replay of test-cassette)"
    ]
    assert lines(player.answer("RCPT TO:<bob@example.com>")) == ["250 ok"]  # it waited


def test_starttls_is_refused_and_the_cassette_goes_on_in_clear() -> None:
    player = Player(SMTP)
    player.greeting()
    player.answer("EHLO me")
    assert lines(player.answer("STARTTLS"))[0].startswith("454 4.7.0 TLS cannot be replayed")
    assert lines(player.answer("MAIL FROM:<a@example.com>")) == ["250 ok"]


def test_message_text_is_taken_as_it_comes_until_the_dot() -> None:
    player = Player(SMTP)
    player.greeting()
    for line in ("EHLO me", "STARTTLS", "MAIL FROM:<a@example.com>", "RCPT TO:<bob@example.com>"):
        player.answer(line)
    assert lines(player.answer("DATA")) == ["354 go on"]
    assert lines(player.answer("Subject: something else")) == []
    assert lines(player.answer("QUIT")) == []  # message text, not a command
    assert lines(player.answer(".")) == ["250 queued"]


def test_after_the_end_quit_closes_and_anything_else_is_refused() -> None:
    player = Player(cassette("pop3", ("s", "+OK hi")))
    player.greeting()
    assert lines(player.answer("STAT")) == [
        "-ERR the cassette has ended: expected QUIT, got STAT (replay of test-cassette)"
    ]
    end = player.answer("quit")
    assert end.close and lines(end)[0].startswith("+OK")


def test_a_mismatch_never_echoes_a_secret() -> None:
    player = Player(cassette("pop3", ("s", "+OK"), ("c", "USER me"), ("s", "+OK")))
    player.greeting()
    assert "hunter2" not in lines(player.answer("PASS hunter2"))[0]
    assert masked("AUTH PLAIN AGFsaWNl") == "AUTH PLAIN ***"
    assert masked("APOP me c4c9334bac560ecc979e58001b3e22fb") == "APOP me ***"


def test_shipped_cassettes_load_and_are_found_by_short_name() -> None:
    assert set(shipped()) >= {"exchange2003-smtp", "exchange2003-pop3", "mdaemon-smtp"}
    for name in shipped():
        assert load(name).events
    assert find("exchange2003", "pop3").name == "exchange2003-pop3.jsonl"
    assert load("exchange2003", "smtp").protocol == "smtp"
    with pytest.raises(CassetteError, match=r"no cassette file 'nope'.*exchange2003-smtp"):
        load("nope", "smtp")


def test_a_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "damaged.jsonl"
    path.write_text(dump(SMTP).replace('"dir": "c"', '"dir": "x"', 1))
    with pytest.raises(CassetteError, match=rf"{path}, line 5: \"dir\" must be"):
        load(str(path))
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(CassetteError, match="cannot be read"):
        load(str(path))


def test_only_loopback() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        ReplayServer(SMTP, host="0.0.0.0")


def test_smtplib_gets_the_recorded_replies_from_the_start_each_time() -> None:
    with ReplayServer(load("exchange2003", "smtp")) as server:
        for _ in range(2):
            with smtplib.SMTP(server.host, server.port, timeout=30) as client:
                assert client.ehlo("me")[0] == 503
                assert client.helo("mycomputer.mydomain.com") == (
                    250,
                    b"mail.mydomain.com Hello []",
                )
                assert client.docmd("MAIL", "FROM:<me@mydomain.com>")[0] == 250
                wrong = client.docmd("RCPT", "TO:<bob@example.com>")
                assert wrong[0] == 503 and b"expected RCPT TO: you@yourdomain.com" in wrong[1]
                assert client.docmd("RCPT", "TO:<you@yourdomain.com>")[0] == 250
                code, text = client.data(b"Subject: hi\r\n\r\nanything\r\n")
                assert (code, text.split()[0]) == (250, b"2.6.0")


def test_poplib_logs_in_with_any_password() -> None:
    with ReplayServer(load("exchange2003", "pop3")) as server:
        client = poplib.POP3(server.host, server.port, timeout=30)
        assert client.getwelcome() == b"+OK Hello there."
        assert client.user("me@mydomain.com") == b"+OK Password required."
        assert client.pass_("anything at all") == b"+OK User successfully logged on."
        assert client.quit().endswith(b"signing off.")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_sends_through_a_replay(tmp_path: Path) -> None:
    mdaemon = load("mdaemon-smtp")
    message = tmp_path / "m.txt"
    message.write_text("Subject: hi\r\n\r\nhello\r\n")
    with ReplayServer(mdaemon) as server:
        done = subprocess.run(
            ["curl", "-sS", f"smtp://{server.host}:{server.port}/local.domain.name",
             "--mail-from", "mail@domain.ext", "--mail-rcpt", "mail@destinationdomain.ext",
             "-T", str(message), "-v"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert "250 2.0.0 OK Message saved for delivery" in done.stderr, done.stderr


def test_timing_keeps_the_recorded_delays_when_asked() -> None:
    slow = parse(dump(cassette("pop3", ("s", "+OK hi"), ("c", "NOOP"), ("s", "+OK"), t=0.4)))
    with ReplayServer(slow, timing=True) as server:
        client = poplib.POP3(server.host, server.port, timeout=30)
        started = time.monotonic()
        assert client.noop() == b"+OK"
        assert time.monotonic() - started >= 0.35  # a lower bound only: never an upper one
        client.close()

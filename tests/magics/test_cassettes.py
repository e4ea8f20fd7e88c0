# What this module does: tests of `open --replay` and `open --record` (mailmagic/magics/
# cassettes.py) through a real shell: every shipped cassette (the seed walkthroughs) replays its
# commands through the real magic with the recorded replies; a replay says so in the session's view
# and stops with its session; a command the cassette does not hold gets a 503 naming what it
# expected; misuse (a host with --replay, an unknown name, the other protocol's cassette, a damaged
# file, a recording over an existing file) is a UsageError; and a lab session recorded with
# --record replays with the same replies.
from __future__ import annotations

import socket
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from mailmagic.lab.replay import ReplayServer, load, shipped
from mailmagic.magics.smtp import SMTPMagic
from mailmagic.protocol.cassette import Cassette
from tests.magics.shell import Shell


def exchanges(cassette: Cassette) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The greeting, then each client line with the server lines recorded after it."""
    greeting: list[str] = []
    steps: list[tuple[str, list[str]]] = []
    for event in cassette.events:
        if event.dir == "c":
            steps.append((event.line.replace("***", "a-password"), []))
        elif event.dir == "s":
            (steps[-1][1] if steps else greeting).append(event.line)
    return greeting, steps


def reply_lines(view: object) -> list[str]:
    reply = getattr(view, "reply", None)
    return [] if reply is None else reply.raw.decode().removesuffix("\r\n").split("\r\n")


@pytest.mark.parametrize("name", sorted(shipped()))
def test_each_seed_replays_with_the_recorded_replies(ip: Shell, name: str) -> None:
    cassette = load(name)
    magic = cassette.protocol
    greeting, steps = exchanges(cassette)
    assert reply_lines(ip.line(magic, f"open --replay {name}")) == greeting
    for line, recorded in steps:
        assert reply_lines(ip.line(magic, line or "--")) == recorded, line
    if steps[-1][0].upper() == "QUIT":  # exchange2000's excerpt ends before QUIT
        assert "closed" in ip.line(magic, "status").as_text()


def test_short_name_status_and_mismatch(ip: Shell) -> None:
    ip.line("smtp", "open --replay exchange2003")
    status = ip.line("smtp", "status").as_text()
    assert "a replay of the cassette exchange2003-smtp, not a live server" in status
    vrfy = ip.line("smtp", "VRFY bob")
    assert vrfy.code == 503
    assert "expected HELO mycomputer.mydomain.com, got VRFY bob" in vrfy.reply.raw.decode()
    assert ip.line("smtp", "HELO mycomputer.mydomain.com").code == 250


def test_the_replay_server_stops_with_its_session(ip: Shell) -> None:
    ip.line("pop3", "open --replay exchange2003 --name old")
    port = ip.line("pop3", "status old").session.settings.port
    ip.line("pop3", "reconnect old")  # each connection replays from the start
    assert ip.line("pop3", "USER me@mydomain.com").reply.ok
    ip.line("pop3", "open --replay exchange2003 --name old")  # replaced: its server stops
    refused(port)
    port = ip.line("pop3", "status old").session.settings.port
    ip.line("pop3", "close old")
    refused(port)


def refused(port: int) -> None:
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=30):
        pass


@pytest.mark.parametrize(
    ("magic", "line", "message"),
    [
        ("smtp", "open mail.example.com 25 --replay exchange2003", "give no host, port"),
        ("smtp", "open --replay exchange2003 --tls", "give no host, port, --tls"),
        ("pop3", "open --replay mdaemon", r"no cassette file 'mdaemon'.*mdaemon-smtp"),
        ("pop3", "open --replay exchange2003-smtp", "the cassette is SMTP, not POP3"),
    ],
)
def test_misuse_is_a_usage_error(ip: Shell, magic: str, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        ip.line(magic, line)


def test_a_damaged_cassette_is_a_usage_error(ip: Shell, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"mailmagic-cassette": 1, "protocol": "smtp"}\n')
    with pytest.raises(UsageError, match=r'bad.jsonl, line 1: the field "server" is missing'):
        ip.line("smtp", f"open --replay {path}")


def test_help_lists_the_shipped_cassettes(ip: Shell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.line("smtp", "open --help")
    out = capsys.readouterr().out
    assert "--replay" in out and "exchange2003" in out and "--record" in out


def test_record_a_lab_session_then_replay_it(lab_ip: Shell, tmp_path: Path) -> None:
    path = tmp_path / "lab.jsonl"
    lab_ip.line("smtp", f"open --record {path}")
    live = [reply_lines(lab_ip.line("smtp", line)) for line in ("EHLO me", "NOOP", "QUIT")]
    lab_ip.line("smtp", f"open --replay {path}")
    again = [reply_lines(lab_ip.line("smtp", line)) for line in ("EHLO me", "NOOP", "QUIT")]
    assert again == live
    with pytest.raises(UsageError, match="exists: a recording never overwrites"):
        lab_ip.line("smtp", f"open --record {path}")


def test_a_replay_server_stops_when_its_session_cannot_be_made(
    ip: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[ReplayServer] = []
    start = ReplayServer.start

    def recorded(server: ReplayServer) -> tuple[str, int]:
        started.append(server)
        return start(server)

    def failing(*args: object) -> None:
        raise RuntimeError("no session (test)")

    monkeypatch.setattr(ReplayServer, "start", recorded)
    monkeypatch.setattr(SMTPMagic, "_new_session", failing)
    with pytest.raises(RuntimeError, match="no session"):
        ip.line("smtp", "open --replay exchange2003")
    (server,) = started
    assert not server.running
    refused(server.port)

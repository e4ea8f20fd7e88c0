# What this module does: tests of the `pipeline` cell word (mailmagic/magics/pipeline.py) through a
# real shell and the real lab server: every command of the cell goes out before the first reply
# comes back, replies in order; refused (nothing sent) until the server advertised PIPELINING in
# EHLO or CAPA, and for commands that cannot be pipelined or may only come last (RFC 2920 3.1).
from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from mailmagic.session.transcript import Entry
from tests.magics.shell import S250_OK, S354_START_INPUT, Shell

RCPTS = [f"RCPT TO:<u{n}@lab.test>" for n in range(5)]


def _wire(ip: Shell, magic: str) -> list[Entry]:
    """The session's transcript without notes."""
    entries = ip.line(magic, "transcript").transcript.entries
    return [e for e in entries if e.direction != "note"]


def _sent_before_first_reply(entries: list[Entry]) -> int:
    first = next(i for i, e in enumerate(entries) if e.direction == "server")
    return sum(e.direction == "client" for e in entries[:first])


def test_smtp_pipeline_sends_everything_then_reads_the_replies_in_order(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    before = len(_wire(lab_ip, "smtp"))
    lines = ["MAIL FROM:<me@lab.test>", "RCPT TO:<alice@lab.test>", *RCPTS, "DATA"]
    result = lab_ip.cell("smtp", "pipeline", "\n".join(lines) + "  # the last one\n")
    batch = _wire(lab_ip, "smtp")[before:]
    assert _sent_before_first_reply(batch) == len(lines)
    assert [x.command for x in result] == lines
    assert [r.code for r in result.replies] == [S250_OK, S250_OK, *[550] * 5, S354_START_INPUT]
    assert [f"<u{n}@lab.test>" in r.text for n, r in enumerate(result.replies[2:-1])] == [True] * 5
    lab_ip.line("smtp", "Subject: pipelined")
    assert lab_ip.line("smtp", ".").code == S250_OK


def test_smtp_pipeline_needs_pipelining_advertised(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "HELO me")  # HELO: no extensions
    before = len(_wire(lab_ip, "smtp"))
    with pytest.raises(UsageError, match="not advertised PIPELINING in this session's EHLO"):
        lab_ip.cell("smtp", "pipeline", "MAIL FROM:<me@lab.test>\nRCPT TO:<alice@lab.test>\n")
    assert len(_wire(lab_ip, "smtp")) == before


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("NOOP\nMAIL FROM:<me@lab.test>", "NOOP may only be the last command"),
        ("MAIL FROM:<me@lab.test>\nDATA\nRSET", "DATA may only be the last command"),
        ("STARTTLS", "STARTTLS changes how the next lines are read"),
        ("# only a comment\n\n", "the cell has no command"),
    ],
)
def test_smtp_pipeline_refuses_what_cannot_be_batched(
    lab_ip: Shell, cell: str, message: str
) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    before = len(_wire(lab_ip, "smtp"))
    with pytest.raises(UsageError, match=message):
        lab_ip.cell("smtp", "pipeline", cell)
    assert len(_wire(lab_ip, "smtp")) == before


def test_pipeline_on_a_closed_session_says_so(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "QUIT")
    with pytest.raises(UsageError, match="'default' is closed; reconnect it"):
        lab_ip.cell("smtp", "pipeline", "NOOP")


def test_pop3_pipeline_after_capa(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    lab_ip.cell("smtp", "pipeline", "MAIL FROM:<me@lab.test>\nRCPT TO:<bob@lab.test>\nDATA")
    lab_ip.line("smtp", "Subject: one")
    lab_ip.line("smtp", ".")
    lab_ip.line("pop3", "open")
    with pytest.raises(UsageError, match="not advertised PIPELINING in this session's CAPA"):
        lab_ip.cell("pop3", "pipeline", "STAT")
    lab_ip.line("pop3", "CAPA")
    lab_ip.line("pop3", "login bob")
    with pytest.raises(UsageError, match="QUIT may only be the last command"):
        lab_ip.cell("pop3", "pipeline", "QUIT\nSTAT")
    before = len(_wire(lab_ip, "pop3"))
    result = lab_ip.cell("pop3", "pipeline", "STAT\nLIST 1\nUIDL 1\nNOOP\nQUIT")
    assert _sent_before_first_reply(_wire(lab_ip, "pop3")[before:]) == 5
    assert [r.ok for r in result.replies] == [True] * 5
    assert result.replies[1].text.startswith("1 ")


def test_pipeline_is_a_word_of_both_magics(
    lab_ip: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    for magic in ("smtp", "pop3"):
        lab_ip.line(magic, "--help")
        assert f"%%{magic} pipeline [NAME]" in capsys.readouterr().out

# What this module does: tests of tab completion (mailmagic/magics/complete.py) through IPython's
# own completer in a real shell, with the real lab server: control words, a word's options and an
# option's choices, session names, the lab's listeners after `open lab`, the protocol verbs that
# make sense in the session's state (read from the transition table), message numbers the
# maildrop knows, and the lab's users; inside a %%smtp cell, the verbs that make sense once the
# lines above are sent. Runs the same under IPython 8.10 and 9.
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell

from mailmagic import load_ipython_extension, unload_ipython_extension

# Completer.complete is what terminals and `ip.complete` call; IPython says it may change one day.
pytestmark = pytest.mark.filterwarnings("ignore:`Completer.complete`:PendingDeprecationWarning")


@pytest.fixture
def shell(ipython_shell: InteractiveShell, tmp_path: Path) -> Iterator[InteractiveShell]:
    load_ipython_extension(ipython_shell)
    ipython_shell.run_line_magic("maillab", f"start --maildir {tmp_path / 'maildir'}")
    yield ipython_shell
    unload_ipython_extension(ipython_shell)


def offers(shell: InteractiveShell, line: str) -> list[str]:
    """What Tab offers at the end of ``line``, in order, as a terminal or a kernel asks."""
    _, matches = shell.Completer.complete(line_buffer=line, cursor_pos=len(line))
    return list(matches)


@pytest.mark.parametrize(
    ("line", "first"),
    [
        ("%smtp ", ["open", "close", "reconnect", "sessions", "use", "status", "transcript"]),
        ("%pop3 ", ["open", "close", "reconnect", "sessions", "use", "status", "transcript"]),
        ("%smtp op", ["open"]),
        ("%maillab ", ["start", "stop", "status"]),
        ("%maillab st", ["start", "stop", "status"]),
    ],
)
def test_control_words_without_a_session(
    shell: InteractiveShell, line: str, first: list[str]
) -> None:
    assert offers(shell, line)[: len(first)] == first


def test_the_helpers_of_each_magic(shell: InteractiveShell) -> None:
    assert {"login", "sendmail", "bulk"} <= set(offers(shell, "%smtp "))
    assert {"login", "mailbox", "fetch"} <= set(offers(shell, "%pop3 "))
    assert "sendmail" in offers(shell, "%%smtp ")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("%smtp open --", {"--name", "--tls", "--starttls", "--timeout", "--cafile", "--insecure"}),
        ("%pop3 login alice --", {"--apop", "--sasl", "--password-env"}),
        ("%smtp status --", {"--live"}),
        ("%maillab start --f", {"--fresh"}),
        ("%%smtp sendmail --", {"--from", "--to", "--cc", "--subject", "--attach"}),
        ("%%pop3 --", {"--expect", "--session", "--continue"}),
        ("%smtp --", {"--expect", "--session", "--timeout", "--continue"}),
    ],
)
def test_the_options_of_the_word_being_typed(
    shell: InteractiveShell, line: str, expected: set[str]
) -> None:
    assert expected <= set(offers(shell, line))


def test_an_option_s_choices(shell: InteractiveShell) -> None:
    assert offers(shell, "%pop3 fetch --format ") == ["maildir", "mbox"]
    assert offers(shell, "%smtp login alice --mechanism ")[:2] == ["PLAIN", "LOGIN"]


def test_lab_listeners_after_open_lab(shell: InteractiveShell) -> None:
    assert offers(shell, "%smtp open ") == ["lab"]
    assert offers(shell, "%smtp open lab ") == ["smtp", "submission", "smtps"]
    assert offers(shell, "%pop3 open lab ") == ["pop3", "pop3s"]
    assert offers(shell, "%pop3 open lab pop3s") == ["pop3s"]


def test_session_names(shell: InteractiveShell) -> None:
    shell.run_line_magic("smtp", "open")
    shell.run_line_magic("smtp", "open lab submission --name sub")
    assert offers(shell, "%smtp use ") == ["default", "sub"]
    assert offers(shell, "%smtp close s") == ["sub"]
    assert offers(shell, "%smtp --session ") == ["default", "sub"]
    assert offers(shell, "%smtp status sub --") == ["--help", "--live"]


def test_smtp_verbs_follow_the_session_s_state(shell: InteractiveShell) -> None:
    shell.run_line_magic("smtp", "open")
    assert offers(shell, "%smtp ")[:2] == ["EHLO", "HELO"]
    assert "MAIL FROM:" not in offers(shell, "%smtp ")
    shell.run_line_magic("smtp", "EHLO me")
    assert "MAIL FROM:" in offers(shell, "%smtp ")
    shell.run_line_magic("smtp", "MAIL FROM:<a@lab.test>")
    assert offers(shell, "%smtp ")[0] == "RCPT TO:"
    assert offers(shell, "%smtp RC") == ["RCPT TO:"]
    assert offers(shell, "%smtp rc") == ["RCPT TO:"]
    shell.run_line_magic("smtp", "RCPT TO:<bob@lab.test>")
    assert "DATA" in offers(shell, "%smtp ")
    shell.run_line_magic("smtp", "DATA")
    assert offers(shell, "%smtp ")[0] == "."  # message text: only the end of it is a command


def test_pop3_verbs_follow_the_session_s_state(shell: InteractiveShell) -> None:
    shell.run_line_magic("pop3", "open")
    authorization = offers(shell, "%pop3 ")
    assert authorization[:3] == ["USER", "APOP", "CAPA"] and "STAT" not in authorization
    shell.run_line_magic("pop3", "CAPA")
    assert {"STLS", "AUTH"} <= set(offers(shell, "%pop3 "))
    shell.run_line_magic("pop3", "login alice")
    transaction = offers(shell, "%pop3 ")
    assert transaction[:3] == ["STAT", "LIST", "RETR"] and "USER" not in transaction


def test_message_numbers_the_maildrop_knows(shell: InteractiveShell) -> None:
    shell.run_line_magic("smtp", "open")
    shell.run_line_magic("smtp", "EHLO me")
    shell.run_line_magic("smtp", "bulk --count 3 --from a@lab.test --to alice@lab.test")
    shell.run_line_magic("pop3", "open")
    shell.run_line_magic("pop3", "login alice")
    shell.run_line_magic("pop3", "STAT")
    for verb in ("RETR", "TOP", "DELE", "LIST", "UIDL"):
        assert offers(shell, f"%pop3 {verb} ") == ["1", "2", "3"], verb


def test_the_lab_s_users(shell: InteractiveShell) -> None:
    shell.run_line_magic("pop3", "open")
    assert offers(shell, "%pop3 USER ") == ["alice", "bob"]
    assert offers(shell, "%pop3 USER a") == ["alice"]
    shell.run_line_magic("smtp", "open")
    assert offers(shell, "%smtp VRFY ") == ["alice", "bob"]
    assert offers(shell, "%smtp EXPN ") == ["alice", "bob", "team"]


def in_cell(shell: InteractiveShell, text: str) -> list[str]:
    """What Tab offers at the end of ``text``, a whole cell, as a kernel asks (IPython sorts)."""
    with provisionalcompleter():
        return [c.text for c in shell.Completer.completions(text, len(text))]


def test_lines_inside_a_cell_follow_the_lines_before_them(shell: InteractiveShell) -> None:
    shell.run_line_magic("smtp", "open")
    assert "EHLO" in in_cell(shell, "%%smtp\n") and "MAIL FROM:" not in in_cell(shell, "%%smtp\n")
    cell = "%%smtp --continue\nEHLO me  # hello\nMAIL FROM:<a@lab.test>\n"
    assert "RCPT TO:" in in_cell(shell, cell) and "EHLO" in in_cell(shell, cell)
    assert in_cell(shell, cell + "RC") == ["RCPT TO:"]
    assert in_cell(shell, cell + "VRFY a") == ["alice"]
    shell.run_line_magic("pop3", "open")
    assert "STAT" in in_cell(shell, "%%pop3\nUSER alice\nPASS\n")
    assert in_cell(shell, "%%pop3\nUSER ") == ["alice", "bob"]
    assert "RCPT TO:" not in in_cell(shell, "x = 1\nRC")  # not our cell: Python as ever


def test_the_shipped_cassettes_after_replay(shell: InteractiveShell) -> None:
    assert {"exchange2003", "mdaemon"} <= set(offers(shell, "%smtp open --replay "))

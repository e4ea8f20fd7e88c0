# What this module does: tests of what the magics read around a protocol line
# (mailmagic/magics/options.py): the options before a raw line, --expect, comments never sent (a
# password least of all), and where a secret comes from (the lab, an environment variable, a
# prompt, or a UsageError when the kernel cannot prompt).
from __future__ import annotations

import getpass

import pytest
from IPython.core.error import StdinNotImplementedError, UsageError

from mailmagic.magics import ExpectFailed, split_options
from tests.magics.shell import S250_OK, S550_UNAVAILABLE, Shell, run


def test_expect_passes_and_fails(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    assert lab_ip.line("smtp", "--expect 2xx NOOP").code == S250_OK
    with pytest.raises(ExpectFailed, match="expected 5xx, got 250"):
        lab_ip.line("smtp", "--expect 5xx NOOP")
    lab_ip.line("smtp", "HELO me")
    lab_ip.line("smtp", "MAIL FROM:<a@b.c>")
    assert lab_ip.line("smtp", "--expect 550 RCPT TO:<x@elsewhere.org>").code == S550_UNAVAILABLE
    with pytest.raises(UsageError, match="not a reply pattern"):
        lab_ip.line("smtp", "--expect 2yy NOOP")


def test_password_from_the_environment(ip: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    ip.line("maillab", f"start --maildir {ip.maildir} --user carol:s3cret-from-env")
    monkeypatch.setenv("CAROL_PASSWORD", "s3cret-from-env")
    ip.line("pop3", "open")
    assert ip.line("pop3", "login carol --password-env CAROL_PASSWORD").ok


def test_prompt_when_the_server_is_not_the_lab(
    lab_ip: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = lab_ip.line("maillab").endpoints
    lab_ip.line("pop3", f"open 127.0.0.1 {endpoints.pop3}")
    monkeypatch.setattr(getpass, "getpass", lambda prompt: "alice-password")
    lab_ip.line("pop3", "USER alice")
    assert lab_ip.line("pop3", "PASS").ok

    def cannot_prompt(prompt: str) -> str:
        raise StdinNotImplementedError("no stdin")

    lab_ip.line("pop3", f"open 127.0.0.1 {endpoints.pop3} --name other")
    lab_ip.line("pop3", "USER bob")
    monkeypatch.setattr(getpass, "getpass", cannot_prompt)
    with pytest.raises(UsageError, match=r"cannot prompt.*--password-env"):
        lab_ip.line("pop3", "PASS")


@pytest.mark.parametrize(
    ("line", "options", "rest"),
    [
        ("NOOP", {}, "NOOP"),
        ("--expect 250 MAIL FROM:<a@b>", {"expect": "250"}, "MAIL FROM:<a@b>"),
        ("--session s2 --timeout 3 RSET", {"session": "s2", "timeout": "3"}, "RSET"),
        ("-- --expect", {"raw": "yes"}, "--expect"),
        ("--expect 2xx -- open", {"expect": "2xx", "raw": "yes"}, "open"),
        ("--continue", {"continue": "yes"}, ""),
    ],
)
def test_split_options(line: str, options: dict[str, str], rest: str) -> None:
    assert split_options(line) == (options, rest)


def test_comments_are_never_sent(lab_ip: Shell, capsys: pytest.CaptureFixture[str]) -> None:
    shell = lab_ip.shell
    run(shell, "%pop3 open  # the lab\n%pop3 USER alice   # a comment", capsys)
    result, _ = run(shell, "r = %pop3 PASS  # no secret here: the lab's user", capsys)
    assert result.success and shell.user_ns["r"].ok and shell.user_ns["r"].command == "PASS ***"
    run(shell, "%smtp open\n%smtp HELO me # who I am\n%smtp --expect 250 NOOP  # ok?", capsys)
    cell = "# a comment line\nMAIL FROM:<me@lab.test>  # sender\nRCPT TO:<bob@lab.test> # to\n"
    cell += "DATA  # the text follows\n"
    cell += "Subject: # kept\n\n# kept too\nnot #a note\n.\n"
    result, printed = run(shell, "%%smtp  # a cell\n" + cell, capsys)
    assert result.success and "UsageError" not in printed
    sent = lab_ip.line("smtp", "transcript").as_text() + lab_ip.line("pop3", "transcript").as_text()
    assert "comment" not in sent and "who I am" not in sent and "no secret" not in sent
    assert "C: HELO me\n" in sent + "\n" and "C: MAIL FROM:<me@lab.test>\n" in sent
    assert lab_ip.line("smtp", "-- NOOP # sent as typed").command == "NOOP # sent as typed"
    assert lab_ip.line("smtp", "NOOP issue #5  # a word with # in it stays").command == (
        "NOOP issue #5"
    )
    lab_ip.line("pop3", "open --name bob")
    lab_ip.line("pop3", "login bob")
    body = lab_ip.line("pop3", "RETR 1").body
    assert body.endswith(b"Subject: # kept\r\n\r\n# kept too\r\nnot #a note\r\n")

# What this module does: tests of %smtp's own words (mailmagic/magics/smtp.py) through a real
# shell and the real lab server: login, sendmail (attachments too, and no CR/LF smuggled into a
# header), message text after DATA line by line, and the note on command-like lines inside DATA;
# `open --mx DOMAIN` against a DNS server on loopback (tests/session/dns_server.py) set through
# `%config SMTPMagic.nameservers`: the MX table above the greeting, the first host down and the next
# answering, none answering, and its misuse (with a HOST, in %pop3, a null MX, a bad setting).
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from mailmagic.display.message import MessageView
from mailmagic.display.mx import MxReplyView
from mailmagic.magics.smtp import SMTP
from mailmagic.mail.decode import payload_bytes
from tests.magics.shell import S220_READY, S250_OK, S354_START_INPUT, Shell
from tests.session.dns_server import dns_server


def test_smtp_login_and_sendmail(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open lab submission")
    lab_ip.line("smtp", "EHLO me")
    assert lab_ip.line("smtp", "login alice").code == 235
    sent = lab_ip.cell(
        "smtp", "sendmail --from alice@lab.test --to bob@lab.test --subject Hi", "Hello Bob\n.\n"
    )
    assert [r.code for r in sent.replies] == [250, 250, 354, 250]
    assert "alice-password" not in lab_ip.line("smtp", "transcript").as_text()


def test_data_lines_one_by_one_including_the_blank_line(lab_ip: Shell) -> None:
    lab_ip.line("smtp", "open")
    for line in ("HELO me", "MAIL FROM:<me@lab.test>", "RCPT TO:<bob@lab.test>", "DATA"):
        lab_ip.line("smtp", line)
    assert lab_ip.line("smtp", "Subject: one by one").reply is None
    assert lab_ip.line("smtp", "--").command == ""  # the blank line between headers and body
    stuffed = lab_ip.line("smtp", "..a line that starts with a dot")
    assert stuffed.warning is None and stuffed.reply is None
    assert lab_ip.line("smtp", ".").code == S250_OK
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "login bob")
    body = lab_ip.line("pop3", "RETR 1").body
    assert body.endswith(b"Subject: one by one\r\n\r\n.a line that starts with a dot\r\n")


@pytest.mark.parametrize("option", ["--subject", "--to", "--from", "--cc"])
@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_sendmail_refuses_line_breaks_in_its_options(
    lab_ip: Shell, option: str, newline: str
) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    values = {"--from": "m@lab.test", "--to": "bob@lab.test", "--cc": "bob@lab.test"}
    values["--subject"] = "Hi"
    values[option] += f"{newline}Bcc: alice@lab.test"
    line = "sendmail " + " ".join(f'{name} "{value}"' for name, value in values.items())
    with pytest.raises(UsageError, match=rf"{option} contains a line break.*on one line"):
        lab_ip.cell("smtp", line, "Hello\n")
    assert "MAIL FROM" not in lab_ip.line("smtp", "transcript").as_text()  # nothing was sent


@pytest.mark.parametrize("line", ["QUIT", "rset", "MAIL FROM:<a@lab.test>", "EHLO me", "NOOP"])
def test_a_command_inside_message_text_gets_a_note(lab_ip: Shell, line: str) -> None:
    lab_ip.line("smtp", "open")
    lab_ip.cell("smtp", "", "HELO me\nMAIL FROM:<a@lab.test>\nRCPT TO:<bob@lab.test>\nDATA\n")
    assert lab_ip.line("smtp", "Subject: hello").warning is None
    typed = lab_ip.line("smtp", line)
    assert typed.reply is None and "end the message with a line holding '.'" in (
        typed.warning or ""
    )
    assert lab_ip.line("smtp", "Quit smoking today, she said.").warning is None
    assert lab_ip.line("smtp", ".").code == S250_OK


def test_sendmail_attaches_files(lab_ip: Shell, tmp_path: Path) -> None:
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    lab_ip.line("smtp", "open")
    lab_ip.line("smtp", "EHLO me")
    line = f"sendmail --from a@lab.test --to bob@lab.test --attach {report} --attach {logo}"
    sent = lab_ip.cell("smtp", line, "See attached.\n")
    assert [r.code for r in sent.replies] == [250, 250, S354_START_INPUT, 250]
    assert sent.note == "attached: report.csv, logo.png"
    assert "Reply(" not in sent.as_text() and "report.csv" in sent.as_text()
    with pytest.raises(UsageError, match=r"--attach missing\.pdf: no such file"):
        lab_ip.cell("smtp", "sendmail --from a@lab.test --to b@lab.test --attach missing.pdf", "x")
    lab_ip.line("pop3", "open")
    lab_ip.line("pop3", "login bob")
    message = MessageView(lab_ip.line("pop3", "RETR 1").body)
    assert [(a.name, a.content_type) for a in message.attachments] == [
        ("report.csv", "text/csv"),
        ("logo.png", "image/png"),
    ]
    assert payload_of(message.attachments[1]) == logo.read_bytes()


def payload_of(attachment: Any) -> bytes:
    return payload_bytes(attachment.part)


MX_ZONE = """
mail.test.       60 IN MX 20 up.mail.test.
mail.test.       60 IN MX 10 down.mail.test.
down.mail.test.  60 IN A 127.0.0.2
up.mail.test.    60 IN A 127.0.0.1
dead.test.       60 IN MX 10 down.mail.test.
nomail.test.     60 IN MX 0 .
"""


@pytest.fixture
def mx_ip(lab_ip: Shell) -> Iterator[Shell]:
    """The shell with SMTPMagic.nameservers pointing at MX_ZONE served on loopback."""
    with dns_server(MX_ZONE) as nameserver:
        lab_ip.shell.run_line_magic("config", f"SMTPMagic.nameservers = [{nameserver!r}]")
        yield lab_ip
        lab_ip.shell.run_line_magic("config", "SMTPMagic.nameservers = []")


def test_open_mx_opens_the_first_host_that_answers(mx_ip: Shell) -> None:
    port = mx_ip.line("maillab").endpoints.smtp
    opened = mx_ip.line("smtp", f"open --mx mail.test --mx-port {port}  # where mail goes")
    assert isinstance(opened, MxReplyView) and opened.code == S220_READY
    assert [h.host for h in opened.mx.lookup.hosts] == ["down.mail.test", "up.mail.test"]
    text = opened.as_text()
    assert text.index("MX of mail.test") < text.index("down.mail.test") < text.index("S: 220")
    assert "127.0.0.2: Connection refused" in text and "127.0.0.1: answered" in text
    assert "up.mail.test" in opened.as_html() and "default" in opened.as_html()
    assert mx_ip.line("smtp", "EHLO me").code == S250_OK  # the session is the current one
    assert f"up.mail.test:{port}" in mx_ip.line("smtp", "status").as_text()


def test_open_mx_with_none_answering_names_each_host(mx_ip: Shell) -> None:
    port = mx_ip.line("maillab").endpoints.smtp
    with pytest.raises(UsageError, match=r"no mail server of dead.test answered:\n.*down.mail"):
        mx_ip.line("smtp", f"open --mx dead.test --mx-port {port}")


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("open --mx nomail.test", r"nomail.test accepts no mail.*null MX"),
        ("open --mx nothere.test", r"nothere.test does not exist \(NXDOMAIN\)"),
        ("open mx.example.org --mx mail.test", r"--mx mail.test finds the host itself"),
        ("open --mx alice@mail.test", r"give a domain \(example.org\)"),
        ("open lab --mx-port 2525", r"--mx-port goes with --mx DOMAIN"),
    ],
)
def test_open_mx_misuse_says_what_to_do(mx_ip: Shell, line: str, said: str) -> None:
    with pytest.raises(UsageError, match=said):
        mx_ip.line("smtp", line)


def test_a_bad_nameserver_setting_is_a_usage_error(lab_ip: Shell) -> None:
    lab_ip.shell.run_line_magic("config", "SMTPMagic.nameservers = ['ns.example.org']")
    try:
        with pytest.raises(UsageError, match=r"'ns.example.org' is not an IP address"):
            lab_ip.line("smtp", "open --mx mail.test")
    finally:
        lab_ip.shell.run_line_magic("config", "SMTPMagic.nameservers = []")


def test_mx_is_an_smtp_option_of_the_shared_open_word(lab_ip: Shell) -> None:
    assert {"--mx", "--mx-port", "--name", "--starttls"} <= set(SMTP["open"].options("smtp"))
    assert SMTP.names()[0] == "open"  # it keeps its place in the listing
    with pytest.raises(UsageError, match=r"unrecognized arguments: --mx"):
        lab_ip.line("pop3", "open --mx mail.test")
